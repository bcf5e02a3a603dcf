"""objstore-init managing ``node-daemons`` (every daemon of a node in one
process): real processes on a real one-node layout (configs and rings as the
all-in-one writes them, nothing else running), plus the plain functions that
decide which config files it reads and when it is refused."""

import os
import shutil

import pytest

from objstore.cli import catalog, layout, manager, procs

NODE = catalog.NODE_DAEMONS


@pytest.fixture(scope="module")
def cluster(one_node_layout):
    return one_node_layout


@pytest.fixture
def node(cluster, tmp_path, monkeypatch, capsys):
    """Runs objstore-init (the real catalog) on the node's etc dir, with this test's run and log dirs."""
    monkeypatch.setenv("OBJSTORE_CONF", layout.objstore_conf_path(cluster.data_dir))
    state = {"etc": layout.node_etc_dir(cluster.data_dir, 1)}

    def run(*words):
        lines = []
        capsys.readouterr()
        argv = list(words) + ["--conf-dir", state["etc"], "--run-dir", str(tmp_path / "run"),
                              "--log-dir", str(tmp_path / "log"), "--kill-wait", "20"]
        code = manager.main(argv, out=lines.append)
        return code, "\n".join(lines), capsys.readouterr().err

    def pid(name):
        return procs.read_pid(str(tmp_path / "run" / (name + ".pid")))

    yield type("Node", (), {"run": staticmethod(run), "pid": staticmethod(pid), "tmp": tmp_path, "state": state})
    for pid_file in (tmp_path / "run").glob("*.pid") if (tmp_path / "run").exists() else []:
        found = procs.read_pid(str(pid_file))
        if found and procs.alive(found):
            procs.stop_pids([found], 10)


def test_start_status_restart_stop(node):
    etc = node.state["etc"]
    code, out, err = node.run("node-daemons", "start")
    assert code == 0, out + err
    pid = node.pid("node-daemons")
    assert "node-daemons started (pid %d)" % pid in out
    argv = procs.cmdline(pid)
    assert "objstore.cli.nodedaemons" in argv
    assert [arg for arg in argv if arg.endswith(".conf")] == [
        os.path.join(etc, name) for name in ("account-server.conf", "container-server.conf", "object-server.conf")]
    assert node.run("node-daemons", "status")[:2] == (0, "node-daemons running (pid %d)" % pid)
    code, out, err = node.run("node-daemons", "start")
    assert code == 0 and "node-daemons already running (pid %d)" % pid in out

    # the separate daemons would do the same work: refused, nothing started
    code, out, err = node.run("object-replicator", "start")
    assert code == manager.EXIT_USAGE and out == "" and "Traceback" not in err
    assert err.strip() == ("objstore-init: refused: node-daemons already runs this node's daemons (pid %d); "
                           "object-replicator as its own process would run twice (use 'main' for the servers, "
                           "or stop node-daemons first)" % pid)
    assert node.pid("object-replicator") is None

    # while it runs, the daemon groups mean it; main never does
    code, out, err = node.run("rest", "status")
    assert (code, out) == (0, "node-daemons running (pid %d)" % pid)
    code, out, err = node.run("main", "status")
    assert code == manager.EXIT_NOT_RUNNING and "node-daemons" not in out and "object-server not running" in out
    code, out, err = node.run("rest", "start")
    assert (code, out) == (0, "node-daemons already running (pid %d)" % pid)
    code, out, err = node.run("rest", "restart")  # stays one process: no separate daemon starts
    assert code == 0, out + err
    new_pid = node.pid("node-daemons")
    assert new_pid != pid and not procs.alive(pid) and "node-daemons started (pid %d)" % new_pid in out
    assert sorted(os.listdir(node.tmp / "run")) == ["node-daemons.pid"]

    code, out, err = node.run("all", "stop")
    assert code == 0 and "node-daemons stopping (pid %d)" % new_pid in out
    assert not procs.alive(new_pid) and node.pid("node-daemons") is None
    assert node.run("node-daemons", "status")[:2] == (manager.EXIT_NOT_RUNNING, "node-daemons not running")
    assert node.run("node-daemons", "stop")[:2] == (0, "node-daemons not running")
    with open(node.tmp / "log" / "node-daemons.log") as handle:
        assert "objstore-node-daemons: running " in handle.read()


def test_not_while_separate_daemons_run(node):
    code, out, err = node.run("object-auditor", "start")
    assert code == 0, out + err
    pid = node.pid("object-auditor")
    for command in ("start", "once", "restart"):
        code, out, err = node.run("node-daemons", command)
        assert code == manager.EXIT_USAGE and out == ""
        assert err.strip() == ("objstore-init: refused: object-auditor already runs as its own process (pid %d); "
                               "node-daemons would run it twice (stop the separate daemons first: "
                               "objstore-init rest stop)" % pid)
    assert node.pid("node-daemons") is None and procs.alive(pid)
    # with no node-daemons running, rest means the separate daemons as before
    code, out, err = node.run("rest", "stop")
    assert code == 0 and "object-auditor stopping (pid %d)" % pid in out and "node-daemons" not in out


@pytest.mark.parametrize("words", [("node-daemons", "replicator"), ("all", "node-daemons"),
                                   ("node-daemons", "object-expirer")])
@pytest.mark.parametrize("command", ["start", "once", "no-daemon"])
def test_naming_both_ways_is_refused(node, words, command):
    code, out, err = node.run(*words, command)
    assert code == manager.EXIT_USAGE and out == ""
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("objstore-init: refused: node-daemons runs every daemon of its node in one process")
    assert not (node.tmp / "run").exists() and not (node.tmp / "log").exists()  # nothing forked


def test_a_bad_daemon_section_names_file_and_line_before_anything_starts(node):
    etc = str(node.tmp / "etc")
    shutil.copytree(node.state["etc"], etc)
    conf = os.path.join(etc, "object-server.conf")
    with open(conf, "a") as handle:
        handle.write("\n[object-auditor]\ninterval = soon\n")
    with open(conf) as handle:
        line = handle.read().splitlines().index("interval = soon") + 1
    node.state["etc"] = etc
    code, out, err = node.run("node-daemons", "start")
    assert code == manager.EXIT_USAGE
    assert out.startswith("config error: %s:%d: " % (conf, line)) and "interval" in out and "soon" in out
    assert not (node.tmp / "run").exists() and not (node.tmp / "log").exists()
    with open(conf, "a") as handle:
        handle.write("not ini at all\n")
    code, out, err = node.run("node-daemons", "once")
    assert code == manager.EXIT_USAGE and out.startswith("config error: %s:%d: " % (conf, line + 1))


def test_once_runs_each_daemon_once_and_exits(node, cluster):
    code, out, err = node.run("node-daemons", "once")
    assert code == 0, out + err
    assert out.startswith("node-daemons: one pass done in ")
    assert node.pid("node-daemons") is None
    with open(node.tmp / "log" / "node-daemons.log") as handle:
        running = handle.read().split("objstore-node-daemons: running ", 1)[1].splitlines()[0]
    assert sorted(running.split(", ")) == sorted(program.name for program, _ in catalog.available(catalog.daemons()))


def test_no_config_for_node_daemons(tmp_path, capsys):
    (tmp_path / "proxy-server.conf").write_text("[proxy-server]\n")
    argv = ["--conf-dir", str(tmp_path), "--run-dir", str(tmp_path / "run"), "--log-dir", str(tmp_path / "log")]
    assert manager.main(["node-daemons", "status"] + argv, out=print) == manager.EXIT_NOT_RUNNING
    assert manager.main(["node-daemons", "start"] + argv, out=print) == manager.EXIT_USAGE
    err = capsys.readouterr().err
    assert "no config for node-daemons (looked for %s" % (tmp_path / "account-server.conf") in err


# --- the plain functions -------------------------------------------------------------
def test_only_its_name_selects_node_daemons():
    def resolve(*words):
        return [p.name for p in catalog.resolve(words, named_only=(NODE,))]

    assert resolve("node-daemons") == ["node-daemons"]
    assert "node-daemons" not in resolve("all") + resolve("rest") + resolve("main") + resolve("replicator")
    assert resolve("object", "node-daemons") == ["object-server", "node-daemons"]
    with pytest.raises(manager.ConfigError) as err:
        catalog.resolve(["daemons"], named_only=(NODE,))
    assert "node-daemons" in str(err.value)


def test_config_sets_and_instances_one_node_and_several(tmp_path):
    etc = tmp_path / "etc"
    etc.mkdir()
    for name in ("object-server.conf", "account-server.conf", "proxy-server.conf", "objstore.conf"):
        (etc / name).write_text("[x]\n")
    for stem in ("object-server", "container-server"):
        (etc / stem).mkdir()
        for name in ("1.conf", "2.conf", "README"):
            (etc / stem / name).write_text("[x]\n")
    assert manager.node_config_sets(str(etc)) == [
        (None, [str(etc / "account-server.conf"), str(etc / "object-server.conf")]),
        ("1", [str(etc / "container-server" / "1.conf"), str(etc / "object-server" / "1.conf")]),
        ("2", [str(etc / "container-server" / "2.conf"), str(etc / "object-server" / "2.conf")]),
    ]
    items, missing = manager.instances([NODE], str(etc), "/run", "/log", lambda program: "module")
    assert missing == []
    assert [(item.label, item.pid_file, item.log_file, item.module) for item in items] == [
        ("node-daemons", "/run/node-daemons.pid", "/log/node-daemons.log", "module"),
        ("node-daemons (%s, %s)" % (etc / "container-server" / "1.conf", etc / "object-server" / "1.conf"),
         "/run/node-daemons/1.pid", "/log/node-daemons/1.log", "module"),
        ("node-daemons (%s, %s)" % (etc / "container-server" / "2.conf", etc / "object-server" / "2.conf"),
         "/run/node-daemons/2.pid", "/log/node-daemons/2.log", "module"),
    ]
    assert items[0].conf_file == str(etc / "account-server.conf") and len(items[0].files) == 2
    assert manager.instances([NODE], str(tmp_path), "/run", "/log")[1] == [NODE]


def test_conflict_only_within_one_node(tmp_path):
    etc = tmp_path / "etc"
    (etc / "object-server").mkdir(parents=True)
    for path in ("object-server.conf", "object-server/1.conf", "object-server/2.conf"):
        (etc / path).write_text("[object-server]\n")
    replicator = catalog.BY_NAME["object-replicator"]
    nodes, _ = manager.instances([NODE], str(etc), "/run", "/log", lambda program: None)
    separate, _ = manager.instances([replicator], str(etc), "/run", "/log", lambda program: None)
    running = {"/run/node-daemons/1.pid": 11, "/run/object-replicator.pid": 22}

    def state(item):
        pid = running.get(item.pid_file)
        return ("running", pid) if pid else ("missing", None)

    assert manager.conflict(nodes[2:] + separate[2:], nodes + separate, state) is not None  # node 2, both named
    assert manager.conflict(nodes[2:], nodes + separate, state) is None  # node 2: nothing of it runs
    assert "object-replicator already runs as its own process (pid 22)" in manager.conflict(
        nodes[:1], nodes + separate, state)
    assert "node-daemons (%s) already runs this node's daemons (pid 11)" % (etc / "object-server" / "1.conf") in (
        manager.conflict(separate[1:2], nodes + separate, state))
    # groups: node 1's running node-daemons replaces node 1's separate daemon, nothing else
    assert manager.substitute_running(separate, nodes + separate, state) == [separate[0], separate[2], nodes[1]]
