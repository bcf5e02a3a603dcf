"""A tiny in-process object cluster for daemon tests: a real ring on fake
ports, one real ObjectServer app per node over real temp devices, and a
pool that hands each request to the app of its port (no sockets)."""

import io
import os

from objstore.account.server import AccountServer, AccountServerConfig
from objstore.common.constraints import DEFAULT
from objstore.common.log import capturing_logger
from objstore.container.server import ContainerServer, ContainerServerConfig
from objstore.obj.diskfile import DiskFileManager
from objstore.obj.server import ObjectServer, ObjectServerConfig
from objstore.ring import Ring, RingBuilder
from objstore.web.app import Request
from objstore.web.backend import BackendResponse
from objstore.common.exceptions import BackendError

BASE_PORT = 6010
KINDS = ("object", "container", "account")  # port offsets 0, 1, 2 on each node


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
        os.makedirs(os.path.join(self.root, "rings"), exist_ok=True)
        self.rings = {}
        for offset, kind in enumerate(KINDS):
            builder = RingBuilder(part_power, replicas, 0)
            for index in range(nodes):
                builder.add_dev(region=1, zone=index + 1, ip="127.0.0.1", port=BASE_PORT + 10 * index + offset,
                                device="sd%d" % index, weight=1.0)
            builder.rebalance(seed=1)
            path = os.path.join(self.root, "rings", "%s.ring.gz" % kind)
            builder.write_ring(path)
            self.rings[kind] = Ring(path)
        self.ring_dir = os.path.join(self.root, "rings")
        self.ring = self.rings["object"]
        self.logger, self.log = capturing_logger("cluster")
        self.apps = {}
        self.managers = {}
        self.pool = InProcessPool(self.apps)
        for index in range(nodes):
            devices = self.devices(index)
            os.makedirs(os.path.join(devices, "sd%d" % index))
            config = ObjectServerConfig(devices=devices, mount_check=False, access_log=False)
            manager = DiskFileManager(devices, False, self.logger)
            self.managers[index] = manager
            self.apps[BASE_PORT + 10 * index] = ObjectServer(config, self.logger, manager, pool=self.pool)
            self.apps[BASE_PORT + 10 * index + 1] = ContainerServer(
                ContainerServerConfig(devices=devices, mount_check=False, access_log=False), self.logger, DEFAULT,
                pool=self.pool)
            self.apps[BASE_PORT + 10 * index + 2] = AccountServer(
                AccountServerConfig(devices=devices, mount_check=False, access_log=False), self.logger, DEFAULT)

    def devices(self, index):
        return os.path.join(self.root, "node%d" % index, "devices")

    def port(self, index):
        return BASE_PORT + 10 * index

    def index_of(self, node):
        return (node["port"] - BASE_PORT) // 10

    def kind_request(self, kind, index, method, path, headers=None, body=None):
        port = BASE_PORT + 10 * index + KINDS.index(kind)
        return self.pool.request("127.0.0.1", port, method, path, headers, body)

    def container_headers(self, account, container, replica):
        """X-Container-* headers as the proxy sends to object replica ``replica``."""
        cpart, cnodes = self.rings["container"].get_nodes(account, container)
        cnode = cnodes[replica % len(cnodes)]
        return {"X-Container-Host": "%s:%s" % (cnode["ip"], cnode["port"]),
                "X-Container-Device": cnode["device"], "X-Container-Partition": str(cpart)}

    def request(self, index, method, path, headers=None, body=None):
        return self.pool.request("127.0.0.1", self.port(index), method, path, headers, body)

    def locate(self, obj, account="a", container="c"):
        """``(part, [node indexes of the primaries], [handoff indexes])``."""
        part, nodes = self.ring.get_nodes(account, container, obj)
        handoffs = [self.index_of(n) for n in self.ring.get_more_nodes(part)]
        return part, [self.index_of(n) for n in nodes], handoffs

    def object_path(self, index, part, obj, account="a", container="c"):
        return "/sd%d/%d/%s/%s/%s" % (index, part, account, container, obj)
