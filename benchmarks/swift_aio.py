"""OpenStack Swift as the reference: installing it into ``<repo>/.venv-swift``
and running an all-in-one of the same shape as objstore-aio.

Shape (the same as ``objstore-aio`` is run with, see objstore_aio.py): one
proxy and 4 storage nodes on 127.0.0.1, each node an account, a container and
an object server with one device, each node its own zone; account, container
and object rings with 3 replicas and part_power 10; tempauth with the usual
all-in-one users; the same server worker counts as objstore-aio writes into
its configs (``run.py`` reads them back; ``workers = 0`` serves in the parent
process, which Swift supports too); memcached for tokens and
account/container info (Swift's proxy needs it for tempauth tokens). No
consistency daemons (replicators, auditors, updaters) run on either side
while the workloads run: the benchmark measures the request path. At the end
``start_daemons`` starts the ten daemons per node that objstore runs too
(:data:`DAEMONS`, one process each, as swift-init does) for the memory of a
whole running cluster.

Durability: Swift fsyncs every object it writes before answering 201 (its
diskfile calls fsync() on the data file after writing the metadata xattrs,
then renames it into place and fsyncs the directory); there is no option to
turn that off. The proxy answers the client once a quorum (2 of 3) of object
servers have answered 201.

What is not here: the workloads (workloads.py), process memory (memory.py),
the filesystem the devices live on (host.Volume).
"""

import json
import os
import pwd
import shutil
import subprocess
import sys

from benchmarks import host

# The versions this harness was last run with; pip installs exactly these.
SWIFT_PACKAGES = ("swift==2.38.3", "swift-bench==2.0.0", "python-swiftclient==4.11.0")
# Debian packages: memcached (the proxy's token cache), liberasurecode-dev
# (PyECLib, a Swift requirement, builds against it when no wheel fits),
# xfsprogs (the loop-mounted XFS volume of host.Volume).
DEBIAN_PACKAGES = ("memcached", "liberasurecode-dev", "xfsprogs")

NODES = 4
REPLICAS = 3
PART_POWER = 10
USER, KEY = "test:tester", "testing"

# The pipeline of Swift's own proxy-server.conf-sample: what an operator who
# installs Swift gets. "lean" keeps only what the benchmark's requests touch.
PIPELINES = {
    "default": ("catch_errors gatekeeper healthcheck proxy-logging cache listing_formats container_sync "
                "bulk tempurl ratelimit tempauth copy container-quotas account-quotas slo dlo "
                "versioned_writes symlink proxy-logging proxy-server"),
    "lean": "catch_errors gatekeeper healthcheck proxy-logging cache listing_formats tempauth proxy-logging proxy-server",
}
FILTER_EGGS = {
    "catch_errors": "catch_errors", "gatekeeper": "gatekeeper", "healthcheck": "healthcheck",
    "proxy-logging": "proxy_logging", "cache": "memcache", "listing_formats": "listing_formats",
    "container_sync": "container_sync", "bulk": "bulk", "tempurl": "tempurl", "ratelimit": "ratelimit",
    "tempauth": "tempauth", "copy": "copy", "container-quotas": "container_quotas",
    "account-quotas": "account_quotas", "slo": "slo", "dlo": "dlo", "versioned_writes": "versioned_writes",
    "symlink": "symlink",
}

TEMPAUTH_USERS = """\
user_admin_admin = admin .admin .reseller_admin
user_test_tester = testing .admin
user_test_tester2 = testing2 .admin
user_test_tester3 = testing3
user_test2_tester2 = testing2 .admin
user_test5_tester5 = testing5 service
"""


def venv_dir(repo):
    return os.path.join(repo, ".venv-swift")


def swift_env():
    """The environment of every program run from the Swift venv (servers,
    daemons, swift-bench): ours, minus EVENTLET_NO_GREENDNS, which importing
    objstore sets for its own processes (common/green.py). Swift runs as
    installed, with eventlet's green DNS resolver."""
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    env.pop("EVENTLET_NO_GREENDNS", None)
    return env


def missing_debian_packages():
    missing = []
    for pkg in DEBIAN_PACKAGES:
        done = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True)
        if "install ok installed" not in done.stdout:
            missing.append(pkg)
    return missing


def install(repo, say=print):
    """Make sure ``<repo>/.venv-swift`` has Swift and swift-bench, and memcached is there.

    Debian packages are installed with apt-get when we are root; otherwise a
    missing one is an error that names it. Idempotent and quick when done.
    """
    if shutil.which("dpkg-query"):
        missing = missing_debian_packages()
        if missing and os.geteuid() == 0 and shutil.which("apt-get"):
            say("installing Debian packages: %s" % " ".join(missing))
            env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
            subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
            subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
                           check=True, env=env, stdout=subprocess.DEVNULL)
    if not shutil.which("memcached"):
        raise host.BenchSetupError("memcached is needed for Swift's tokens: apt-get install memcached")
    venv = venv_dir(repo)
    py = os.path.join(venv, "bin", "python")
    if not os.path.exists(py):
        say("creating %s" % venv)
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    check = subprocess.run([py, "-c", "import swift, swiftbench, swiftclient"], capture_output=True)
    if check.returncode:
        say("pip install %s into %s" % (" ".join(SWIFT_PACKAGES), venv))
        subprocess.run([py, "-m", "pip", "install", "-q", "--disable-pip-version-check", *SWIFT_PACKAGES],
                       check=True)
    return venv


def swift_version(venv):
    done = subprocess.run([os.path.join(venv, "bin", "python"), "-c",
                           "from importlib.metadata import version; print(version('swift'))"],
                          capture_output=True, text=True)
    return done.stdout.strip()


def proxy_conf(etc, port, memcache_port, syslog_port, pipeline="default", workers=1):
    names = PIPELINES[pipeline].split()
    lines = [
        "[DEFAULT]",
        "bind_ip = 127.0.0.1",
        "bind_port = %d" % port,
        # 0: serve in the parent (no fork), as Swift allows; N: fork N workers.
        "workers = %d" % workers,
        # Swift switches to this user after binding (default "swift").
        "user = %s" % pwd.getpwuid(os.getuid()).pw_name,
        "swift_dir = %s" % etc,
        # Log lines go to a loopback UDP port nobody reads: Swift still formats
        # and sends every line, as objstore still writes its log file.
        "log_udp_host = 127.0.0.1",
        "log_udp_port = %d" % syslog_port,
        "eventlet_debug = false",
        "",
        "[pipeline:main]",
        "pipeline = %s" % " ".join(names),
        "",
        "[app:proxy-server]",
        "use = egg:swift#proxy",
        "allow_account_management = true",
        "account_autocreate = true",
        "",
    ]
    for name in dict.fromkeys(names[:-1]):
        lines += ["[filter:%s]" % name, "use = egg:swift#%s" % FILTER_EGGS[name]]
        if name == "cache":
            lines.append("memcache_servers = 127.0.0.1:%d" % memcache_port)
        elif name == "tempauth":
            lines.append(TEMPAUTH_USERS.rstrip())
        elif name == "container_sync":
            lines.append("current = //bench/bench")
        lines.append("")
    return "\n".join(lines)


def storage_conf(kind, etc, devices, port, syslog_port, workers=1):
    return "\n".join([
        "[DEFAULT]",
        "devices = %s" % devices,
        "mount_check = false",
        "bind_ip = 127.0.0.1",
        "bind_port = %d" % port,
        # 0: serve in the parent (no fork), as Swift allows; N: fork N workers.
        "workers = %d" % workers,
        # Swift switches to this user after binding (default "swift").
        "user = %s" % pwd.getpwuid(os.getuid()).pw_name,
        "swift_dir = %s" % etc,
        "log_udp_host = 127.0.0.1",
        "log_udp_port = %d" % syslog_port,
        "eventlet_debug = false",
        "",
        "[pipeline:main]",
        "pipeline = healthcheck %s-server" % kind,
        "",
        "[app:%s-server]" % kind,
        "use = egg:swift#%s" % kind,
        "",
        "[filter:healthcheck]",
        "use = egg:swift#healthcheck",
        "",
    ])


# The consistency daemons started for the memory-with-daemons figure: the ten
# per node that objstore runs too (Swift's reconstructor, sharder, container
# sync and reconciler have no objstore counterpart and are left out).
DAEMONS = {
    "account": ("replicator", "auditor", "reaper"),
    "container": ("replicator", "auditor", "updater"),
    "object": ("replicator", "auditor", "updater", "expirer"),
}


# Swift's daemons read swift.conf from /etc/swift (Daemon setup validates it
# there; only its WSGI servers honour swift_dir). Rather than write into
# /etc, each daemon is run through Swift's own set_swift_dir first.
DAEMON_WRAPPER = """
import runpy, sys
from swift.common.utils import set_swift_dir
set_swift_dir(sys.argv[1])
sys.argv = sys.argv[2:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def daemon_sections(kind, etc):
    """The daemons' sections of a storage config (Swift's daemons refuse to
    start without theirs). The object replicator uses ssync (the object
    server's own protocol; rsync would need an rsync daemon)."""
    lines = []
    for role in DAEMONS[kind]:
        lines.append("[%s-%s]" % (kind, role))
        if (kind, role) == ("object", "replicator"):
            lines.append("sync_method = ssync")
        if (kind, role) == ("object", "expirer"):
            lines.append("internal_client_conf_path = %s" % os.path.join(etc, "internal-client.conf"))
        lines.append("")
    return "\n".join(lines)


def internal_client_conf(etc, memcache_port):
    """The in-process proxy Swift's expirer talks to the cluster through."""
    return "\n".join([
        "[DEFAULT]",
        "swift_dir = %s" % etc,
        "user = %s" % pwd.getpwuid(os.getuid()).pw_name,
        "",
        "[pipeline:main]",
        "pipeline = catch_errors proxy-logging cache proxy-server",
        "",
        "[app:proxy-server]",
        "use = egg:swift#proxy",
        "account_autocreate = true",
        "",
        "[filter:cache]",
        "use = egg:swift#memcache",
        "memcache_servers = 127.0.0.1:%d" % memcache_port,
        "",
        "[filter:proxy-logging]",
        "use = egg:swift#proxy_logging",
        "",
        "[filter:catch_errors]",
        "use = egg:swift#catch_errors",
        "",
    ])


SWIFT_CONF = """\
[swift-hash]
swift_hash_path_prefix = %s
swift_hash_path_suffix = %s

[storage-policy:0]
name = gold
policy_type = replication
default = yes
"""

# Run in .venv-swift's python: builds the three rings with Swift's own builder.
RING_SCRIPT = """
import json, os, sys
from swift.common.ring import RingBuilder
args = json.loads(sys.argv[1])
for svc, ports in args["ports"].items():
    builder = RingBuilder(args["part_power"], args["replicas"], 1)
    for n, port in enumerate(ports, 1):
        builder.add_dev({"region": 1, "zone": n, "ip": "127.0.0.1", "port": port,
                         "replication_ip": "127.0.0.1", "replication_port": port,
                         "device": "d%d" % n, "weight": 1.0, "meta": ""})
    builder.rebalance()
    builder.get_ring().save(os.path.join(args["etc"], svc + ".ring.gz"))
"""


class SwiftAIO:
    """A Swift all-in-one: ``start()``, ``stop()``, ``pids()``.

    Configs and logs go under ``run_dir``, the devices under ``devices_dir``
    (on the benchmark's volume; logs stay readable after it is unmounted).

    Ports: the proxy on ``port``; node n (1..4) has its object, container and
    account servers on ``base_port + 10*(n-1) + 0/1/2``; memcached on
    ``base_port + 50``; ``base_port + 51`` is the (unread) syslog port.
    """

    name = "swift"

    def __init__(self, venv, run_dir, devices_dir, port, base_port, pipeline="default", workers=None):
        self.venv = venv
        self.run_dir = run_dir
        self.devices_dir = devices_dir
        self.port = port
        self.base_port = base_port
        self.pipeline = pipeline
        # {"proxy"|"object"|"container"|"account": workers}; 1 each unless told.
        self.workers = dict({"proxy": 1, "object": 1, "container": 1, "account": 1}, **(workers or {}))
        self.etc = os.path.join(run_dir, "etc")
        self.log_dir = os.path.join(run_dir, "log")
        self.memcache_port = base_port + 50
        self.syslog_port = base_port + 51
        self.root_pids = []
        self.daemon_pids = []
        self.auth_url = "http://127.0.0.1:%d/auth/v1.0" % port
        self.user, self.key = USER, KEY

    def node_port(self, kind, n):
        return self.base_port + 10 * (n - 1) + {"object": 0, "container": 1, "account": 2}[kind]

    def node_devices(self, n):
        return os.path.join(self.devices_dir, "node%d" % n)

    def configure(self):
        for path in (self.etc, self.log_dir):
            os.makedirs(path, exist_ok=True)
        with open(os.path.join(self.etc, "swift.conf"), "w") as f:
            f.write(SWIFT_CONF % (os.urandom(8).hex(), os.urandom(8).hex()))
        with open(os.path.join(self.etc, "proxy-server.conf"), "w") as f:
            f.write(proxy_conf(self.etc, self.port, self.memcache_port, self.syslog_port, self.pipeline,
                                   self.workers["proxy"]))
        for n in range(1, NODES + 1):
            os.makedirs(os.path.join(self.node_devices(n), "d%d" % n), exist_ok=True)
            for kind in ("account", "container", "object"):
                path = os.path.join(self.etc, "%s-server-%d.conf" % (kind, n))
                with open(path, "w") as f:
                    f.write(storage_conf(kind, self.etc, self.node_devices(n), self.node_port(kind, n),
                                         self.syslog_port, self.workers[kind]))
                    f.write("\n" + daemon_sections(kind, self.etc))
        with open(os.path.join(self.etc, "internal-client.conf"), "w") as f:
            f.write(internal_client_conf(self.etc, self.memcache_port))
        ports = {kind: [self.node_port(kind, n) for n in range(1, NODES + 1)]
                 for kind in ("object", "container", "account")}
        args = json.dumps({"ports": ports, "etc": self.etc, "part_power": PART_POWER, "replicas": REPLICAS})
        subprocess.run([self.py, "-c", RING_SCRIPT, args], check=True)

    @property
    def py(self):
        return os.path.join(self.venv, "bin", "python")

    def start(self):
        self.configure()
        env = swift_env()
        memcached = [shutil.which("memcached"), "-l", "127.0.0.1", "-p", str(self.memcache_port),
                     "-U", "0", "-m", "64", "-c", "1024"]
        if os.geteuid() == 0:
            memcached += ["-u", "root"]
        self.root_pids.append(host.launch(memcached, os.path.join(self.log_dir, "memcached.log")))
        for kind in ("account", "container", "object"):
            for n in range(1, NODES + 1):
                argv = [os.path.join(self.venv, "bin", "swift-%s-server" % kind),
                        os.path.join(self.etc, "%s-server-%d.conf" % (kind, n))]
                log = os.path.join(self.log_dir, "%s-%d.log" % (kind, n))
                self.root_pids.append(host.launch(argv, log, env=env))
        argv = [os.path.join(self.venv, "bin", "swift-proxy-server"), os.path.join(self.etc, "proxy-server.conf")]
        self.root_pids.append(host.launch(argv, os.path.join(self.log_dir, "proxy.log"), env=env))
        try:
            host.wait_tcp(self.memcache_port)
            for kind in ("account", "container", "object"):
                for n in range(1, NODES + 1):
                    host.wait_http("http://127.0.0.1:%d/healthcheck" % self.node_port(kind, n))
            host.wait_http("http://127.0.0.1:%d/healthcheck" % self.port)
        except host.BenchSetupError as err:
            self.stop()
            raise host.BenchSetupError("Swift did not start (%s); logs in %s" % (err, self.log_dir))

    def start_daemons(self):
        """Start the consistency daemons of :data:`DAEMONS` on every node, one
        process each (as swift-init runs them). Whether they still run is
        :meth:`check_daemons`' business."""
        env = swift_env()
        for kind, roles in DAEMONS.items():
            for role in roles:
                for n in range(1, NODES + 1):
                    argv = [self.py, "-c", DAEMON_WRAPPER, self.etc,
                            os.path.join(self.venv, "bin", "swift-%s-%s" % (kind, role)),
                            os.path.join(self.etc, "%s-server-%d.conf" % (kind, n))]
                    log = os.path.join(self.log_dir, "%s-%s-%d.log" % (kind, role, n))
                    self.daemon_pids.append(host.launch(argv, log, env=env))

    def check_daemons(self):
        """:raises BenchSetupError: a daemon is no longer running."""
        dead = [pid for pid in self.daemon_pids if not host.alive(pid)]
        if dead:
            raise host.BenchSetupError("%d of Swift's daemons exited; logs in %s" % (len(dead), self.log_dir))

    def stop_daemons(self):
        host.stop_pids(self.daemon_pids)
        self.daemon_pids = []

    def pids(self):
        """Every process of this cluster: the servers, their forked workers,
        memcached, and the daemons while they run."""
        return host.session_members(set(self.root_pids) | set(self.daemon_pids))

    def stop(self):
        """SIGTERM every process we started (a Swift parent takes its workers down)."""
        self.stop_daemons()
        members = self.pids()
        host.stop_pids(self.root_pids)
        leftovers = [p for p in members if host.alive(p)]
        host.stop_pids(leftovers, timeout=5)
        self.root_pids = []

    def describe(self):
        return {"system": "OpenStack Swift %s" % swift_version(self.venv), "proxy_pipeline": self.pipeline,
                "pipeline": PIPELINES[self.pipeline], "workers": self.workers}
