"""The backend client against a real HTTP/1.1 server on 127.0.0.1:0:
``request`` (bytes, file and empty bodies, HEAD, keep-alive reuse, the
retry of a connection the peer closed while idle, timeouts) and quote_path."""

import http.server
import io
import threading

import pytest

from objstore.common.exceptions import BackendError
from objstore.web.backend import ConnectionPool, direct_request, quote_path


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _answer(self, status, body, close=False):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Seen-Length", self.headers.get("Content-Length", "none"))
        self.send_header("X-Conn", str(self.client_address[1]))
        if close:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        self.server.conns.add(self.client_address[1])
        if self.path == "/slow":
            self.server.release.wait(5)
        self._answer(200, b"got " + self.path.encode())

    def do_HEAD(self):
        self._answer(204 if self.path == "/empty" else 200, b"12345")

    def do_PUT(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self._answer(201, b"%d:%s" % (len(body), body[:10]))

    def do_DELETE(self):
        self._answer(404, b"", close=True)


@pytest.fixture
def server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.conns = set()
    srv.release = threading.Event()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.release.set()
    srv.shutdown()
    srv.server_close()


def test_request_bodies_and_answers(server):
    port = server.server_address[1]
    pool = ConnectionPool(1, 5)
    resp = pool.request("127.0.0.1", port, "GET", "/a%20b")
    assert (resp.status, resp.body) == (200, b"got /a%20b")
    assert resp.getheader("X-SEEN-LENGTH") == "0"  # no body: an empty one, announced
    resp = pool.request("127.0.0.1", port, "PUT", "/o", {"X-Timestamp": 1}, b"hello world")
    assert (resp.status, resp.body) == (201, b"11:hello worl")
    data = bytes(range(256)) * 1000
    resp = pool.request("127.0.0.1", port, "PUT", "/f", {"Content-Length": str(len(data))}, io.BytesIO(data))
    assert (resp.status, resp.body) == (201, b"256000:" + data[:10])
    resp = pool.request("127.0.0.1", port, "HEAD", "/h")
    assert (resp.status, resp.body, resp.headers["content-length"]) == (200, b"", "5")


def test_connections_are_reused_and_a_closing_answer_is_not(server):
    port = server.server_address[1]
    pool = ConnectionPool(1, 5)
    conns = {pool.request("127.0.0.1", port, "GET", "/x").headers["x-conn"] for _ in range(5)}
    assert len(conns) == 1
    assert pool.request("127.0.0.1", port, "DELETE", "/x").status == 404  # Connection: close
    assert not pool._stream_idle[("127.0.0.1", port)]
    assert pool.request("127.0.0.1", port, "GET", "/x").headers["x-conn"] not in conns


def test_an_idle_connection_the_peer_closed_is_retried_once(server):
    port = server.server_address[1]
    pool = ConnectionPool(1, 5)
    pool.request("127.0.0.1", port, "GET", "/x")
    (idle,) = pool._stream_idle[("127.0.0.1", port)]
    idle.sock.shutdown(2)  # as if the server had dropped it while idle
    assert pool.request("127.0.0.1", port, "GET", "/y").body == b"got /y"


def test_timeouts_and_refused_connections_are_backend_errors(server, listen_socket):
    port = server.server_address[1]
    with pytest.raises(BackendError, match="timed out"):
        ConnectionPool(1, 0.2).request("127.0.0.1", port, "GET", "/slow")
    sock = listen_socket()
    dead = sock.getsockname()[1]
    sock.close()
    with pytest.raises(BackendError):
        direct_request("127.0.0.1", dead, "GET", "/")


def test_quote_path():
    assert quote_path("sda", 3, "a b", None, "c/d é") == "/sda/3/a%20b/c/d%20%C3%A9"
