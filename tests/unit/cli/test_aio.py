"""objstore-aio's command line without a whole cluster: messages for every
mistake a user can make (one line, no traceback), stale pid files, reset's
safety, the banner, node names, and --foreground's log copying and Ctrl-C.
The whole cluster is in tests/functional/test_aio.py."""

import os
import signal

import pytest

from objstore.cli import aio, catalog, layout, procs

ROOT = procs.PACKAGE_ROOT
TICK = catalog.Program("tick-daemon", "echo", ("tests.unit.cli.tick_daemon",), "echo")


@pytest.fixture
def run(capsys):
    """``run(*argv) -> (code, stdout lines, stderr)``."""

    def run(*argv):
        lines = []
        code = aio.main(list(argv), out=lines.append)
        err = capsys.readouterr().err
        assert "Traceback" not in err
        return code, "\n".join(lines), err

    return run


def set_up(data_dir, **settings):
    """An all-in-one data dir as start leaves it, without starting anything."""
    settings = layout.Settings(str(data_dir), **settings)
    cluster = aio.Cluster(settings, catalog.available(), lambda line: None)
    cluster.prepare()
    return cluster


def test_commands_on_a_dir_never_set_up(run, tmp_path):
    code, out, err = run("status", "--data-dir", str(tmp_path))
    assert code == 3 and "no all-in-one in %s" % tmp_path in out
    for command in (["stop"], ["once"], ["kill", "1"], ["revive", "1"]):
        code, out, err = run(*command, "--data-dir", str(tmp_path))
        assert code == 1 and err.count("\n") == 1 and "objstore-aio start" in err


def test_bad_start_options_are_one_line(run, tmp_path):
    code, _, err = run("start", "--data-dir", str(tmp_path / "d"), "--nodes", "2", "--replicas", "3")
    assert code == 1 and err == "objstore-aio: --replicas must be between 1 and --nodes (2), got 3\n"
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = run("start", "--data-dir", str(blocker / "data"))
    assert code == 1 and err.startswith("objstore-aio: cannot create data dir %s" % (blocker / "data"))


def test_recorded_layout_cannot_change_under_data(run, tmp_path):
    set_up(tmp_path, base_port=7000)
    code, _, err = run("start", "--data-dir", str(tmp_path), "--base-port", "7100")
    assert code == 1 and "was set up with --base-port 7000" in err and "reset" in err


def free_base(count=12):
    for base in range(21000, 32000, 97):
        if all(procs.port_free("127.0.0.1", port) for port in range(base, base + count)):
            return base
    raise AssertionError("no free port range")


def test_port_in_use_starts_nothing(run, tmp_path, listen_socket):
    taken = listen_socket().getsockname()[1]
    code, _, err = run("start", "--data-dir", str(tmp_path), "--port", str(taken), "--base-port", str(free_base()))
    assert code == 1 and err == (
        "objstore-aio: port %d (for proxy-server) is already in use; choose another with --port "
        "or stop what uses it\n" % taken)
    assert os.listdir(tmp_path / "run") == [] if (tmp_path / "run").exists() else True


def test_stale_pid_files_are_reported_and_removed(run, tmp_path):
    cluster = set_up(tmp_path, nodes=1, replicas=1)
    proxy = [proc for proc in cluster.procs if proc.name == "proxy-server"][0]
    procs.write_pid(proxy.pid_file, os.getpid())  # alive, but not one of ours
    code, out, _ = run("status", "--data-dir", str(tmp_path))
    assert code == 3
    assert [line for line in out.splitlines() if line.startswith("proxy-server ")][0].endswith("stale pid file")
    code, out, _ = run("stop", "--data-dir", str(tmp_path))
    assert code == 0 and "removed stale pid file of proxy-server (pid %d is not running)" % os.getpid() in out
    assert "not running" in out and not os.path.exists(proxy.pid_file)


def test_reset_is_careful(run, tmp_path, monkeypatch):
    stranger = tmp_path / "home"
    stranger.mkdir()
    (stranger / "thesis.tex").write_text("precious")
    code, _, err = run("reset", "--yes", "--data-dir", str(stranger))
    assert code == 1 and "does not look like an all-in-one data dir" in err
    assert (stranger / "thesis.tex").exists()
    data = tmp_path / "data"
    set_up(data, nodes=1, replicas=1)
    monkeypatch.setattr("sys.stdin", open(os.devnull))
    code, _, err = run("reset", "--data-dir", str(data))
    assert code == 1 and "confirm with --yes" in err and data.exists()
    code, out, _ = run("reset", "--yes", "--data-dir", str(data))
    assert code == 0 and not data.exists()
    assert run("reset", "--yes", "--data-dir", str(data))[0] == 0  # nothing left to reset


def test_once_names_daemons_it_knows(run, tmp_path):
    set_up(tmp_path, nodes=1, replicas=1)
    code, _, err = run("once", "object-teleporter", "--data-dir", str(tmp_path))
    assert code == 1 and "unknown server or daemon 'object-teleporter'" in err
    code, _, err = run("once", "proxy-server", "--data-dir", str(tmp_path))
    assert code == 1 and "proxy-server" in err


def test_nodes_and_processes_by_name(tmp_path):
    cluster = set_up(tmp_path, nodes=2, replicas=2)
    names = [proc.name for proc in cluster.find("2")]
    assert names == [proc.name for proc in cluster.find("node2")]
    assert set(names) == {"%s-server-2" % kind for kind in ("account", "container", "object")} & {
        proc.name for proc in cluster.procs}
    assert [proc.name for proc in cluster.find("proxy-server")] == ["proxy-server"]
    with pytest.raises(aio.ConfigError) as err:
        cluster.find("3")
    assert "nodes are 1-2" in str(err.value)


def test_banner_gives_working_commands():
    settings = layout.Settings("/tmp/x", port=8081)
    args = aio.build_parser().parse_args(["start", "--data-dir", "/tmp/x"])
    text = aio.banner(settings, 25, ("http://127.0.0.1:8081/v1/AUTH_test", "tok"), args)
    assert "curl -i -H 'X-Auth-User: test:tester' -H 'X-Auth-Key: testing' http://127.0.0.1:8081/auth/v1.0" in text
    assert "swift -A http://127.0.0.1:8081/auth/v1.0 -U test:tester -K testing stat" in text
    assert " stop --data-dir /tmp/x" in text


def test_foreground_copies_logs_and_ctrl_c_stops_all(tmp_path):
    conf = tmp_path / "echo.conf"
    conf.write_text("[tick-daemon]\ndevices = %s\ninterval = 0.2\njitter = 0\n" % (tmp_path / "dev"))
    proc = layout.Proc("tick-daemon-1", TICK, 1, None, str(conf), str(tmp_path / "run" / "t.pid"),
                       str(tmp_path / "logs" / "t.log"))
    child = procs.spawn(procs.python_argv(TICK.modules[0], conf), log_path=proc.log_file,
                        env=procs.child_env(), cwd=ROOT)
    procs.write_pid(proc.pid_file, child.pid)
    lines = []

    def out(line):
        lines.append(line)
        if line.startswith("tick-daemon-1 | ") and "pass done" in line:
            os.kill(os.getpid(), signal.SIGINT)  # as Ctrl-C would

    cluster = aio.Cluster(layout.Settings(str(tmp_path)), [], out)
    cluster.procs = [proc]
    assert aio.follow(cluster, {proc.log_file: 0}, poll=0.05) == 0
    assert lines[-2:] == ["stopping...", "stopped 1 processes"]
    assert not procs.alive(child.pid) and not os.path.exists(proc.pid_file)


def test_copy_new_takes_whole_lines_only(tmp_path):
    log = tmp_path / "x.log"
    log.write_bytes(b"one\ntw")
    proc = layout.Proc("x", TICK, None, None, "", "", str(log))
    lines = []
    offset = aio._copy_new(proc, 0, 3, lines.append)
    assert lines == ["x   | one"] and offset == 4
    with open(log, "ab") as handle:
        handle.write(b"o\n")
    assert aio._copy_new(proc, offset, 3, lines.append) == 8 and lines[-1] == "x   | two"


# --- --with-compute ------------------------------------------------------------------
def test_compute_port_is_the_next_free_one_after_the_proxys():
    settings = layout.Settings("/tmp/x", port=8080, base_port=8081, nodes=1)  # storage on 8081-8083
    assert layout.next_free_port(settings, lambda port: True) == 8084
    assert layout.next_free_port(settings, lambda port: port != 8084) == 8085
    with pytest.raises(aio.ConfigError):
        layout.next_free_port(layout.Settings("/tmp/x", port=65535), lambda port: True)


def test_with_compute_is_recorded_and_kept(tmp_path):
    parse = aio.build_parser().parse_args
    data = ["--data-dir", str(tmp_path)]
    first = aio._compute_choice(layout.Settings(str(tmp_path), port=9000, base_port=9001, nodes=1),
                                parse(["start", "--with-compute"] + data), is_free=lambda port: True)
    assert (first.compute, first.compute_port, first.libvirt_uri) == (True, 9004, "test:///default")
    layout.save_settings(first)
    again = aio._compute_choice(layout.load_settings(str(tmp_path)), parse(["start"] + data),
                                is_free=lambda port: False)  # the recorded port is kept, not searched again
    assert again == first
    off = aio._compute_choice(again, parse(["start", "--without-compute"] + data))
    assert off.compute is False
    uri = aio._compute_choice(first, parse(["start", "--libvirt-uri", "qemu:///embed?root=/r"] + data))
    assert uri.libvirt_uri == "qemu:///embed?root=/r" and uri.compute_port == 9004


def test_with_compute_runs_the_api_from_a_valid_config(tmp_path):
    from objstore.common.config import load_section, read_ini
    from objstore.compute.config import ComputeApiConfig, ComputeConfig

    cluster = set_up(tmp_path, nodes=1, replicas=1, port=9000, compute=True, compute_port=9004)
    api = [proc for proc in cluster.procs if proc.program is catalog.COMPUTE_API]
    assert [(proc.name, proc.port) for proc in api] == [("compute-api", 9004)]
    assert cluster.procs[-1] is api[0]  # started last, stopped first
    conf = load_section(api[0].conf_file, "compute-api", ComputeApiConfig)
    assert (conf.bind_port, conf.objstore_url, conf.workers) == (9004, "http://127.0.0.1:9000", 0)
    compute = load_section(api[0].conf_file, "compute", ComputeConfig)
    assert compute.connection_uri == "test:///default" and compute.state_dir == str(tmp_path / "compute")
    assert not [name for name in read_ini(api[0].conf_file) if name.startswith("flavor:")]  # the defaults
    recorded = aio.Cluster.recorded(layout.load_settings(str(tmp_path)), lambda line: None)
    assert [proc.name for proc in recorded.find("compute-api")] == ["compute-api"]
    without = set_up(tmp_path / "plain", nodes=1, replicas=1)
    assert not os.path.exists(layout.conf_file(str(tmp_path / "plain"), catalog.COMPUTE_API, None))
    assert "compute-api" not in [proc.name for proc in without.procs]


def test_with_compute_without_libvirt_is_one_line(run, tmp_path, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "libvirt", None)  # import libvirt -> ImportError
    code, _, err = run("start", "--with-compute", "--data-dir", str(tmp_path), "--port", "9000")
    assert code == 1 and err.count("\n") == 1 and "run `make compute-deps`" in err
    assert not os.path.exists(tmp_path / "run")  # nothing was started


def test_banner_shows_the_compute_api():
    settings = layout.Settings("/tmp/x", port=8081, compute=True, compute_port=8082)
    args = aio.build_parser().parse_args(["start", "--data-dir", "/tmp/x"])
    text = aio.banner(settings, 26, ("http://127.0.0.1:8081/v1/AUTH_test", "tok"), args)
    assert "compute api    http://127.0.0.1:8082" in text
    assert ("objstore-compute --config /tmp/x/etc/compute.conf --auth http://127.0.0.1:8081/auth/v1.0 "
            "--user test:tester --key testing flavor-list") in text
    assert "compute" not in aio.banner(layout.Settings("/tmp/x"), 25, ("u", "t"), args)
