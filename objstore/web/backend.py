"""The backend HTTP client: how servers talk to each other (proxy to storage
nodes, object server to container server, replicators to peers).

Connections are kept alive in a small pool per (ip, port). Timeouts:
``conn_timeout`` for connecting, ``node_timeout`` for each read/write.
Works with green sockets when the process is monkey-patched, and with plain
blocking sockets otherwise (tests, CLIs).

Nothing here knows about rings or quorum; callers pick the nodes.
"""

import http.client
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
        self._idle = {}

    def get(self, ip, port):
        """An open HTTPConnection to ``ip:port`` (reused when one is idle)."""
        idle = self._idle.get((ip, port))
        while idle:
            conn = idle.pop()
            if conn.sock is not None:
                conn.sock.settimeout(self.node_timeout)
                return conn
        conn = http.client.HTTPConnection(ip, port, timeout=self.conn_timeout)
        try:
            conn.connect()
        except socket.timeout:
            raise ConnectionTimeout("connect to %s:%s timed out" % (ip, port)) from None
        except OSError as err:
            raise BackendError("connect to %s:%s failed: %s" % (ip, port, err)) from None
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.sock.settimeout(self.node_timeout)
        return conn

    def put(self, ip, port, conn):
        """Return a connection whose response was fully read, for reuse."""
        idle = self._idle.setdefault((ip, port), [])
        if len(idle) < self.max_idle and conn.sock is not None:
            idle.append(conn)
        else:
            conn.close()

    def close_all(self):
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._idle.clear()

    def request(self, ip, port, method, path, headers=None, body=None):
        """Send one request and read the whole response.

        A reused connection that turns out to be closed by the peer is retried
        once on a fresh connection (only safe because the request had not
        been answered yet).

        :returns: BackendResponse
        :raises BackendError: connect or I/O failure (ConnectionTimeout on
            connect timeout).
        """
        headers = dict(headers or {})
        for attempt in (0, 1):
            fresh = attempt == 1 or not self._idle.get((ip, port))
            conn = self.get(ip, port) if attempt == 0 else self._fresh(ip, port)
            try:
                conn.request(method, path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as err:
                conn.close()
                if fresh or attempt == 1:
                    raise BackendError("%s %s:%s%s failed: %s" % (method, ip, port, path, err)) from None
                continue
            except socket.timeout:
                conn.close()
                raise BackendError("%s %s:%s%s timed out" % (method, ip, port, path)) from None
            except (OSError, http.client.HTTPException) as err:
                conn.close()
                raise BackendError("%s %s:%s%s failed: %s" % (method, ip, port, path, err)) from None
            result = BackendResponse(
                resp.status, resp.reason, {k.lower(): v for k, v in resp.getheaders()}, data
            )
            if resp.will_close:
                conn.close()
            else:
                self.put(ip, port, conn)
            return result
        raise BackendError("unreachable")  # pragma: no cover

    def _fresh(self, ip, port):
        self._idle.pop((ip, port), None)
        return self.get(ip, port)


def direct_request(ip, port, method, path, headers=None, body=None, conn_timeout=0.5, node_timeout=10.0):
    """One request without a shared pool (CLIs, tests, rare daemon calls)."""
    pool = ConnectionPool(conn_timeout, node_timeout, max_idle=0)
    return pool.request(ip, port, method, path, headers, body)
