"""objstore-aio as a user runs it: a subprocess on free ports with a temp data
dir; python-swiftclient round trips, status, kill/revive of a node, once,
stop leaving no process of ours, and a restart that keeps the data. The
README's quickstart commands run here too, as written (but for the port)."""

import os
import random
import re
import signal
import subprocess
import sys

import pytest
import swiftclient

from objstore.cli import procs

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NODES = 4
README = os.path.join(ROOT, "README.md")
QUICKSTART_MARK = "<!-- aio-quickstart"


def free_port_range(count):
    """A base port with ``count`` free ports from it (below the ephemeral range)."""
    for _ in range(200):
        base = random.randint(20000, 32000 - count)
        if all(procs.port_free("127.0.0.1", port) for port in range(base, base + count)):
            return base
    raise AssertionError("no %d free consecutive ports" % count)


class Aio:
    def __init__(self, data_dir):
        self.data_dir = str(data_dir)
        self.port = free_port_range(1)
        self.base_port = free_port_range(3 * NODES)
        while self.base_port <= self.port < self.base_port + 3 * NODES:
            self.port = free_port_range(1)

    def run(self, *args, timeout=120):
        argv = [sys.executable, "-m", "objstore.cli.aio"] + list(args) + ["--data-dir", self.data_dir]
        done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                              env=procs.child_env())
        return done.returncode, done.stdout + done.stderr

    def start(self):
        # A generous wait: 50-odd processes start at once on a shared 2-core machine.
        return self.run("start", "--port", str(self.port), "--base-port", str(self.base_port),
                        "--timeout", "150", timeout=240)

    @property
    def auth_url(self):
        return "http://127.0.0.1:%d/auth/v1.0" % self.port

    def client(self, user="test:tester", key="testing"):
        return swiftclient.Connection(authurl=self.auth_url, user=user, key=key, retries=2, timeout=30)

    def status(self):
        """``(exit code, {name: (state, pid or None)})``."""
        code, out = self.run("status")
        table = {}
        for line in out.splitlines():
            match = re.match(r"^(\S+)\s+(up|down)\s+\S+\s*(?:pid (\d+))?", line)
            if match:
                table[match.group(1)] = (match.group(2), int(match.group(3)) if match.group(3) else None)
        return code, table

    def our_pids(self):
        run_dir = os.path.join(self.data_dir, "run")
        pids = []
        for name in os.listdir(run_dir) if os.path.isdir(run_dir) else []:
            pid = procs.read_pid(os.path.join(run_dir, name))
            if pid:
                pids.append(pid)
        return pids


def group_alive(pid):
    """True while any process is left in the process group ``pid`` led."""
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return any(procs.alive(member) for member in _members(pid))


def _members(pgid):
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry, "rb") as handle:
                    fields = handle.read().rsplit(b")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid:
                yield int(entry)


@pytest.fixture(scope="module")
def aio(tmp_path_factory):
    cluster = Aio(tmp_path_factory.mktemp("aio") / "data")
    code, out = cluster.start()
    cluster.first_output = out
    try:
        assert code == 0, out
        yield cluster
    finally:
        cluster.run("stop")
        for pid in cluster.our_pids():  # whatever a failed test left behind
            if procs.alive(pid):
                procs.send_signal(pid, signal.SIGKILL)


def test_start_prints_endpoint_user_and_examples(aio):
    out = aio.first_output
    assert aio.auth_url in out and "test:tester" in out and "testing" in out
    assert "curl -i -H 'X-Auth-User: test:tester' -H 'X-Auth-Key: testing' %s" % aio.auth_url in out
    assert "swift -A %s -U test:tester -K testing stat" % aio.auth_url in out
    for name in ("objstore.conf", "aio.json", "rings/object.ring.gz", "rings/account.ring.gz",
                 "etc/proxy-server.conf", "etc/node4/object-server.conf", "node1/devices/d1"):
        assert os.path.exists(os.path.join(aio.data_dir, name)), name


def test_swiftclient_round_trip_and_every_default_user(aio):
    conn = aio.client()
    conn.put_container("aio-photos")
    etag = conn.put_object("aio-photos", "dir/cat.jpg", b"meow" * 1000, content_type="image/jpeg")
    headers, body = conn.get_object("aio-photos", "dir/cat.jpg")
    assert body == b"meow" * 1000 and headers["etag"] == etag
    _, listing = conn.get_container("aio-photos")
    assert [item["name"] for item in listing] == ["dir/cat.jpg"]
    _, containers = conn.get_account()
    assert "aio-photos" in [item["name"] for item in containers]
    for user, key in (("test:tester2", "testing2"), ("test:tester3", "testing3"), ("test2:tester2", "testing2"),
                      ("test5:tester5", "testing5"), ("admin:admin", "admin")):
        url, token = aio.client(user, key).get_auth()
        assert url and token, user


def test_status_start_again_and_once(aio):
    code, table = aio.status()
    assert code == 0 and len(table) >= 3 * NODES + 1
    assert all(state == "up" and pid for state, pid in table.values())
    assert table["proxy-server"][1] in aio.our_pids()
    code, out = aio.start()
    assert code == 0 and "already running" in out
    code, out = aio.run("once", "object-replicator")
    assert code == 0 and "object-replicator: one pass on %d nodes" % NODES in out
    code, out = aio.run("once", "no-such-daemon")
    assert code == 1 and "no-such-daemon" in out and "Traceback" not in out


def test_kill_and_revive_a_node(aio):
    code, out = aio.run("kill", "2")
    assert code == 0 and "object-server-2" in out
    code, table = aio.status()
    assert code == 1
    servers = {name: state for name, (state, _) in table.items() if "-server" in name}
    assert {name for name, state in servers.items() if state == "down"} == {
        "account-server-2", "container-server-2", "object-server-2"}
    conn = aio.client()
    conn.put_object("aio-photos", "while-down", b"x")  # 2 of 3 replicas is a quorum
    assert conn.get_object("aio-photos", "while-down")[1] == b"x"
    code, out = aio.run("revive", "node2")
    assert code == 0 and "object-server-2" in out
    _, table = aio.status()
    assert all(state == "up" for name, (state, _) in table.items() if "-server" in name)


def test_stop_leaves_nothing_and_restart_keeps_the_data(aio):
    pids = [pid for pid in aio.our_pids() if procs.alive(pid)]
    assert len(pids) >= 3 * NODES + 1
    code, out = aio.run("stop")
    assert code == 0 and "stopped %d processes" % len(pids) in out
    assert not any(group_alive(pid) for pid in pids)  # servers and their workers
    assert aio.our_pids() == []
    code, table = aio.status()
    assert code == 3 and all(state == "down" for state, _ in table.values())
    code, out = aio.run("stop")
    assert code == 0 and "not running" in out
    code, out = aio.start()
    assert code == 0, out
    assert "built the" not in out  # the rings were reused
    _, body = aio.client().get_object("aio-photos", "dir/cat.jpg")
    assert body == b"meow" * 1000


def _quickstart_blocks(path=README):
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        return []
    blocks = []
    for match in re.finditer(re.escape(QUICKSTART_MARK) + r".*?-->\s*```(?:sh|bash|console)?\n(.*?)```", text, re.S):
        blocks.append(match.group(1))
    return blocks


@pytest.mark.xfail(not _quickstart_blocks(), strict=True,
                   reason="README.md has no <!-- aio-quickstart --> blocks yet (the lead merges them)")
def test_readme_quickstart_commands_work_as_written(aio, tmp_path):
    env = procs.child_env()
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    # The README's commands run from the repository, where `make run` made .venv.
    os.symlink(os.path.dirname(os.path.dirname(sys.executable)), tmp_path / ".venv")
    blocks = _quickstart_blocks()
    assert blocks, "README.md has no aio-quickstart blocks"
    for block in blocks:
        script = block.replace("127.0.0.1:8080", "127.0.0.1:%d" % aio.port)
        done = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], cwd=str(tmp_path), env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, "%s\n--- out:\n%s\n--- err:\n%s" % (script, done.stdout, done.stderr)
        assert "hello, world" in done.stdout


def test_with_compute_serves_flavors_with_a_proxy_token(tmp_path):
    import json
    import urllib.request

    one = Aio(tmp_path / "data")
    try:
        code, out = one.run("start", "--with-compute", "--nodes", "1", "--replicas", "1", "--port", str(one.port),
                            "--base-port", str(one.base_port), "--timeout", "150", timeout=240)
        assert code == 0, out
        with open(os.path.join(one.data_dir, "aio.json"), encoding="utf-8") as handle:
            compute_port = json.load(handle)["settings"]["compute_port"]
        api = "http://127.0.0.1:%d" % compute_port
        assert "compute api    %s" % api in out and "flavor-list" in out
        url, token = one.client().get_auth()
        request = urllib.request.Request(api + "/v1/flavors", headers={"X-Auth-Token": token, "X-Storage-Url": url})
        with urllib.request.urlopen(request, timeout=30) as resp:
            assert resp.status == 200
            body = json.loads(resp.read())
        names = [flavor["name"] for flavor in body["flavors"]]
        assert names == ["m1.tiny", "m1.small", "m1.medium", "m1.large"]
        _, table = one.status()
        assert table["compute-api"][0] == "up"
        pids = one.our_pids()
    finally:
        code, out = one.run("stop")
    assert code == 0 and "stopped %d processes" % len(pids) in out
    assert not any(group_alive(pid) for pid in pids) and one.our_pids() == []
