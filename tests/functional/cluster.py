"""A whole objstore cluster on 127.0.0.1 for functional tests: N storage
nodes, each with an account, container and object server, 3-replica rings,
and a proxy with tempauth, every server a real subprocess.

Ports are ephemeral: the test process binds every listening socket first
(so the rings can name the ports before any server starts) and hands each
to its server with ``--listen-fd``. A stopped server's socket is closed too,
so the proxy sees "connection refused" at once; ``start`` binds the same
port again.

Reusable outside pytest::

    with Cluster(tmpdir) as cluster:
        url, token = cluster.auth("test:tester", "testing")
"""

import http.client
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time

from objstore.common.hashing import write_objstore_conf
from objstore.ring import Ring, RingBuilder

KINDS = ("account", "container", "object")
MODULES = {"account": "objstore.account.server", "container": "objstore.container.server",
           "object": "objstore.obj.server", "proxy": "objstore.proxy.server"}
USERS = {
    "admin:admin": ("admin", ".admin .reseller_admin"),
    "test:tester": ("testing", ".admin"),
    "test2:tester2": ("testing2", ".admin"),
    "test:tester3": ("testing3", ""),
}


def bind(port=0):
    """A listening, inheritable socket on 127.0.0.1 (``port`` 0: ephemeral)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(256)
    sock.set_inheritable(True)
    return sock


class Server:
    """One server process and its listening socket."""

    def __init__(self, kind, node, conf, log, sock):
        self.kind = kind
        self.node = node
        self.conf = conf
        self.log = log
        self.sock = sock
        self.port = sock.getsockname()[1]
        self.proc = None
        self.log_offset = 0

    def start(self, env):
        if self.running:
            return  # a second start would leave the first process running, untracked
        if self.sock is None:
            self.sock = bind(self.port)
        self.log_offset = os.path.getsize(self.log) if os.path.exists(self.log) else 0
        cmd = [sys.executable, "-m", MODULES[self.kind], self.conf, "--listen-fd", str(self.sock.fileno())]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=log, pass_fds=(self.sock.fileno(),))

    def stop(self, sig=signal.SIGTERM, close_socket=True):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
        if close_socket and self.sock is not None:
            self.sock.close()
            self.sock = None

    def listening(self):
        """Whether this start of the server has logged that it listens."""
        try:
            with open(self.log, "rb") as handle:
                handle.seek(self.log_offset)
                return b" listening on " in handle.read()
        except OSError:
            return False

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None


class Cluster:
    """See the module docstring.

    :param root: an empty directory for configs, rings, devices and logs.
    :param proxy_options: extra ``[proxy-server]`` options.
    """

    def __init__(self, root, nodes=4, replicas=3, part_power=8, proxy_workers=2, proxy_options=None):
        self.root = str(root)
        self.nodes = nodes
        self.replicas = replicas
        self.part_power = part_power
        self.proxy_workers = proxy_workers
        self.proxy_options = dict(proxy_options or {})
        self.servers = {}  # (kind, node) -> Server; the proxy is ("proxy", 0)
        self.env = None
        self.rings = {}

    # --- layout ----------------------------------------------------------------
    def path(self, *parts):
        return os.path.join(self.root, *parts)

    def devices(self, node):
        return self.path("node%d" % node)

    def device_name(self, node):
        return "sd%s" % chr(ord("a") + node)

    def setup(self):
        for sub in ("etc", "rings", "logs"):
            os.makedirs(self.path(sub), exist_ok=True)
        self.objstore_conf = self.path("etc", "objstore.conf")
        write_objstore_conf(self.objstore_conf, secrets.token_hex(8), secrets.token_hex(8))
        self.env = dict(os.environ, OBJSTORE_CONF=self.objstore_conf, PYTHONUNBUFFERED="1")
        for node in range(1, self.nodes + 1):
            os.makedirs(os.path.join(self.devices(node), self.device_name(node)), exist_ok=True)
            for kind in KINDS:
                conf = self.path("etc", "%s-server-%d.conf" % (kind, node))
                sock = bind()
                with open(conf, "w") as handle:
                    handle.write("[%s-server]\nbind_ip = 127.0.0.1\nworkers = 0\ndevices = %s\n"
                                 "mount_check = false\nring_dir = %s\nlog_level = INFO\n"
                                 % (kind, self.devices(node), self.path("rings")))
                log = self.path("logs", "%s-server-%d.log" % (kind, node))
                self.servers[(kind, node)] = Server(kind, node, conf, log, sock)
        for kind in KINDS:
            builder = RingBuilder(self.part_power, self.replicas, 1)
            for node in range(1, self.nodes + 1):
                builder.add_dev(region=1, zone=node, ip="127.0.0.1", port=self.servers[(kind, node)].port,
                                device=self.device_name(node), weight=100)
            builder.rebalance(seed=1)
            builder.write_ring(self.path("rings", "%s.ring.gz" % kind))
        conf = self.path("etc", "proxy-server.conf")
        options = {
            "bind_ip": "127.0.0.1", "workers": self.proxy_workers, "ring_dir": self.path("rings"),
            "account_autocreate": "true", "allow_account_management": "true", "node_timeout": "5",
            "conn_timeout": "0.5", "client_timeout": "5", "log_level": "INFO",
            "error_suppression_interval": "2",
        }
        options.update(self.proxy_options)
        lines = ["[proxy-server]"] + ["%s = %s" % item for item in options.items()]
        lines += ["", "[pipeline:main]",
                  "pipeline = catch_errors gatekeeper healthcheck proxy_logging tempurl tempauth proxy-server",
                  "", "[filter:tempauth]", "token_life = 3600"]
        for ident, (key, groups) in USERS.items():
            account, user = ident.split(":")
            lines.append("user_%s_%s = %s %s" % (account, user, key, groups))
        with open(conf, "w") as handle:
            handle.write("\n".join(lines) + "\n")
        self.servers[("proxy", 0)] = Server("proxy", 0, conf, self.path("logs", "proxy-server.log"), bind())

    # --- processes ---------------------------------------------------------------
    def start(self):
        if self.env is None:
            self.setup()
        for server in self.servers.values():
            if not server.running:
                server.start(self.env)
        self.wait_ready()
        return self

    def wait_ready(self, timeout=90):
        """Wait until every running server listens and the proxy answers."""
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            dead = [key for key, server in self.servers.items() if server.proc is not None and server.proc.poll() is not None]
            if dead:
                raise RuntimeError("servers exited: %s; see %s" % (dead, self.path("logs")))
            waiting = [key for key, server in self.servers.items() if server.proc is not None and not server.listening()]
            if waiting:
                last = "not listening yet: %s" % waiting
                time.sleep(0.1)
                continue
            try:
                status, _headers, _body = self.request("GET", "/info", timeout=5)
                if status == 200:
                    return
                last = status
            except OSError as err:
                last = err
            time.sleep(0.1)
        raise RuntimeError("cluster not ready: %s" % (last,))

    def stop(self):
        for server in self.servers.values():
            if server.running:
                server.proc.send_signal(signal.SIGTERM)
        for server in self.servers.values():
            server.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def server(self, kind, node=0):
        return self.servers[(kind, node)]

    def restart(self, kind, node):
        """Start a stopped server again (same port) and wait until it listens."""
        server = self.server(kind, node)
        if not server.running:
            server.start(self.env)
        self.wait_ready()

    def vm_status(self, pid, field):
        """A /proc/<pid>/status field in kB (VmRSS, VmHWM...)."""
        with open("/proc/%d/status" % pid) as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        raise KeyError(field)

    @classmethod
    def attach(cls, root, proxy_port):
        """A handle on a cluster another process started under ``root`` (for
        quick iterations; stopping and starting servers is not possible)."""
        cluster = cls(root)
        cluster.objstore_conf = cluster.path("etc", "objstore.conf")
        cluster.env = dict(os.environ, OBJSTORE_CONF=cluster.objstore_conf)
        cluster._attached_port = proxy_port
        return cluster

    @property
    def proxy_port(self):
        if getattr(self, "_attached_port", None):
            return self._attached_port
        return self.server("proxy").port

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.proxy_port

    @property
    def auth_url(self):
        return self.url + "/auth/v1.0"

    def ring(self, kind):
        """The Ring of ``kind`` (lookups need OBJSTORE_CONF set to objstore_conf)."""
        if kind not in self.rings:
            self.rings[kind] = Ring(self.path("rings", "%s.ring.gz" % kind))
        return self.rings[kind]

    def node_of(self, dev):
        """The node number of a ring device dict."""
        return ord(dev["device"][-1]) - ord("a")

    def proxy_pids(self):
        """The proxy's parent pid and its workers' pids."""
        parent = self.server("proxy").proc.pid
        children = []
        for task in os.listdir("/proc/%d/task" % parent):
            try:
                with open("/proc/%d/task/%s/children" % (parent, task)) as handle:
                    children.extend(int(pid) for pid in handle.read().split())
            except OSError:
                pass
        return parent, children

    # --- HTTP -----------------------------------------------------------------------
    def request(self, method, path, headers=None, body=None, timeout=30):
        """One raw request to the proxy: ``(status, headers (lower-case), body)``."""
        conn = http.client.HTTPConnection("127.0.0.1", self.proxy_port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        finally:
            conn.close()

    def auth(self, user, key):
        """``(storage_url, token)`` from tempauth."""
        status, headers, body = self.request("GET", "/auth/v1.0", {"X-Auth-User": user, "X-Auth-Key": key})
        if status != 200:
            raise RuntimeError("auth failed for %s: %s %r" % (user, status, body))
        return headers["x-storage-url"], headers["x-auth-token"]

    def info(self):
        return json.loads(self.request("GET", "/info")[2])
