"""Real storage servers for the proxy's tests: one object, one container and
one account server (the real apps over a devices dir), each served by
eventlet's WSGI server in its own OS thread (a hub of its own), and a
one-replica ring over each. A proxy app called in the test thread (with
Request.blank) reaches them over 127.0.0.1 sockets. Used by
controllers/conftest.py and middleware/test_tempurl.py."""

import threading

from objstore.account.server import AccountServer, AccountServerConfig
from objstore.common import green
from objstore.common.constraints import DEFAULT
from objstore.container.server import ContainerServer, ContainerServerConfig
from objstore.obj.diskfile import DiskFileManager
from objstore.obj.server import ObjectServer, ObjectServerConfig
from objstore.web.app import Request
from objstore.web.server import HttpProtocol


class ServedApp:
    """``app`` served on 127.0.0.1:<port> by an OS thread running its own hub."""

    def __init__(self, app):
        self.app = app
        ready = threading.Event()
        self.port = None
        self.stop = False

        def run():
            sock = green.listen(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
            server = green.spawn(green.wsgi.server, sock, app, log_output=False, protocol=HttpProtocol,
                                 capitalize_response_headers=False, minimum_chunk_size=65536)
            ready.set()
            while not self.stop:
                green.sleep(0.02)
            server.kill()
            sock.close()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        assert ready.wait(5)

    def close(self):
        self.stop = True
        self.thread.join(2)


class OneNodeRing:
    """Every name maps to partition 0 on the one node at 127.0.0.1:``port``; no handoffs."""

    def __init__(self, port):
        self.node = {"id": 0, "region": 1, "zone": 1, "ip": "127.0.0.1", "port": port,
                     "replication_ip": "127.0.0.1", "replication_port": port,
                     "device": "sda", "weight": 1.0, "meta": "", "index": 0}

    def get_nodes(self, account, container=None, obj=None):
        return 0, [dict(self.node)]

    def get_part_nodes(self, part):
        return [dict(self.node)]

    def get_more_nodes(self, part):
        return iter(())


def start(tmp_path, logger):
    """Serve the three storage apps over a devices dir ``tmp_path/node`` (device ``sda``).

    Returns ``(servers, rings)``: the ServedApps and their rings, both in the
    order object, container, account (ProxyApp takes the rings reversed).
    """
    devices = tmp_path / "node"
    (devices / "sda").mkdir(parents=True)
    common = {"devices": str(devices), "mount_check": False, "access_log": False}
    manager = DiskFileManager(str(devices), False, logger)
    servers = [
        ServedApp(ObjectServer(ObjectServerConfig(**common, fsync_in_threads=False), logger, manager, DEFAULT)),
        ServedApp(ContainerServer(ContainerServerConfig(**common), logger, DEFAULT)),
        ServedApp(AccountServer(AccountServerConfig(**common), logger, DEFAULT)),
    ]
    return servers, [OneNodeRing(served.port) for served in servers]


def stop(proxy, servers):
    proxy.pool.close_all()
    for served in servers:
        served.close()


def call(app, method, path, headers=None, body=None, environ=None):
    """``method path`` through ``app`` (a proxy or a pipeline) in the test thread; the response."""
    req = Request.blank(path, environ=dict(environ or {}, REQUEST_METHOD=method), headers=headers or {})
    if body is not None:
        req.body = body
    return req.get_response(app)
