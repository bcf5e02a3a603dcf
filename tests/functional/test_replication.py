"""Replication logic seen from outside: quorum writes with handoffs, failover
reads, a backend killed mid-GET, a client gone mid-PUT, and the proxy's
memory during a large upload. Servers are stopped and started again here, so
each test restores what it stops."""

import glob
import hashlib
import http.client
import itertools
import os
import signal
import socket
import time
import uuid

import pytest

from objstore.common.hashing import hash_path

ACCOUNT = "AUTH_test"


@pytest.fixture
def auth(cluster):
    return {"X-Auth-Token": cluster.auth("test:tester", "testing")[1]}


@pytest.fixture
def container(cluster, auth):
    name = "repl-" + uuid.uuid4().hex[:8]
    assert cluster.request("PUT", "/v1/%s/%s" % (ACCOUNT, name), auth)[0] == 201
    return name


@pytest.fixture
def stopped(cluster):
    """Stop servers during a test; every one is started again afterwards."""
    done = []

    def stop(kind, node, sig=signal.SIGTERM):
        cluster.server(kind, node).stop(sig)
        done.append((kind, node))

    yield stop
    for kind, node in done:
        cluster.server(kind, node).start(cluster.env)
    if done:
        cluster.wait_ready()
        time.sleep(2.5)  # let the proxy's error limiting of those nodes age out


def placement(cluster, container, obj):
    ring = cluster.ring("object")
    part, nodes = ring.get_nodes(ACCOUNT, container, obj)
    handoffs = list(itertools.islice(ring.get_more_nodes(part), 3))
    return part, nodes, handoffs


def data_files(cluster, dev, part, container, obj):
    node = cluster.node_of(dev)
    name_hash = hash_path(ACCOUNT, container, obj)
    pattern = os.path.join(cluster.devices(node), dev["device"], "objects", str(part), "*", name_hash, "*.data")
    return glob.glob(pattern)


def body_of(size, seed=b"objstore"):
    block = hashlib.sha256(seed).digest() * 2048  # 64 KiB, not all one byte
    whole, rest = divmod(size, len(block))
    return block * whole + block[:rest]


def test_backend_killed_mid_get_resumes_on_another_replica(cluster, ring_env, auth, container, stopped):
    obj = "big-get"
    data = body_of(48 * 1024 * 1024)
    path = "/v1/%s/%s/%s" % (ACCOUNT, container, obj)
    assert cluster.request("PUT", path, auth, body=data)[0] == 201
    _part, nodes, _handoffs = placement(cluster, container, obj)
    conn = http.client.HTTPConnection("127.0.0.1", cluster.proxy_port, timeout=60)
    conn.request("GET", path, headers=auth)
    resp = conn.getresponse()
    assert resp.status == 200
    first = resp.read(1024 * 1024)
    # the proxy reads from the first usable primary; kill the first two so
    # whichever one is serving dies mid-body
    stopped("object", cluster.node_of(nodes[0]), signal.SIGKILL)
    stopped("object", cluster.node_of(nodes[1]), signal.SIGKILL)
    rest = resp.read()
    conn.close()
    got = first + rest
    assert len(got) == len(data) and hashlib.md5(got).digest() == hashlib.md5(data).digest()
    log = open(cluster.server("proxy").log).read()
    assert "mid-stream" in log


def test_one_object_server_down_put_lands_on_a_handoff(cluster, ring_env, auth, container, stopped):
    obj = "one-down"
    part, nodes, handoffs = placement(cluster, container, obj)
    stopped("object", cluster.node_of(nodes[0]))
    path = "/v1/%s/%s/%s" % (ACCOUNT, container, obj)
    assert cluster.request("PUT", path, auth, body=b"quorum")[0] == 201
    assert data_files(cluster, nodes[1], part, container, obj)
    assert data_files(cluster, nodes[2], part, container, obj)
    assert data_files(cluster, handoffs[0], part, container, obj)  # stands in for nodes[0]
    status, _h, body = cluster.request("GET", path, auth)
    assert status == 200 and body == b"quorum"
    assert cluster.request("DELETE", path, auth)[0] == 204


def test_two_primaries_down_uses_the_last_handoff_and_no_node_left_is_503(cluster, ring_env, auth, container, stopped):
    obj = "two-down"
    part, nodes, handoffs = placement(cluster, container, obj)
    path = "/v1/%s/%s/%s" % (ACCOUNT, container, obj)
    stopped("object", cluster.node_of(nodes[0]))
    stopped("object", cluster.node_of(nodes[1]))
    # 4 nodes: the one handoff stands in for one primary; with nodes[2] that is 2 of 3
    assert cluster.request("PUT", path, auth, body=b"two")[0] == 201
    assert data_files(cluster, handoffs[0], part, container, obj)
    # with the handoff down too, only one replica can be written: no quorum
    stopped("object", cluster.node_of(handoffs[0]))
    assert cluster.request("PUT", path, auth, body=b"three")[0] == 503
    assert cluster.request("PUT", path + "-new", auth, body=b"three")[0] in (503,)


def test_replica_file_deleted_get_still_200_and_404_only_when_trusted(cluster, ring_env, auth, container, stopped):
    obj = "failover"
    path = "/v1/%s/%s/%s" % (ACCOUNT, container, obj)
    assert cluster.request("PUT", path, auth, body=b"still here")[0] == 201
    part, nodes, _handoffs = placement(cluster, container, obj)
    for name in data_files(cluster, nodes[0], part, container, obj):
        os.unlink(name)
    status, _h, body = cluster.request("GET", path, auth)
    assert status == 200 and body == b"still here"
    assert cluster.request("HEAD", path, auth)[0] == 200
    # every primary down and the handoff has no copy: not a trustworthy 404
    missing = "never-written"
    _p, mnodes, _h = placement(cluster, container, missing)
    for dev in mnodes:
        stopped("object", cluster.node_of(dev))
    assert cluster.request("GET", "/v1/%s/%s/%s" % (ACCOUNT, container, missing), auth)[0] == 503


def test_tombstone_newer_than_data_wins(cluster, ring_env, auth, container, stopped):
    obj = "tombstone"
    path = "/v1/%s/%s/%s" % (ACCOUNT, container, obj)
    part, nodes, handoffs = placement(cluster, container, obj)
    assert cluster.request("PUT", path, auth, body=b"old data")[0] == 201
    # nodes[2] misses the DELETE; it keeps the old data
    stopped("object", cluster.node_of(nodes[2]))
    assert cluster.request("DELETE", path, auth)[0] == 204
    cluster.restart("object", cluster.node_of(nodes[2]))
    assert data_files(cluster, nodes[2], part, container, obj)
    time.sleep(2.5)  # error limiting of nodes[2] ages out, so the proxy asks it again
    assert cluster.request("GET", path, auth)[0] == 404
    assert cluster.request("HEAD", path, dict(auth, **{"X-Newest": "true"}))[0] == 404


def test_container_server_down_container_writes_keep_quorum(cluster, ring_env, auth, stopped):
    name = "cquorum-" + uuid.uuid4().hex[:8]
    _part, cnodes = cluster.ring("container").get_nodes(ACCOUNT, name)
    stopped("container", cluster.node_of(cnodes[0]))
    assert cluster.request("PUT", "/v1/%s/%s" % (ACCOUNT, name), auth)[0] == 201
    assert cluster.request("PUT", "/v1/%s/%s/o" % (ACCOUNT, name), auth, body=b"x")[0] == 201
    assert cluster.request("GET", "/v1/%s/%s" % (ACCOUNT, name), auth)[2] == b"o\n"


def test_client_gone_mid_put_is_499_and_nothing_stored(cluster, ring_env, auth, container):
    obj = "half-sent"
    path = "/v1/%s/%s/%s" % (ACCOUNT, container, obj)
    sock = socket.create_connection(("127.0.0.1", cluster.proxy_port), timeout=10)
    sock.sendall(("PUT %s HTTP/1.1\r\nHost: x\r\nX-Auth-Token: %s\r\nContent-Length: 1000000\r\n\r\n"
                  % (path, auth["X-Auth-Token"])).encode() + b"x" * 300000)
    time.sleep(0.5)
    sock.close()
    deadline = time.time() + 10
    log_path = cluster.server("proxy").log
    while time.time() < deadline and '"PUT %s" 499' % path not in open(log_path).read():
        time.sleep(0.1)
    assert '"PUT %s" 499' % path in open(log_path).read()
    assert cluster.request("GET", path, auth)[0] == 404
    part, nodes, handoffs = placement(cluster, container, obj)
    for dev in nodes + handoffs:
        assert not data_files(cluster, dev, part, container, obj)


def test_large_upload_keeps_proxy_memory_flat(cluster, auth, container):
    size = 512 * 1024 * 1024
    path = "/v1/%s/%s/huge" % (ACCOUNT, container)
    _parent, workers = cluster.proxy_pids()
    before = {pid: (cluster.vm_status(pid, "VmRSS"), cluster.vm_status(pid, "VmHWM")) for pid in workers}
    block = body_of(1024 * 1024)
    md5 = hashlib.md5()
    conn = http.client.HTTPConnection("127.0.0.1", cluster.proxy_port, timeout=120)
    conn.putrequest("PUT", path)
    conn.putheader("X-Auth-Token", auth["X-Auth-Token"])
    conn.putheader("Content-Length", str(size))
    conn.endheaders()
    for _ in range(size // len(block)):
        conn.send(block)
        md5.update(block)
    resp = conn.getresponse()
    resp.read()
    conn.close()
    assert resp.status == 201 and resp.getheader("etag") == md5.hexdigest()
    after = {pid: (cluster.vm_status(pid, "VmRSS"), cluster.vm_status(pid, "VmHWM")) for pid in workers}
    growth = max(after[pid][1] - before[pid][0] for pid in workers)  # peak during the upload vs. RSS before
    print("proxy worker RSS before/after (kB):", before, after, "peak growth kB:", growth)
    assert growth < 40 * 1024
    headers = cluster.request("HEAD", path, auth)[1]
    assert headers["content-length"] == str(size)
    assert cluster.request("DELETE", path, auth)[0] == 204


def test_a_delete_answers_without_waiting_for_a_stalled_replica(cluster, ring_env, auth, container):
    """A replica that hangs (SIGSTOP: connected, never answering) does not hold
    a DELETE: two of three agreeing decide it, the proxy waits at most
    post_quorum_timeout for the third, which finishes (here: times out) in the
    background."""
    obj = "stalled-delete"
    path = "/v1/%s/%s/%s" % (ACCOUNT, container, obj)
    assert cluster.request("PUT", path, auth, body=b"x")[0] == 201
    _part, nodes, _handoffs = placement(cluster, container, obj)
    server = cluster.server("object", cluster.node_of(nodes[2]))
    log = cluster.server("proxy").log
    before = os.path.getsize(log)
    server.proc.send_signal(signal.SIGSTOP)
    try:
        assert cluster.request("DELETE", path, auth)[0] == 204
        with open(log, "rb") as handle:
            handle.seek(before)
            seen = handle.read().decode("utf-8", "replace")
        # answered before the proxy's node_timeout (5 s) for the stalled node ran out
        assert ":%d/" % server.port not in seen
    finally:
        server.proc.send_signal(signal.SIGCONT)
    assert cluster.request("GET", path, auth)[0] == 404
