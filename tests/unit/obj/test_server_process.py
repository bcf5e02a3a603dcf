"""The object server as a real process: kill -9 in the middle of a large PUT
never leaves a partial object that could be served, and a container server
that does not answer does not hold the client past container_update_timeout."""

import http.client
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from objstore.obj import metadata as meta_mod
from objstore.obj.diskfile import DiskFileManager

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def wait_for(predicate, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.02)
    raise AssertionError("timed out waiting")


def request(port, method, path, headers=None, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


@pytest.fixture
def object_server(tmp_path, objstore_conf, listen_socket):
    devices = tmp_path / "devices"
    os.makedirs(devices / "sda")
    conf = tmp_path / "object-server.conf"
    conf.write_text("[object-server]\ndevices = %s\nmount_check = false\nworkers = 0\n"
                    "container_update_timeout = 0.5\nnode_timeout = 30\n" % devices)
    sock = listen_socket()
    port = sock.getsockname()[1]
    procs = []

    def start():
        proc = subprocess.Popen(
            [sys.executable, "-m", "objstore.obj.server", str(conf), "--listen-fd", str(sock.fileno())],
            pass_fds=[sock.fileno()], cwd=ROOT, stderr=subprocess.DEVNULL)
        procs.append(proc)
        wait_for(lambda: _answers(port))
        return proc

    yield start, port, str(devices)
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def _answers(port):
    try:
        return request(port, "HEAD", "/sda/1/a/c/probe")[0] == 404
    except OSError:
        return False


def _tmp_bytes(devices):
    tmp = os.path.join(devices, "sda", "tmp")
    try:
        return sum(os.path.getsize(os.path.join(tmp, name)) for name in os.listdir(tmp))
    except OSError:
        return 0


def _object_files(devices):
    found = []
    for dirpath, _dirs, files in os.walk(os.path.join(devices, "sda", "objects")):
        found.extend(os.path.join(dirpath, name) for name in files
                     if name.endswith((".data", ".ts", ".meta")))
    return found


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "content-length"])
def test_kill_9_mid_put_never_serves_a_partial_object(object_server, chunked):
    start, port, devices = object_server
    proc = start()
    total = 64 * 1024 * 1024
    head = ["PUT /sda/1/a/c/big HTTP/1.1", "Host: x", "X-Timestamp: 1700000001.00000"]
    head.append("Transfer-Encoding: chunked" if chunked else "Content-Length: %d" % total)
    client = socket.create_connection(("127.0.0.1", port))
    client.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
    chunk = os.urandom(65536)
    sent = 0
    while _tmp_bytes(devices) < 4 * 1024 * 1024:  # the server is writing the temp file
        client.sendall(b"10000\r\n" + chunk + b"\r\n" if chunked else chunk)
        sent += len(chunk)
        assert sent < total
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    client.close()

    start()
    status, headers, _ = request(port, "GET", "/sda/1/a/c/big")
    assert status == 404 and "X-Backend-Timestamp" not in headers
    assert request(port, "HEAD", "/sda/1/a/c/big")[0] == 404
    # nothing in objects/ at all; every file there would have its metadata
    for path in _object_files(devices):
        meta_mod.read_metadata_path(path)
    assert _object_files(devices) == []
    # the orphan temp file is only in tmp/, and clean_tmp removes it
    assert _tmp_bytes(devices) > 0
    manager = DiskFileManager(devices, False, None)
    assert manager.clean_tmp("sda", older_than=0, now=time.time() + 1) == 1
    # the restarted server works
    assert request(port, "PUT", "/sda/1/a/c/big", {"X-Timestamp": "1700000002.00000"}, b"whole")[0] == 201
    status, _headers, body = request(port, "GET", "/sda/1/a/c/big")
    assert (status, body) == (200, b"whole")
    for path in _object_files(devices):
        meta, size = meta_mod.read_metadata_path(path)
        assert meta["name"] == "/a/c/big" and size == 5


def test_silent_container_server_does_not_hold_the_client(object_server, listen_socket):
    start, port, devices = object_server
    start()
    silent = listen_socket()  # accepts connections (backlog) but never answers
    headers = {"X-Timestamp": "1700000001.00000", "X-Container-Host": "127.0.0.1:%d" % silent.getsockname()[1],
               "X-Container-Device": "sdc", "X-Container-Partition": "3"}
    status, _headers, _body = request(port, "PUT", "/sda/1/a/c/o", headers, b"data")
    # answered after container_update_timeout (0.5 s), long before node_timeout (30 s):
    # the update is left for the updater
    assert status == 201
    pending = []
    for dirpath, _dirs, files in os.walk(os.path.join(devices, "sda", "async_pending")):
        pending.extend(files)
    assert len(pending) == 1 and pending[0].endswith("-1700000001.00000")


def test_corrupt_object_response_ends_short_then_404(object_server):
    start, port, devices = object_server
    start()
    body = os.urandom(500000)
    assert request(port, "PUT", "/sda/1/a/c/o", {"X-Timestamp": "1700000001.00000"}, body)[0] == 201
    (data,) = [p for p in _object_files(devices) if p.endswith(".data")]
    with open(data, "r+b") as handle:
        handle.seek(12345)
        handle.write(bytes([body[12345] ^ 1]))
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    conn.request("GET", "/sda/1/a/c/o")
    resp = conn.getresponse()
    assert resp.status == 200 and int(resp.getheader("Content-Length")) == len(body)
    with pytest.raises(http.client.IncompleteRead):
        resp.read()
    conn.close()
    assert request(port, "GET", "/sda/1/a/c/o")[0] == 404
    assert os.listdir(os.path.join(devices, "sda", "quarantined", "objects"))
