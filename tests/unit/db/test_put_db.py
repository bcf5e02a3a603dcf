"""A whole DB sent over real HTTP: the replicator's ``send_whole`` (a real
ConnectionPool) to a real ContainerServer app served by wsgiref in a thread
(and once to a real server process), over real SQLite files. Proves that neither end holds the DB in memory, and
that the receiver leaves no temp file behind whatever happens."""

import os
import socket
import threading
import time
import tracemalloc
import wsgiref.simple_server

import pytest

from objstore.common.constraints import DEFAULT
from objstore.common.exceptions import ObjstoreError
from objstore.common.hashing import hash_path
from objstore.container.replicator import ContainerReplicator
from objstore.container.server import ContainerServer, ContainerServerConfig
from objstore.db.replicator import DBReplicatorConfig
from objstore.db.server import put_db_headers
from objstore.web.backend import ConnectionPool
from objstore.web.app import Request
from tests.unit.db.serverproc import ServerProcess, request


def ts(n):
    return "%010d.%05d" % (1700000000 + n, 0)


class _QuietHandler(wsgiref.simple_server.WSGIRequestHandler):
    def log_message(self, *args):
        pass


def _container_server(devices, logger):
    """``(devices, app)``: a container server app over ``devices`` holding device ``sda``."""
    (devices / "sda").mkdir(parents=True)
    config = ContainerServerConfig(devices=str(devices), mount_check=False, access_log=False)
    return devices, ContainerServer(config, logger, DEFAULT)


@pytest.fixture
def node(tmp_path, objstore_conf, capture):
    """``(app, port)``: a container server on 127.0.0.1:<port> (device ``sda``)."""
    _devices, app = _container_server(tmp_path / "peer", capture[0])
    server = wsgiref.simple_server.make_server("127.0.0.1", 0, app, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield app, server.server_address[1]
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def local(tmp_path, objstore_conf, capture):
    """``(app, replicator)``: the sending node (device ``sda``) and its replicator."""
    devices, app = _container_server(tmp_path / "local", capture[0])
    config = DBReplicatorConfig(devices=str(devices), mount_check=False)
    return app, ContainerReplicator(config, capture[0], ring=object(), pool=ConnectionPool(1.0, 30.0))


def call(app, method, path, headers=None):
    return Request.blank(path, method=method, headers=headers or {}).get_response(app)


def make_db(app, rows, name_len=10, start=0):
    """The container ``a/c`` on partition 1 with ``rows`` object rows; its broker."""
    call(app, "PUT", "/sda/1/a/c", {"X-Timestamp": ts(1)})
    broker = app.broker_for("sda", 1, "a", "c")
    batch = []
    for i in range(start, start + rows):
        batch.append({"name": ("o%08d" % i).ljust(name_len, "x"), "created_at": ts(2), "size": i,
                      "content_type": "application/octet-stream", "etag": "%032x" % i, "deleted": 0})
        if len(batch) == 5000:
            broker.merge_items(batch)
            batch = []
    broker.merge_items(batch)
    return broker


def peer_of(port):
    return {"ip": "127.0.0.1", "port": port, "device": "sda"}


def tmp_files(app):
    tmp = os.path.join(app.config.devices, "sda", "tmp")
    return sorted(os.listdir(tmp)) if os.path.isdir(tmp) else []


def test_whole_db_send_memory_does_not_grow_with_the_db(local, node):
    app, replicator = local
    peer_app, port = node
    broker = make_db(app, 40000, name_len=120)
    size = os.path.getsize(broker.db_file)
    assert size > 8 * 2 ** 20  # several MB, so a whole copy in memory would show
    info = broker.get_info()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        replicator.send_whole(broker, peer_of(port), 1, hash_path("a", "c"), info["id"])
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # both ends ran in this process (the server in its thread): a few 64 KiB
    # chunks in flight, not the DB (the msgpack put_db peaked at ~4x its size)
    assert peak < 2 * 2 ** 20, "peak %d bytes for a %d byte DB" % (peak, size)
    copy = peer_app.broker_for("sda", 1, "a", "c").get_info()
    assert (copy["object_count"], copy["max_row"]) == (40000, info["max_row"])
    assert copy["id"] != info["id"]
    assert peer_app.broker_for("sda", 1, "a", "c").get_sync(info["id"]) == info["max_row"]
    assert tmp_files(app) == [] and tmp_files(peer_app) == []


def test_whole_db_send_onto_an_existing_db_merges(local, node):
    app, replicator = local
    peer_app, port = node
    broker = make_db(app, 3000)
    make_db(peer_app, 10, start=5000)
    peer_id = peer_app.broker_for("sda", 1, "a", "c").get_info()["id"]
    replicator.send_whole(broker, peer_of(port), 1, hash_path("a", "c"), broker.get_info()["id"])
    merged = peer_app.broker_for("sda", 1, "a", "c").get_info()
    assert merged["object_count"] == 3010 and merged["id"] == peer_id  # merged into, not replaced
    assert tmp_files(app) == [] and tmp_files(peer_app) == []


def test_whole_db_send_refused_leaves_no_temp_files(local, node):
    app, replicator = local
    _peer_app, port = node
    broker = make_db(app, 10)
    with pytest.raises(ObjstoreError):
        replicator.send_whole(broker, {"ip": "127.0.0.1", "port": port, "device": "sdz"}, 1,
                              hash_path("a", "c"), broker.get_info()["id"])  # 507: no such device
    assert tmp_files(app) == []


def wait_for(predicate, seconds=20):
    """Poll ``predicate`` until true (then True) or ``seconds`` pass (False)."""
    deadline = time.time() + seconds
    while not predicate():
        if time.time() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_whole_db_send_to_a_real_server_process(local, tmp_path, objstore_conf, listen_socket):
    """The eventlet server's wsgi.input: a whole copy arrives; a body cut short
    by a sender that goes away leaves no DB and no temp file."""
    app, replicator = local
    server = ServerProcess("container", tmp_path, listen_socket(), objstore_conf, workers=1)
    try:
        broker = make_db(app, 2000, name_len=60)
        info = broker.get_info()
        replicator.send_whole(broker, peer_of(server.port), 1, hash_path("a", "c"), info["id"])
        status, headers, _body = request(server.port, "HEAD", "/sda/1/a/c")
        assert (status, headers["X-Container-Object-Count"]) == (204, "2000")
        other = hash_path("a", "other")
        head = "REPLICATE /sda/1/%s HTTP/1.1\r\nHost: x\r\n%s\r\n" % (other, "".join(
            "%s: %s\r\n" % item for item in put_db_headers("peer", 1 << 20).items()))
        tmp_dir = server.devices / "sda" / "tmp"
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(head.encode() + b"\0" * 100000)
            # the part that arrived is on disk already, not in memory
            assert wait_for(lambda: os.listdir(tmp_dir)), "no temp file while the body arrives"
        assert wait_for(lambda: not os.listdir(tmp_dir)), "temp file left: %s" % os.listdir(tmp_dir)
        assert request(server.port, "HEAD", "/sda/1/a/other")[0] == 404
    finally:
        server.stop()
