"""Pid files, telling our processes from strangers, stopping and probing."""

import os
import subprocess
import sys

from objstore.cli import procs


def sleeper(marker="sleeper-marker", ignore_term=False):
    code = "import signal, time\n"
    if ignore_term:
        code += "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    code += "print('ready', flush=True)\ntime.sleep(60)\n"
    proc = subprocess.Popen([sys.executable, "-c", code, marker], stdout=subprocess.PIPE, start_new_session=True)
    assert proc.stdout.readline().strip() == b"ready"
    return proc


def test_read_pid_ignores_garbage(tmp_path):
    path = tmp_path / "x.pid"
    assert procs.read_pid(str(path)) is None
    for text in ("", "abc\n", "-5", "0"):
        path.write_text(text)
        assert procs.read_pid(str(path)) is None
    procs.write_pid(str(path), 1234)
    assert procs.read_pid(str(path)) == 1234
    procs.remove_pid(str(path))
    procs.remove_pid(str(path))  # twice is fine
    assert not path.exists()


def test_pid_status_running_stale_missing(tmp_path):
    path = str(tmp_path / "p.pid")
    assert procs.pid_status(path, "m") == ("missing", None)
    proc = sleeper("the-marker")
    try:
        procs.write_pid(path, proc.pid)
        assert procs.pid_status(path, "the-marker") == ("running", proc.pid)
        assert procs.pid_status(path, "another-marker") == ("stale", proc.pid)  # alive but not ours
    finally:
        proc.kill()
        proc.wait()
    assert procs.pid_status(path, "the-marker") == ("stale", proc.pid)
    with open(path, "w") as handle:
        handle.write("junk")
    assert procs.pid_status(path, "the-marker") == ("stale", None)


def test_a_zombie_is_not_alive():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped yet
    assert not procs.alive(proc.pid)
    assert not procs.alive(0)


def test_stop_pids_terms_then_kills():
    polite, stubborn = sleeper(), sleeper(ignore_term=True)
    stopped, killed, left = procs.stop_pids([polite.pid, stubborn.pid], timeout=1.0)
    assert stopped == [polite.pid] and killed == [stubborn.pid] and left == []
    assert not procs.alive(polite.pid) and not procs.alive(stubborn.pid)  # (and reaped: they were our children)
    assert procs.stop_pids([polite.pid], 1.0) == ([], [], [])


def test_spawn_detaches_and_logs(tmp_path):
    log = tmp_path / "logs" / "x.log"
    child = procs.spawn([sys.executable, "-c", "import os; print('pgid', os.getpgid(0) == os.getpid())"],
                        log_path=str(log), env=procs.child_env("/nowhere.conf"))
    assert child.wait() == 0
    assert log.read_text().strip() == "pgid True"
    assert procs.tail(str(log)) == ["pgid True"]
    assert procs.tail(str(tmp_path / "none.log")) == []


def test_child_env_finds_this_objstore():
    env = procs.child_env("/x/objstore.conf", {"A": "1"})
    assert env["OBJSTORE_CONF"] == "/x/objstore.conf" and env["A"] == "1"
    assert env["PYTHONPATH"].split(os.pathsep)[0] == procs.PACKAGE_ROOT


def test_ports_and_probes(listen_socket):
    sock = listen_socket()
    port = sock.getsockname()[1]
    assert not procs.port_free("127.0.0.1", port)
    assert procs.http_request("127.0.0.1", 1, "/") is None  # nothing listens on port 1
    other = procs.listener("127.0.0.1", 0)
    try:
        assert other.get_inheritable()
        assert not procs.port_free("127.0.0.1", other.getsockname()[1])
    finally:
        other.close()
