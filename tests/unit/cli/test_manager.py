"""objstore-init against real processes: a tiny server (tests/unit/web/echo_app)
and a tiny daemon (tick_daemon), both run through the same code paths as the
real ones, with a temp conf dir, run dir and log dir."""

import importlib
import os
import socket
import subprocess
import sys
import time

import pytest

from objstore.cli import catalog, manager, procs

ECHO = catalog.Program("echo", "echo", ("tests.unit.web.echo_app",), "echo", True)
TICK = catalog.Program("tick-daemon", "echo", ("tests.unit.cli.tick_daemon",), "echo", False)
PROGRAMS = (ECHO, TICK)


def find_module(program):
    return importlib.import_module(program.modules[0])


def free_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


@pytest.fixture
def node(tmp_path):
    """A conf dir with echo.conf (server + daemon sections) and a runner for objstore-init."""
    conf_dir = tmp_path / "etc"
    conf_dir.mkdir()
    devices = tmp_path / "devices"
    port = free_port()

    def write(extra_echo="", tick="interval = 0.2\njitter = 0\n"):
        (conf_dir / "echo.conf").write_text(
            "[echo]\nbind_port = %d\nworkers = 1\n%s\n[tick-daemon]\ndevices = %s\n%s"
            % (port, extra_echo, devices, tick)
        )

    def run(*words, **options):
        lines = []
        argv = list(words) + [
            "--conf-dir", str(conf_dir), "--run-dir", str(tmp_path / "run"),
            "--log-dir", str(tmp_path / "log"), "--kill-wait", str(options.get("kill_wait", 10)),
        ] + (["--force"] if options.get("force") else [])
        code = manager.main(argv, out=lines.append, programs=PROGRAMS, find_module=find_module)
        return code, "\n".join(lines)

    write()
    yield type("Node", (), {"run": staticmethod(run), "write": staticmethod(write), "port": port,
                            "tmp": tmp_path, "conf": str(conf_dir / "echo.conf")})
    for pid_file in (tmp_path / "run").glob("*.pid") if (tmp_path / "run").exists() else []:
        pid = procs.read_pid(str(pid_file))
        if pid and procs.alive(pid):
            procs.stop_pids([pid], 5)


def test_locate_finds_keys_and_sections(tmp_path):
    path = tmp_path / "x.conf"
    path.write_text("# c\n[DEFAULT]\na = 1\n\n[s]\n b : 2\nc=3\n[t]\nc = 4\nc = 5\n")
    assert manager.locate(str(path), "s") == 5
    assert manager.locate(str(path), "s", "b") == 6
    assert manager.locate(str(path), "t", "c") == 10  # the last one wins, as in the parser
    assert manager.locate(str(path), "DEFAULT", "a") == 3
    assert manager.locate(str(path), "t", "zz") is None


def test_config_error_names_file_and_line_before_anything_starts(node):
    node.write(extra_echo="greeting = hi\nworkers = many\n")
    code, out = node.run("echo", "start")
    assert code == manager.EXIT_USAGE
    assert "%s:5: " % node.conf in out and "workers" in out and "many" in out
    assert not (node.tmp / "run").exists() and not (node.tmp / "log").exists()  # nothing forked


def test_unknown_option_and_syntax_errors_have_lines(node):
    node.write(tick="interval = 1\nbogus = 2\n")
    code, out = node.run("tick-daemon", "start")
    assert code == manager.EXIT_USAGE and "%s:8: " % node.conf in out and "bogus" in out
    with open(node.conf, "a") as handle:
        handle.write("this is not ini\n")
    code, out = node.run("all", "restart")
    assert code == manager.EXIT_USAGE and "%s:9: " % node.conf in out


def test_start_status_reload_stop(node):
    code, out = node.run("echo", "start")
    assert code == 0, out
    pid = procs.read_pid(str(node.tmp / "run" / "echo.pid"))
    assert pid and procs.alive(pid) and "started (pid %d)" % pid in out
    assert procs.http_request("127.0.0.1", node.port, "/")[0] == 200
    code, out = node.run("echo", "start")
    assert code == 0 and "already running (pid %d)" % pid in out
    assert node.run("echo", "status") == (0, "echo running (pid %d)" % pid)
    code, out = node.run("echo", "reload")
    assert code == 0 and "SIGHUP" in out
    time.sleep(0.5)
    assert procs.alive(pid) and procs.http_request("127.0.0.1", node.port, "/")[0] == 200
    code, out = node.run("echo", "stop")
    assert code == 0 and "stopping (pid %d)" % pid in out
    assert not procs.alive(pid) and not (node.tmp / "run" / "echo.pid").exists()
    assert node.run("echo", "status") == (3, "echo not running")
    assert node.run("echo", "stop") == (0, "echo not running")


def test_stale_pid_file_is_reported_then_replaced(node):
    run_dir = node.tmp / "run"
    run_dir.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (run_dir / "echo.pid").write_text("%d\n" % dead.pid)
    code, out = node.run("echo", "status")
    assert code == 3 and "stale pid file" in out
    # a live process that is not ours (this test's own pid) is stale too
    (run_dir / "echo.pid").write_text("%d\n" % os.getpid())
    code, out = node.run("echo", "start")
    assert code == 0 and "removed stale pid file" in out
    assert procs.read_pid(str(run_dir / "echo.pid")) != os.getpid()
    assert node.run("echo", "stop")[0] == 0


def test_daemon_once_and_group_start_stop(node):
    code, out = node.run("tick-daemon", "once")
    assert code == 0 and "one pass done" in out
    assert (node.tmp / "devices" / "ticks").read_text().count("tick") == 1
    code, out = node.run("all", "start")
    assert code == 0 and "echo started" in out and "tick-daemon started" in out
    assert node.run("main", "status")[0] == 0 and node.run("rest", "status")[0] == 0
    code, out = node.run("all", "stop")
    assert code == 0 and out.count("stopping") == 2


def test_stop_reports_a_process_that_will_not_exit(node):
    node.write(tick="interval = 0.1\njitter = 0\nstubborn = true\n")
    assert node.run("tick-daemon", "start")[0] == 0
    pid = procs.read_pid(str(node.tmp / "run" / "tick-daemon.pid"))
    deadline = time.time() + 10
    while not (node.tmp / "devices" / "ticks").exists() and time.time() < deadline:
        time.sleep(0.05)  # its first pass makes it ignore SIGTERM
    code, out = node.run("tick-daemon", "stop", kill_wait=0.5)
    assert code == manager.EXIT_FAILED and "did not stop within 0.5s" in out and procs.alive(pid)
    code, out = node.run("tick-daemon", "stop", kill_wait=0.5, force=True)
    assert code == 0 and "killed" in out and not procs.alive(pid)


def test_usage_errors(node):
    assert node.run("nothing", "start")[0] == manager.EXIT_USAGE
    assert node.run("echo", "explode")[0] == manager.EXIT_USAGE
    os.unlink(node.conf)
    assert node.run("echo", "start")[0] == manager.EXIT_USAGE
    assert node.run("echo", "status")[0] == manager.EXIT_NOT_RUNNING


def test_a_server_that_dies_on_start_is_a_failure(node, listen_socket):
    taken = listen_socket()
    node.write(extra_echo="bind_port = %d\n" % taken.getsockname()[1])
    code, out = node.run("echo", "start")
    assert code == manager.EXIT_FAILED and "failed to start" in out and "already in use" in out
    assert not (node.tmp / "run" / "echo.pid").exists()


def test_one_instance_per_config_file(tmp_path):
    conf_dir = tmp_path / "etc"
    (conf_dir / "echo").mkdir(parents=True)
    (conf_dir / "echo.conf").write_text("[echo]\n")
    for name in ("2.conf", "1.conf", "notes.txt"):
        (conf_dir / "echo" / name).write_text("[echo]\n")
    items, missing = manager.instances([ECHO, TICK, catalog.BY_NAME["proxy-server"]], str(conf_dir),
                                       "/run", "/log", find_module)
    assert missing == [catalog.BY_NAME["proxy-server"]]
    assert [(i.program.name, os.path.basename(i.conf_file), i.pid_file, i.log_file) for i in items] == [
        ("echo", "echo.conf", "/run/echo.pid", "/log/echo.log"),
        ("echo", "1.conf", "/run/echo/1.pid", "/log/echo/1.log"),
        ("echo", "2.conf", "/run/echo/2.pid", "/log/echo/2.log"),
        ("tick-daemon", "echo.conf", "/run/tick-daemon.pid", "/log/tick-daemon.log"),
        ("tick-daemon", "1.conf", "/run/tick-daemon/1.pid", "/log/tick-daemon/1.log"),
        ("tick-daemon", "2.conf", "/run/tick-daemon/2.pid", "/log/tick-daemon/2.log"),
    ]
    assert items[1].label == "echo (%s)" % (conf_dir / "echo" / "1.conf")
