"""Real storage servers for the proxy's controller tests: one object, one
container and one account server (the real apps over tmp_path devices),
each served by eventlet's WSGI server in its own OS thread (a hub of its
own), and a one-replica ring over them. The proxy app is called in the test
thread with Request.blank and reaches them over 127.0.0.1 sockets."""

import dataclasses
import threading

import pytest

from objstore.account.server import AccountServer, AccountServerConfig
from objstore.common import green
from objstore.common.constraints import DEFAULT
from objstore.container.server import ContainerServer, ContainerServerConfig
from objstore.obj.diskfile import DiskFileManager
from objstore.obj.server import ObjectServer, ObjectServerConfig
from objstore.proxy.server import ProxyApp, ProxyServerConfig
from objstore.web.server import HttpProtocol


class OneNodeRing:
    """Every name maps to partition 0 on the one node; no handoffs."""

    def __init__(self, node):
        self.node = node

    def get_nodes(self, account, container=None, obj=None):
        return 0, [dict(self.node)]

    def get_part_nodes(self, part):
        return [dict(self.node)]

    def get_more_nodes(self, part):
        return iter(())


class ServedApp:
    """``app`` served on 127.0.0.1:<port> by a thread running its own hub."""

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
                green.sleep(0.05)
            server.kill()
            sock.close()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        ready.wait(5)

    def close(self):
        self.stop = True
        self.thread.join(2)


@pytest.fixture
def cluster(tmp_path, objstore_conf, capture):
    """``(proxy_app, object_server_app)`` over real storage servers (account AUTH_test exists)."""
    logger, _handler = capture
    devices = tmp_path / "node"
    (devices / "sda").mkdir(parents=True)
    common = {"devices": str(devices), "mount_check": False}
    obj_config = ObjectServerConfig(**common, fsync_in_threads=False, access_log=False)
    manager = DiskFileManager(str(devices), False, logger)
    servers = [
        ServedApp(ObjectServer(obj_config, logger, manager, DEFAULT)),
        ServedApp(ContainerServer(_config(ContainerServerConfig, common), logger, DEFAULT)),
        ServedApp(AccountServer(_config(AccountServerConfig, common), logger, DEFAULT)),
    ]
    rings = [OneNodeRing({"id": 0, "region": 1, "zone": 1, "ip": "127.0.0.1", "port": served.port,
                          "replication_ip": "127.0.0.1", "replication_port": served.port,
                          "device": "sda", "weight": 1.0, "meta": "", "index": 0}) for served in servers]
    config = ProxyServerConfig(account_autocreate=True, node_timeout=5.0, object_chunk_size=65536)
    app = ProxyApp(config, logger, rings[2], rings[1], rings[0], DEFAULT)
    yield app
    app.pool.close_all()
    for served in servers:
        served.close()


def _config(cls, values):
    names = {field.name for field in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in values.items() if k in names}, **({"access_log": False}))
