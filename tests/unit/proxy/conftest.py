"""Fake storage nodes for the proxy's unit tests: real HTTP servers on
127.0.0.1 (threads) that answer like object/container/account servers, and a
tiny ring over them. Clearly fakes: they keep objects in a dict."""

import http.server
import re
import socket
import threading
import zlib

import pytest

from objstore.common import footer
from objstore.common.constraints import DEFAULT
from objstore.common.timestamp import Timestamp
from objstore.proxy.server import ProxyApp, ProxyServerConfig


class FakeNode(http.server.ThreadingHTTPServer):
    """One storage node; ``objects[(a, c, o)] = (headers, body)``.

    ``die_after``: a GET closes the connection after that many body bytes.
    ``status``: when set, every request is answered with it.
    ``hold``: when set (a threading.Event), a PUT answers only once it is set.
    ``footers``: takes body footers (common/footer.py) as object servers do;
    False plays an older object server.
    """

    daemon_threads = True

    def __init__(self, index):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.index = index
        self.objects = {}
        self.requests = []
        self.hold = None
        self.die_after = None
        self.status = None
        self.footers = True
        self.node = {"id": index, "region": 1, "zone": index, "ip": "127.0.0.1", "port": self.server_address[1],
                     "replication_ip": "127.0.0.1", "replication_port": self.server_address[1],
                     "device": "sd%d" % index, "weight": 1.0, "meta": "", "index": index}
        self.running = True
        self.socket.settimeout(0.2)
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)
        self.thread.start()

    def _accept_loop(self):
        # a plain blocking accept: socketserver's selector loop was seen to
        # miss connections under heavy load in this test process
        while self.running:
            try:
                conn, addr = self.socket.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            conn.settimeout(None)
            self.process_request(conn, addr)

    def shutdown(self):
        self.running = False
        self.thread.join(2)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _parts(self):
        return [p for p in re.split("/", self.path.split("?")[0]) if p][2:]

    def _answer(self, status, headers=None, body=b""):
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _common(self):
        self.server.requests.append((self.command, self.path, dict(self.headers)))
        if self.server.status:
            self._answer(self.server.status)
            return None
        return self._parts()

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        parts = self._common()
        if parts is None:
            return
        if len(parts) < 3:  # account or container: it exists
            self._answer(204, {"X-Container-Object-Count": "0", "X-Account-Container-Count": "0"})
            return
        stored = self.server.objects.get(tuple(parts))
        if stored is None:
            self._answer(404)
            return
        headers, body = stored
        start, end, status = 0, len(body), 200
        rng = self.headers.get("Range")
        if rng:
            first, _, last = rng.split("=", 1)[1].partition("-")
            start = int(first)
            end = int(last) + 1 if last else len(body)
            status = 206
            headers = dict(headers, **{"Content-Range": "bytes %d-%d/%d" % (start, end - 1, len(body))})
        part = body[start:end]
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(part)))
        self.end_headers()
        if self.command == "HEAD":
            return
        if self.server.die_after is not None:
            self.wfile.write(part[:self.server.die_after])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        self.wfile.write(part)

    def handle_expect_100(self):
        self.send_response_only(100)
        if self.headers.get(footer.HEADER) == footer.FORMAT and self.server.footers:
            self.send_header(footer.HEADER, footer.FORMAT)
        self.end_headers()
        return True

    def _read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", ""):
            data = b""
            while True:
                size = int(self.rfile.readline().strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length", "0"))
        data = self.rfile.read(length)
        if len(data) < length:
            return None
        return data

    def do_PUT(self):
        parts = self._common()
        if parts is None:
            return
        if len(parts) < 3:
            self._answer(201)
            return
        if self.headers.get("If-None-Match") == "*" and tuple(parts) in self.server.objects:
            self._answer(412)
            return
        try:
            body = self._read_body()
        except (ValueError, OSError):
            body = None
        if body is None:
            self.close_connection = True
            return  # the sender went away: store nothing
        import hashlib

        etag = hashlib.md5(body).hexdigest()
        if self.headers.get(footer.HEADER) == footer.FORMAT and self.server.footers:
            body, tail = body[:-footer.SIZE], body[-footer.SIZE:]
            etag, crc = footer.parse(tail)
            if crc != "%08x" % zlib.crc32(body):
                self._answer(422)
                return
        headers = {"ETag": etag, "X-Timestamp": self.headers["X-Timestamp"],
                   "Content-Type": self.headers.get("Content-Type", "")}
        if self.server.hold is not None:
            self.server.hold.wait(10)
        self.server.objects[tuple(parts)] = (headers, body)
        self._answer(201, {"ETag": etag})

    def do_DELETE(self):
        parts = self._common()
        if parts is None:
            return
        found = self.server.objects.pop(tuple(parts), None)
        self._answer(204 if found else 404)

    def do_POST(self):
        parts = self._common()
        if parts is not None:
            self._answer(202 if tuple(parts) in self.server.objects else 404)


class FakeRing:
    """Every path maps to partition 1 on the first ``replicas`` nodes; the
    rest are handoffs in order."""

    def __init__(self, nodes, replicas=3):
        self.nodes = nodes
        self.replicas = replicas

    def get_nodes(self, account, container=None, obj=None):
        return 1, [n.node for n in self.nodes[:self.replicas]]

    def get_part_nodes(self, part):
        return [n.node for n in self.nodes[:self.replicas]]

    def get_more_nodes(self, part):
        for n in self.nodes[self.replicas:]:
            yield dict(n.node)


@pytest.fixture
def fake_nodes():
    made = []

    def make(count):
        for index in range(count):
            made.append(FakeNode(index))
        return made

    yield make
    for node in made:
        node.shutdown()
        node.server_close()


@pytest.fixture
def proxy(fake_nodes, capture):
    """``(app, nodes, handler)``: a ProxyApp over 5 fake nodes (3 primaries, 2 handoffs)."""
    nodes = fake_nodes(5)
    ring = FakeRing(nodes)
    logger, handler = capture
    config = ProxyServerConfig(conn_timeout=0.5, node_timeout=2.0, error_suppression_limit=3,
                               error_suppression_interval=60.0, account_autocreate=True)
    app = ProxyApp(config, logger, ring, ring, ring, DEFAULT)
    yield app, nodes, handler
    app.pool.close_all()


def dead_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def stamp():
    return Timestamp.now().internal
