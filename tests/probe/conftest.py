"""Probe harness: the functional cluster launcher (real server processes on
127.0.0.1, 4 storage nodes, 3-replica rings, a proxy with tempauth) plus the
repair daemons run once, in this process, against those real servers.

"converge" runs the replicators, the updaters, then the replicators again on
every node, as issue 6 defines it. Daemons run in-process (the same classes
``--once`` runs) because starting ~20 interpreters per converge would make the
probe run too slow; everything they talk to is a real server over HTTP.
"""

import glob
import http.client
import json
import os
import shutil
import time

import pytest

from objstore.cli import catalog
from objstore.common import hashing
from objstore.common.log import get_logger
from objstore.daemon.runner import load_daemon_config, run_once
from objstore.web.backend import direct_request, quote_path
from objstore.ring import RingBuilder
from tests.functional.cluster import Cluster, Server, bind

REPLICATORS = ("account-replicator", "container-replicator", "object-replicator")
UPDATERS = ("container-updater", "object-updater")


def pytest_collection_modifyitems(items):
    for item in items:
        if os.sep + "probe" + os.sep in str(item.fspath):
            item.add_marker(pytest.mark.probe)


class ProbeCluster(Cluster):
    """The functional Cluster plus daemon configs, converge and direct checks."""

    def __init__(self, root, **kw):
        kw.setdefault("part_power", 6)
        kw.setdefault("proxy_workers", 1)
        super().__init__(root, **kw)
        self.daemon_log = None

    # --- daemons -------------------------------------------------------------------
    def daemon_conf(self, kind, node):
        """A config file for ``kind``'s daemons on ``node`` (the server's
        section with its real port, so the daemon finds its ring devices)."""
        path = self.path("etc", "%s-daemons-%d.conf" % (kind, node))
        if not os.path.exists(path):
            with open(path, "w") as handle:
                handle.write(
                    "[%s-server]\nbind_ip = 127.0.0.1\nbind_port = %d\ndevices = %s\nmount_check = false\n"
                    "ring_dir = %s\n\n[object-auditor]\nfiles_per_second = 0\nbytes_per_second = 0\n"
                    "zero_byte_files_per_second = 0\n"
                    % (kind, self.server(kind, node).port, self.devices(node), self.path("rings")))
        return path

    def run_daemon(self, name, nodes=None):
        """Run daemon ``name`` once on ``nodes`` (default: every node); returns
        ``{node: stats}``. Raises when this build lacks the daemon."""
        program = catalog.BY_NAME[name]
        module = catalog.find_module(program)
        assert module is not None, "no module for %s in this build" % name
        cls = catalog.daemon_class(program, module)
        os.environ["OBJSTORE_CONF"] = self.objstore_conf
        hashing.load_secrets.cache_clear()
        logger = get_logger("probe-" + name, self.path("logs", "daemons.log"), "INFO")
        results = {}
        for node in nodes or range(1, self.nodes + 1):
            config = load_daemon_config(self.daemon_conf(program.kind, node), name, cls.config_cls, cls.server_section)
            results[node] = run_once(cls(config, logger))
        return results

    def has_daemon(self, name):
        program = catalog.BY_NAME.get(name)
        return program is not None and catalog.find_module(program) is not None

    def converge(self):
        """Replicators, updaters, replicators: once each on every node."""
        for group in (REPLICATORS, UPDATERS, REPLICATORS):
            for name in group:
                if self.has_daemon(name):
                    self.run_daemon(name)

    # --- servers -----------------------------------------------------------------
    def stop_server(self, kind, node):
        self.server(kind, node).stop()

    def start_server(self, kind, node):
        server = self.server(kind, node)
        server.start(self.env)
        deadline = time.time() + 30
        while not server.listening():
            assert server.running, "%s-server %d exited; see %s" % (kind, node, server.log)
            assert time.time() < deadline, "%s-server %d does not listen" % (kind, node)
            time.sleep(0.05)

    # --- ring changes -----------------------------------------------------------------
    def builder(self, kind, nodes):
        """A builder equal to the one ``setup`` used, for nodes ``1..nodes``."""
        builder = RingBuilder(self.part_power, self.replicas, 1)
        for node in range(1, nodes + 1):
            builder.add_dev(region=1, zone=node, ip="127.0.0.1", port=self.server(kind, node).port,
                            device=self.device_name(node), weight=100)
        builder.rebalance(seed=1)
        return builder

    def add_node(self):
        """Start a new storage node (its servers, not yet in the rings); returns its number."""
        node = self.nodes + 1
        os.makedirs(os.path.join(self.devices(node), self.device_name(node)), exist_ok=True)
        for kind in ("account", "container", "object"):
            conf = self.path("etc", "%s-server-%d.conf" % (kind, node))
            with open(conf, "w") as handle:
                handle.write("[%s-server]\nbind_ip = 127.0.0.1\nworkers = 0\ndevices = %s\n"
                             "mount_check = false\nring_dir = %s\nlog_level = INFO\n"
                             % (kind, self.devices(node), self.path("rings")))
            log = self.path("logs", "%s-server-%d.log" % (kind, node))
            self.servers[(kind, node)] = Server(kind, node, conf, log, bind())
            self.start_server(kind, node)
        self.nodes = node
        return node

    def rebalance_with(self, node):
        """Add ``node``'s devices to every ring, rebalance, write the rings."""
        for kind in ("account", "container", "object"):
            builder = self.builder(kind, node - 1)
            current = self.ring(kind)
            same = all(
                [d["id"] for d in current.get_part_nodes(part)] == [builder._rows[r][part] for r in range(len(builder._rows))]
                for part in range(current.partition_count))
            assert same, "could not rebuild the %s builder" % kind
            builder.add_dev(region=1, zone=node, ip="127.0.0.1", port=self.server(kind, node).port,
                            device=self.device_name(node), weight=100)
            builder.pretend_min_part_hours_passed()
            builder.rebalance(seed=2)
            builder.write_ring(self.path("rings", "%s.ring.gz" % kind))
            self.rings.pop(kind, None)

    # --- placement and direct access -------------------------------------------------
    def nodes_for(self, account, container=None, obj=None):
        """``(part, [primary node numbers], [handoff node numbers])`` in ring order."""
        kind = "object" if obj is not None else "container" if container is not None else "account"
        ring = self.ring(kind)
        part, devs = ring.get_nodes(account, container, obj)
        primaries = [self.node_of(dev) for dev in devs]
        handoffs = [self.node_of(dev) for dev in ring.get_more_nodes(part)]
        return part, primaries, handoffs

    def direct(self, kind, node, method, account, container=None, obj=None, headers=None, body=None, query=""):
        """A request straight to ``node``'s ``kind`` server (bypassing the proxy)."""
        part = self.ring(kind).get_part(account, container, obj)
        path = quote_path(self.device_name(node), str(part), account, container, obj) + query
        return direct_request("127.0.0.1", self.server(kind, node).port, method, path, headers or {}, body,
                              node_timeout=30)

    def object_files(self, node, account, container, obj, ext=".data"):
        """Paths of the object's files with ``ext`` on ``node``'s device."""
        part = self.ring("object").get_part(account, container, obj)
        name_hash = hashing.hash_path(account, container, obj)
        return sorted(glob.glob(os.path.join(self.devices(node), self.device_name(node), "objects", str(part),
                                             name_hash[-3:], name_hash, "*" + ext)))

    def wipe_device(self, node):
        """Remove everything a node's device holds (a replaced disk)."""
        dev = os.path.join(self.devices(node), self.device_name(node))
        for name in os.listdir(dev):
            shutil.rmtree(os.path.join(dev, name), ignore_errors=True)

    # --- through the proxy ---------------------------------------------------------
    def client_request(self, token, method, path, headers=None, body=None):
        all_headers = {"X-Auth-Token": token}
        all_headers.update(headers or {})
        conn = http.client.HTTPConnection("127.0.0.1", self.proxy_port, timeout=60)
        try:
            conn.request(method, path, body=body, headers=all_headers)
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()

    def listing(self, token, url_path, container):
        status, _headers, body = self.client_request(token, "GET", "%s/%s?format=json" % (url_path, container))
        assert status in (200, 204), status
        return [row["name"] for row in json.loads(body or b"[]")]


def _start_cluster(root):
    cluster = ProbeCluster(root)
    try:
        cluster.start()
    except Exception:
        cluster.stop()
        raise
    return cluster


@pytest.fixture(scope="module")
def shared_cluster(tmp_path_factory):
    """One cluster for a module's stories; each leaves every server running."""
    cluster = _start_cluster(tmp_path_factory.mktemp("probe"))
    yield cluster
    cluster.stop()


@pytest.fixture
def probe(shared_cluster, monkeypatch):
    """The shared cluster, with every server restarted after the test."""
    monkeypatch.setenv("OBJSTORE_CONF", shared_cluster.objstore_conf)
    hashing.load_secrets.cache_clear()
    yield shared_cluster
    for (kind, node), server in shared_cluster.servers.items():
        if not server.running:
            if kind == "proxy":
                server.start(shared_cluster.env)
                shared_cluster.wait_ready()
            else:
                shared_cluster.start_server(kind, node)
    hashing.load_secrets.cache_clear()


@pytest.fixture
def fresh_probe(tmp_path, monkeypatch):
    """A cluster of its own (for stories that change the rings)."""
    cluster = _start_cluster(tmp_path)
    monkeypatch.setenv("OBJSTORE_CONF", cluster.objstore_conf)
    hashing.load_secrets.cache_clear()
    yield cluster
    cluster.stop()
    hashing.load_secrets.cache_clear()


@pytest.fixture
def tester(probe):
    """``(url path, token)`` of test:tester (account AUTH_test)."""
    url, token = probe.auth("test:tester", "testing")
    return "/" + url.split("/", 3)[3], token
