"""The backend HTTP client: how servers talk to each other (proxy to storage
nodes, object server to container server, replicators to peers).

Connections are kept alive in a small pool per (ip, port). Timeouts:
``conn_timeout`` for connecting, ``node_timeout`` for each read/write.
Works with green sockets when the process is monkey-patched, and with plain
blocking sockets otherwise (tests, CLIs).

Nothing here knows about rings or quorum; callers pick the nodes.
"""

import socket
import urllib.parse

from objstore.common.exceptions import BackendError, ConnectionTimeout

CHUNK = 65536


def quote_path(*parts):
    """``/dev/part/a/c/o`` with each part percent-quoted (``/`` kept in the last)."""
    quoted = []
    for part in parts:
        if part is None:
            continue
        if isinstance(part, bytes):
            part = part.decode("utf-8", "surrogateescape")
        quoted.append(urllib.parse.quote(str(part), safe="/"))
    return "/" + "/".join(quoted)


class BackendResponse:
    """A fully read response: ``status``, ``headers`` (lower-case keys), ``body``."""

    __slots__ = ("status", "reason", "headers", "body")

    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body

    def getheader(self, name, default=None):
        return self.headers.get(name.lower(), default)


class ConnectionPool:
    """Idle keep-alive connections per (ip, port).

    :param conn_timeout: seconds to wait for a TCP connect.
    :param node_timeout: seconds to wait on any one read or write.
    :param max_idle: idle connections kept per node.
    """

    def __init__(self, conn_timeout=0.5, node_timeout=10.0, max_idle=16):
        self.conn_timeout = conn_timeout
        self.node_timeout = node_timeout
        self.max_idle = max_idle
        self._stream_idle = {}  # (ip, port) -> [StreamConnection]

    def close_all(self):
        for idle in list(self._stream_idle.values()):
            for conn in idle:
                conn.close()
        self._stream_idle.clear()

    def request(self, ip, port, method, path, headers=None, body=None):
        """Send one request and read the whole response.

        Goes over the same keep-alive StreamConnections as :meth:`stream`
        (its own HTTP/1.1 code: http.client parsed every response's headers
        with the email package, a good part of an object server's CPU per
        container update). ``body`` is bytes, a file-like object with
        ``read(n)`` (then the caller sets Content-Length), or None (sent as
        an empty body with ``Content-Length: 0``). A reused connection that
        turns out to be closed by the peer is retried once on a fresh
        connection (only safe because the request had not been answered yet).

        :returns: BackendResponse
        :raises BackendError: connect or I/O failure (ConnectionTimeout on
            connect timeout).
        """
        resp = self.stream(ip, port, method, path, headers, body=b"" if body is None else body)
        try:
            data = resp.read_all()
        except BaseException:  # an error, or a timeout of the caller's: the connection is not reusable
            resp.close()
            raise
        resp.release()
        return BackendResponse(resp.status, resp.reason, resp.headers, data)

    def _stream_connect(self, ip, port):
        try:
            sock = socket.create_connection((ip, port), timeout=self.conn_timeout)
        except socket.timeout:
            raise ConnectionTimeout("connect to %s:%s timed out" % (ip, port)) from None
        except OSError as err:
            raise BackendError("connect to %s:%s failed: %s" % (ip, port, err)) from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(self.node_timeout)
        return StreamConnection(ip, port, sock)

    def _stream_get(self, ip, port):
        idle = self._stream_idle.get((ip, port))
        while idle:
            conn = idle.pop()
            conn.reused = True
            conn.sock.settimeout(self.node_timeout)
            return conn
        return self._stream_connect(ip, port)

    def put_stream(self, conn):
        """Return a StreamConnection whose response was fully read."""
        idle = self._stream_idle.setdefault((conn.ip, conn.port), [])
        if len(idle) < self.max_idle:
            conn.reused = False
            idle.append(conn)
        else:
            conn.close()

    def stream(self, ip, port, method, path, headers=None, body=None, expect_continue=False):
        """Send a request's head (and ``body`` if bytes) and read the response head.

        - ``body`` bytes: sent whole (Content-Length is set from it); a
          file-like object: read and sent to its end (the caller sets
          Content-Length).
        - ``expect_continue``: the head carries ``Expect: 100-continue``; the
          returned response may be a 100 — then stream the body with
          ``resp.conn.send``/``send_chunk`` and call ``resp.conn.read_head(method)``.
        - otherwise (no body): the final response, body not yet read.

        A reused idle connection that fails before any answer is retried once on
        a fresh one (the request had not been seen by the node).

        :returns: StreamResponse (its ``pool`` set so ``release`` can reuse it).
        :raises BackendError: connect or I/O failure (ConnectionTimeout on connect).
        """
        headers = dict(headers) if headers else {}
        is_file = hasattr(body, "read")
        if body is not None and not is_file:
            headers["Content-Length"] = str(len(body))
        if expect_continue:
            headers["Expect"] = "100-continue"
        for attempt in (0, 1):
            conn = self._stream_get(ip, port) if attempt == 0 else self._stream_connect(ip, port)
            consumed = False  # a file body, once read from, cannot be sent again
            try:
                small = body if not is_file and body and len(body) <= CHUNK else b""
                conn.send_head(method, path, headers, small)  # one write for a small request
                if is_file:
                    while True:
                        data = body.read(CHUNK)
                        if not data:
                            break
                        consumed = True
                        conn.send(data)
                elif body and not small:
                    conn.send(body)
                resp = conn.read_head(method)
            except (BackendError, OSError) as err:
                conn.close()
                if conn.reused and attempt == 0 and not consumed and not isinstance(err, socket.timeout):
                    continue
                if isinstance(err, socket.timeout):
                    raise BackendError("%s %s:%s%s timed out" % (method, ip, port, path)) from None
                raise BackendError("%s %s:%s%s failed: %s" % (method, ip, port, path, err)) from None
            except BaseException:  # a timeout of the caller's (green.Timeout) mid-request
                conn.close()
                raise
            resp.pool = self
            return resp
        raise BackendError("unreachable")  # pragma: no cover


def direct_request(ip, port, method, path, headers=None, body=None, conn_timeout=0.5, node_timeout=10.0):
    """One request without a shared pool (CLIs, tests, rare daemon calls)."""
    pool = ConnectionPool(conn_timeout, node_timeout, max_idle=0)
    return pool.request(ip, port, method, path, headers, body)


# --- streaming connections ---------------------------------------------------
# The proxy needs more than request(): a PUT whose body follows an
# ``Expect: 100-continue`` handshake, and GET bodies read a chunk at a time.
# http.client hides the interim 100 response and owns its read buffer, so the
# streaming path speaks HTTP/1.1 itself over one socket + one buffered reader
# kept for the connection's whole life (keep-alive safe).

_NO_BODY_STATUSES = frozenset((100, 101, 204, 304))
_MAX_LINE = 65536
_MAX_HEADERS = 256


class StreamConnection:
    """One keep-alive HTTP/1.1 connection to a node.

    Use through :meth:`ConnectionPool.stream`; call :meth:`StreamResponse.release`
    (body fully read: the connection goes back to the pool) or ``close``.
    """

    __slots__ = ("ip", "port", "sock", "rfile", "reused")

    def __init__(self, ip, port, sock, reused=False):
        self.ip = ip
        self.port = port
        self.sock = sock
        self.rfile = sock.makefile("rb", CHUNK)
        self.reused = reused

    def send_head(self, method, path, headers, body=b""):
        """Send the request line and headers, and ``body`` (small bytes) in
        the same write."""
        lines = ["%s %s HTTP/1.1\r\nHost: %s:%s\r\n" % (method, path, self.ip, self.port)]
        for key, value in headers.items():
            lines.append("%s: %s\r\n" % (key, value))
        lines.append("\r\n")
        self.sock.sendall("".join(lines).encode("latin-1", "replace") + body)

    def send(self, data):
        # a memoryview: the green socket's sendall re-slices what is left after
        # each partial send, which copies a bytes body (quadratic for 1 MiB chunks)
        self.sock.sendall(memoryview(data))

    def send_chunk(self, data):
        """One chunk of a chunked body (an empty ``data`` ends the body)."""
        if data:
            self.sock.sendall(b"%x\r\n%s\r\n" % (len(data), data))
        else:
            self.sock.sendall(b"0\r\n\r\n")

    def read_head(self, method="GET"):
        """Read a status line and headers.

        :returns: a StreamResponse (status 100 means: send the body, then
            call read_head again for the final answer).
        """
        line = self.rfile.readline(_MAX_LINE)
        if not line:
            raise BackendError("%s:%s closed the connection" % (self.ip, self.port))
        parts = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            raise BackendError("%s:%s sent a bad status line %r" % (self.ip, self.port, line[:80]))
        status = int(parts[1])
        reason = parts[2] if len(parts) > 2 else ""
        headers = {}
        for _ in range(_MAX_HEADERS):
            hline = self.rfile.readline(_MAX_LINE)
            if hline in (b"\r\n", b"\n", b""):
                break
            key, _sep, value = hline.decode("latin-1").partition(":")
            key = key.strip().lower()
            value = value.strip()
            if key in headers and key != "content-length":
                headers[key] += ", " + value
            else:
                headers[key] = value
        else:
            raise BackendError("%s:%s sent too many headers" % (self.ip, self.port))
        return StreamResponse(self, status, reason, headers, method, parts[0])

    def close(self):
        try:
            self.rfile.close()
        finally:
            try:
                self.sock.close()
            except OSError:
                pass


class StreamResponse:
    """A response whose body is read on demand.

    ``headers`` has lower-case keys. ``read(n)`` returns up to n bytes (b''
    at the end); ``release()`` drains what is left of a small body and hands
    the connection back to the pool; ``close()`` drops the connection.
    """

    __slots__ = ("conn", "status", "reason", "headers", "remaining", "chunked", "keep_alive", "pool", "done")

    def __init__(self, conn, status, reason, headers, method, version):
        self.conn = conn
        self.status = status
        self.reason = reason
        self.headers = headers
        self.pool = None
        connection = headers.get("connection", "").lower()
        self.keep_alive = version == "HTTP/1.1" and "close" not in connection
        self.chunked = False
        if method == "HEAD" or status in _NO_BODY_STATUSES or 100 <= status < 200:
            self.remaining = 0
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            self.chunked = True
            self.remaining = 0  # bytes left in the current chunk
        elif "content-length" in headers:
            try:
                self.remaining = int(headers["content-length"])
            except ValueError:
                raise BackendError("bad Content-Length from %s:%s" % (conn.ip, conn.port)) from None
        else:
            self.remaining = -1  # until the peer closes
            self.keep_alive = False
        self.done = self.remaining == 0 and not self.chunked

    def getheader(self, name, default=None):
        return self.headers.get(name.lower(), default)

    def read(self, size=CHUNK):
        """Up to ``size`` bytes of body; b'' when it is all read.

        :raises BackendError: the peer closed early or timed out.
        """
        if self.done:
            return b""
        if self.conn is None:
            raise BackendError("read from a closed response")
        try:
            if self.chunked:
                return self._read_chunked(size)
            if self.remaining < 0:
                data = self.conn.rfile.read1(size)
                if not data:
                    self.done = True
                return data
            data = self.conn.rfile.read1(min(size, self.remaining))
        except socket.timeout:
            raise BackendError("read from %s:%s timed out" % (self.conn.ip, self.conn.port)) from None
        except OSError as err:
            raise BackendError("read from %s:%s failed: %s" % (self.conn.ip, self.conn.port, err)) from None
        if not data:
            raise BackendError("%s:%s closed mid-body" % (self.conn.ip, self.conn.port))
        self.remaining -= len(data)
        if self.remaining == 0:
            self.done = True
        return data

    def _read_chunked(self, size):
        rfile = self.conn.rfile
        if self.remaining == 0:
            line = rfile.readline(_MAX_LINE)
            if not line:
                raise BackendError("%s:%s closed mid-body" % (self.conn.ip, self.conn.port))
            try:
                self.remaining = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise BackendError("bad chunk size from %s:%s" % (self.conn.ip, self.conn.port)) from None
            if self.remaining == 0:
                while rfile.readline(_MAX_LINE) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                self.done = True
                return b""
        data = rfile.read1(min(size, self.remaining))
        if not data:
            raise BackendError("%s:%s closed mid-body" % (self.conn.ip, self.conn.port))
        self.remaining -= len(data)
        if self.remaining == 0:
            rfile.readline(_MAX_LINE)  # the CRLF after the chunk
        return data

    def read_all(self, limit=None):
        """The whole (remaining) body; stops at ``limit`` bytes if given."""
        parts = []
        total = 0
        while True:
            data = self.read(CHUNK)
            if not data:
                break
            parts.append(data)
            total += len(data)
            if limit is not None and total >= limit:
                break
        return b"".join(parts)

    def release(self):
        """Body fully read: reuse the connection; otherwise close it."""
        conn, self.conn = self.conn, None
        if conn is None:
            return
        if self.done and self.keep_alive and self.pool is not None:
            self.pool.put_stream(conn)
        else:
            conn.close()

    def close(self):
        conn, self.conn = self.conn, None
        if conn is not None:
            conn.close()
