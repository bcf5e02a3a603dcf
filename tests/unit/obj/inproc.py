"""A tiny in-process object cluster for daemon tests: a real ring on fake
ports, one real ObjectServer app per node over real temp devices, and a
pool that hands each request to the app of its port (no sockets)."""

import io
import os

from objstore.common.log import capturing_logger
from objstore.obj.diskfile import DiskFileManager
from objstore.obj.server import ObjectServer, ObjectServerConfig
from objstore.ring import Ring, RingBuilder
from objstore.web.app import Request
from objstore.web.backend import BackendResponse
from objstore.common.exceptions import BackendError

BASE_PORT = 6010


class InProcessPool:
    """``request(ip, port, ...)`` answered by ``apps[port]``; ports in
    ``down`` refuse like a stopped server."""

    def __init__(self, apps):
        self.apps = apps
        self.down = set()
        self.sent = []

    def request(self, ip, port, method, path, headers=None, body=None):
        self.sent.append((port, method, path))
        if port in self.down or port not in self.apps:
            raise BackendError("connect to %s:%s failed: refused" % (ip, port))
        if body is not None and not isinstance(body, bytes):
            chunks = []
            while True:
                chunk = body.read(65536)
                if not chunk:
                    break
                chunks.append(chunk)
            body = b"".join(chunks)
        req = Request.blank(path, environ={"REQUEST_METHOD": method}, headers=dict(headers or {}))
        if body is not None:
            req.body_file = io.BytesIO(body)
            req.content_length = len(body)
        resp = req.get_response(self.apps[port])
        return BackendResponse(resp.status_int, "", {k.lower(): v for k, v in resp.headers.items()}, resp.body)


class Cluster:
    """``nodes`` storage nodes with one device each (``sd<n>``), 3 replicas."""

    def __init__(self, root, nodes=4, part_power=3, replicas=3):
        self.root = str(root)
        builder = RingBuilder(part_power, replicas, 0)
        for index in range(nodes):
            builder.add_dev(region=1, zone=index + 1, ip="127.0.0.1", port=BASE_PORT + 10 * index,
                            device="sd%d" % index, weight=1.0)
        builder.rebalance(seed=1)
        os.makedirs(os.path.join(self.root, "rings"), exist_ok=True)
        self.ring_path = os.path.join(self.root, "rings", "object.ring.gz")
        builder.write_ring(self.ring_path)
        self.ring = Ring(self.ring_path)
        self.logger, self.log = capturing_logger("cluster")
        self.apps = {}
        self.managers = {}
        for index in range(nodes):
            devices = self.devices(index)
            os.makedirs(os.path.join(devices, "sd%d" % index))
            config = ObjectServerConfig(devices=devices, mount_check=False, access_log=False)
            manager = DiskFileManager(devices, False, self.logger)
            self.managers[index] = manager
            self.apps[BASE_PORT + 10 * index] = ObjectServer(config, self.logger, manager)
        self.pool = InProcessPool(self.apps)

    def devices(self, index):
        return os.path.join(self.root, "node%d" % index, "devices")

    def port(self, index):
        return BASE_PORT + 10 * index

    def index_of(self, node):
        return (node["port"] - BASE_PORT) // 10

    def request(self, index, method, path, headers=None, body=None):
        return self.pool.request("127.0.0.1", self.port(index), method, path, headers, body)

    def locate(self, obj, account="a", container="c"):
        """``(part, [node indexes of the primaries], [handoff indexes])``."""
        part, nodes = self.ring.get_nodes(account, container, obj)
        handoffs = [self.index_of(n) for n in self.ring.get_more_nodes(part)]
        return part, [self.index_of(n) for n in nodes], handoffs

    def object_path(self, index, part, obj, account="a", container="c"):
        return "/sd%d/%d/%s/%s/%s" % (index, part, account, container, obj)
