"""The all-in-one's plan of a one-machine cluster: its settings (ports, nodes,
replicas, recorded in ``<data>/aio.json``), where everything lives in the data
directory, the config files of every process, the hash secrets and the rings.

Starting, stopping and the command line are not here (``aio.py``); neither is
how processes are managed (``procs.py``).

Data directory::

    aio.json                       what start chose: ports, nodes, replicas
    objstore.conf                  hash secrets, generated once and kept
    etc/proxy-server.conf          proxy on 127.0.0.1:<port> with tempauth users
    etc/node<N>/<kind>-server.conf one per storage kind per node (+ daemon sections)
    etc/compute.conf               the compute API (only with --with-compute)
    compute/                       its records, image cache, disks, consoles
    rings/<kind>.builder|.ring.gz  account, container, object rings
    node<N>/devices/d1             the node's one device (mount_check = false)
    logs/<process>.log             each process's output
    run/<process>.pid              each process's pid

Ports: the proxy listens on ``port``; storage node N (1-based) uses
``base_port + 3*(N-1)`` for its object server, ``+1`` container, ``+2``
account, so a test reserves one contiguous range.

Config files are rewritten by every start from ``aio.json`` and the config
classes present in this build, so a daemon that lands in the tree later gets
its section. Only options the program's config class knows are written.
"""

import dataclasses
import json
import os
import secrets

from objstore.cli import catalog
from objstore.common.exceptions import ConfigError
from objstore.common.fs import atomic_write, mkdirs
from objstore.common.hashing import write_objstore_conf
from objstore.ring.builder import RingBuilder

STATE_FILE = "aio.json"
STATE_VERSION = 1
STORAGE_KINDS = ("object", "container", "account")  # port offsets 0, 1, 2
RING_KINDS = ("account", "container", "object")
DEVICE = "d1"
MIN_PART_HOURS = 1

# Default tempauth users, the ones tools written against a Swift all-in-one
# expect: (account, user, key, groups).
USERS = (
    ("test", "tester", "testing", (".admin",)),
    ("test", "tester2", "testing2", (".admin",)),
    ("test", "tester3", "testing3", ()),
    ("test2", "tester2", "testing2", (".admin",)),
    ("test5", "tester5", "testing5", ()),
    ("admin", "admin", "admin", (".reseller_admin",)),
)

# Daemon intervals for a laptop cluster: converge within a minute or so,
# without keeping two cores busy. Written only where the config class has
# the option.
DAEMON_OPTIONS = {
    "replicator": {"interval": 30},
    "updater": {"interval": 30},
    "auditor": {"interval": 300},
    "expirer": {"interval": 60},
    "reaper": {"interval": 60},
}


def default_data_dir(environ=None):
    """``$XDG_DATA_HOME/objstore``, else ``~/.local/share/objstore``."""
    environ = os.environ if environ is None else environ
    base = environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "objstore")


# libvirt URI of the all-in-one's compute API. libvirt's test driver runs inside
# the API's process: no hypervisor daemon, no QEMU, no root needed, so it works
# on any fresh machine that has the binding (its machines are simulated and
# forgotten when the API restarts). For real VMs start with
# --libvirt-uri 'qemu:///embed?root=DIR' (daemonless; COMPUTE-NOTES 3.4).
DEFAULT_LIBVIRT_URI = "test:///default"


@dataclasses.dataclass(frozen=True)
class Settings:
    """What ``start`` chose; every other subcommand reads it back."""

    data_dir: str
    port: int = 8080
    base_port: int = 6200
    nodes: int = 4
    replicas: int = 3
    part_power: int = 10
    bind_ip: str = "127.0.0.1"
    compute: bool = False  # also run the compute API (start --with-compute)
    compute_port: int = 0  # its port, chosen once by start (next free after the proxy's)
    libvirt_uri: str = DEFAULT_LIBVIRT_URI  # the compute API's hypervisor

    def validate(self):
        """:raises ConfigError: impossible settings, in the command line's words."""
        if not 1 <= self.nodes <= 64:
            raise ConfigError("--nodes must be between 1 and 64, got %d" % self.nodes)
        if not 1 <= self.replicas <= self.nodes:
            raise ConfigError(
                "--replicas must be between 1 and --nodes (%d), got %d" % (self.nodes, self.replicas)
            )
        for name, value in (("--port", self.port), ("--base-port", self.base_port)):
            if not 1 <= value <= 65535:
                raise ConfigError("%s must be a TCP port (1-65535), got %d" % (name, value))
        if self.base_port + 3 * self.nodes - 1 > 65535:
            raise ConfigError("--base-port %d leaves no room for %d nodes" % (self.base_port, self.nodes))
        if self.base_port <= self.port < self.base_port + 3 * self.nodes:
            raise ConfigError(
                "--port %d falls in the storage ports %d-%d (from --base-port)"
                % (self.port, self.base_port, self.base_port + 3 * self.nodes - 1)
            )
        if self.compute and not 1 <= self.compute_port <= 65535:
            raise ConfigError("the compute API's port must be a TCP port (1-65535), got %d" % self.compute_port)




def taken_ports(settings):
    """Every port the storage servers and the proxy use."""
    storage = range(settings.base_port, settings.base_port + 3 * settings.nodes)
    return set(storage) | {settings.port}


def next_free_port(settings, is_free, start=None):
    """The first port after the proxy's (or ``start``) that no server of ours
    uses and ``is_free(port)`` accepts.

    :raises ConfigError: none left below 65536.
    """
    taken = taken_ports(settings)
    for port in range((start or settings.port) + 1, 65536):
        if port not in taken and is_free(port):
            return port
    raise ConfigError("no free port after %d for the compute API" % settings.port)


def state_path(data_dir):
    return os.path.join(data_dir, STATE_FILE)


def load_settings(data_dir):
    """The recorded settings of ``data_dir``, or None when start never ran there.

    :raises ConfigError: the record is unreadable.
    """
    path = state_path(data_dir)
    try:
        with open(path, encoding="utf-8") as handle:
            record = json.load(handle)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        raise ConfigError("%s: unreadable (%s); fix it or reset the data dir" % (path, err)) from None
    fields = {field.name for field in dataclasses.fields(Settings)}
    values = {key: value for key, value in record.get("settings", {}).items() if key in fields}
    values["data_dir"] = data_dir
    return Settings(**values)


def save_settings(settings, processes=()):
    """Record ``settings`` and the process table (name, program, node, port,
    config, pid file, log) of what start runs."""
    record = {
        "version": STATE_VERSION,
        "settings": {k: v for k, v in dataclasses.asdict(settings).items() if k != "data_dir"},
        "processes": [
            {"name": p.name, "program": p.program.name, "node": p.node, "port": p.port,
             "conf": p.conf_file, "pid_file": p.pid_file, "log": p.log_file}
            for p in processes
        ],
    }
    atomic_write(state_path(settings.data_dir), (json.dumps(record, indent=2) + "\n").encode("utf-8"))


def load_processes(data_dir):
    """The process table start recorded, as :class:`Proc` (programs this table
    no longer knows are left out); None when there is no usable record."""
    try:
        with open(state_path(data_dir), encoding="utf-8") as handle:
            record = json.load(handle)
        result = []
        for entry in record["processes"]:
            program = catalog.BY_NAME.get(entry["program"])
            if program is not None:
                result.append(Proc(entry["name"], program, entry["node"], entry["port"], entry["conf"],
                                   entry["pid_file"], entry["log"]))
        return result
    except (OSError, ValueError, KeyError, TypeError):
        return None


# --- where things are ---------------------------------------------------------
def objstore_conf_path(data_dir):
    return os.path.join(data_dir, "objstore.conf")


def ring_dir(data_dir):
    return os.path.join(data_dir, "rings")


def devices_dir(data_dir, node):
    return os.path.join(data_dir, "node%d" % node, "devices")


def storage_port(settings, kind, node):
    """The port of ``kind``'s server on ``node`` (1-based)."""
    return settings.base_port + 3 * (node - 1) + STORAGE_KINDS.index(kind)


def conf_file(data_dir, program, node):
    if program.conf is None:
        return node_etc_dir(data_dir, node)
    if node is None:
        return os.path.join(data_dir, "etc", program.conf + ".conf")
    return os.path.join(node_etc_dir(data_dir, node), program.conf + ".conf")


def node_etc_dir(data_dir, node):
    """The directory of ``node``'s config files (one per storage kind)."""
    return os.path.join(data_dir, "etc", "node%d" % node)


@dataclasses.dataclass(frozen=True)
class Proc:
    """One process of the all-in-one."""

    name: str  # proxy-server, object-server-2, node-daemons-2
    program: catalog.Program
    node: object  # int, or None for the proxy
    port: object  # int for servers, None for daemons
    conf_file: str
    pid_file: str
    log_file: str


def processes(settings, programs):
    """Every process of the cluster, for the given available ``programs``.

    Servers come first (storage servers node by node, then the proxy), then
    one process per node running all of its daemons; the order starts things sensibly, reversed it stops
    them.
    """
    result = []
    data = settings.data_dir
    for program in catalog.servers(programs):
        if program.kind == "proxy":
            continue
        for node in range(1, settings.nodes + 1):
            result.append(_proc(data, program, node, storage_port(settings, program.kind, node)))
    for program in catalog.servers(programs):
        if program.kind == "proxy":
            result.append(_proc(data, program, None, settings.port))
    if catalog.daemons(programs):
        # One process per node runs all of that node's daemons (~40 MiB
        # each as processes of their own, mostly asleep).
        for node in range(1, settings.nodes + 1):
            result.append(_proc(data, catalog.NODE_DAEMONS, node, None))
    if settings.compute:
        result.append(_proc(data, catalog.COMPUTE_API, None, settings.compute_port))
    return result


def node_procs(settings, program):
    """``program`` as one process per node (how ``once`` runs a daemon)."""
    return [_proc(settings.data_dir, program, node, None) for node in range(1, settings.nodes + 1)]


def _proc(data, program, node, port):
    name = program.name if node is None else "%s-%d" % (program.name, node)
    return Proc(
        name,
        program,
        node,
        port,
        conf_file(data, program, node),
        os.path.join(data, "run", name + ".pid"),
        os.path.join(data, "logs", name + ".log"),
    )


# --- writing the files ----------------------------------------------------------
def ensure_secrets(data_dir):
    """Write objstore.conf with fresh hash secrets unless it exists. Returns its path."""
    path = objstore_conf_path(data_dir)
    if not os.path.exists(path):
        write_objstore_conf(path, secrets.token_hex(16), secrets.token_hex(16))
    return path


def _field_names(cls):
    return {field.name for field in dataclasses.fields(cls)} if cls is not None else set()


def _section(name, wanted, known, comment=None):
    """INI lines for ``[name]`` holding the ``wanted`` options its class knows.

    :param known: the option names of the section's config class; None writes
        every wanted option (the class is not in this build, but the daemons
        inheriting from the section are).
    """
    lines = []
    if comment:
        lines.append("# " + comment)
    lines.append("[%s]" % name)
    for key, value in wanted.items():
        if known is None or key in known:
            lines.append("%s = %s" % (key, _ini(value)))
    lines.append("")
    return lines


def _ini(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def storage_conf_text(settings, kind, node, available):
    """The config file of ``kind``'s server on ``node`` with its daemons' sections.

    :param available: ``[(program, module)]`` as :func:`catalog.available` gives.
    """
    header = [
        "# Generated by objstore-aio for node %d; rewritten by every start." % node,
        "# The daemons of this kind read this file too: each its own section,",
        "# inheriting devices, ports and ring_dir from the server's section.",
        "",
    ]
    lines = list(header)
    modules = {program.name: module for program, module in available}
    for program in catalog.PROGRAMS:
        if program.kind != kind or (program.name not in modules and not program.server):
            continue
        module = modules.get(program.name)
        cls = catalog.config_class(program, module) if module is not None else None
        known = _field_names(cls) if cls is not None else None  # None: write all (the daemons read it)
        if program.server:
            wanted = {
                "bind_ip": settings.bind_ip,
                "bind_port": storage_port(settings, kind, node),
                "workers": 0,  # serve in the parent: half the processes on a laptop
                "devices": devices_dir(settings.data_dir, node),
                "mount_check": False,
                "ring_dir": ring_dir(settings.data_dir),
            }
        else:
            wanted = dict(DAEMON_OPTIONS.get(program.role, {}))
        lines.extend(_section(program.name, wanted, known))
    return "\n".join(lines)


def tempauth_users():
    """``{option: value}`` for tempauth: ``user_<account>_<user> = <key> <groups>``."""
    users = {}
    for account, user, key, groups in USERS:
        users["user_%s_%s" % (account, user)] = " ".join((key,) + tuple(groups))
    return users


# The proxy's middleware, outermost first; only those the proxy knows are used.
PIPELINE_ORDER = ("catch_errors", "gatekeeper", "healthcheck", "proxy_logging", "tempurl", "tempauth")


def proxy_pipeline():
    """The pipeline line: the proxy's own default when it has one, else ours
    filtered by the middleware it knows."""
    try:
        from objstore.proxy import pipeline
    except ImportError:
        return "proxy-server"
    default = getattr(pipeline, "DEFAULT_PIPELINE", None)
    if default:
        return default if isinstance(default, str) else " ".join(default)
    known = getattr(pipeline, "MIDDLEWARE", {})
    return " ".join([name for name in PIPELINE_ORDER if name in known] + ["proxy-server"])


def proxy_conf_text(settings, available):
    """The proxy's config: its pipeline, its server section and the tempauth users."""
    lines = ["# Generated by objstore-aio; rewritten by every start.", ""]
    for program, module in available:
        if program.kind != "proxy" or not program.server:
            continue
        known = _field_names(catalog.config_class(program, module))
        pipeline = proxy_pipeline()
        lines += ["[pipeline:main]", "pipeline = %s" % pipeline, ""]
        wanted = {
            "bind_ip": settings.bind_ip,
            "bind_port": settings.port,
            "workers": 1,
            "ring_dir": ring_dir(settings.data_dir),
            "account_autocreate": True,
            "allow_account_management": True,
        }
        lines.extend(_section(program.name, wanted, known))
        if "tempauth" in pipeline.split():
            users = tempauth_users()
            lines.extend(_section("filter:tempauth", users, set(users)))
    return "\n".join(lines)


def compute_state_dir(data_dir):
    return os.path.join(data_dir, "compute")


def compute_conf_text(settings):
    """The compute API's config: where it listens, the proxy it trusts tokens
    of, the libvirt URI and its state dir (default flavors)."""
    lines = ["# Generated by objstore-aio (start --with-compute); rewritten by every start.", ""]
    lines += _section("compute-api", {
        "bind_ip": settings.bind_ip,
        "bind_port": settings.compute_port,
        "workers": 0,
        "objstore_url": "http://%s:%d" % (settings.bind_ip, settings.port),
    }, None)
    lines += _section("compute", {
        "connection_uri": settings.libvirt_uri,
        "virt_type": "qemu",
        "state_dir": compute_state_dir(settings.data_dir),
    }, None)
    return "\n".join(lines)


def write_configs(settings, available):
    """(Re)write every config file and make every node's device directory.

    :returns: the paths written.
    """
    written = []
    data = settings.data_dir
    for node in range(1, settings.nodes + 1):
        mkdirs(os.path.join(devices_dir(data, node), DEVICE))
        for kind in STORAGE_KINDS:
            program = catalog.BY_NAME[kind + "-server"]
            path = conf_file(data, program, node)
            _write_if_changed(path, storage_conf_text(settings, kind, node, available))
            written.append(path)
    proxy = catalog.BY_NAME["proxy-server"]
    path = conf_file(data, proxy, None)
    _write_if_changed(path, proxy_conf_text(settings, available))
    written.append(path)
    if settings.compute:
        mkdirs(compute_state_dir(data))
        path = conf_file(data, catalog.COMPUTE_API, None)
        _write_if_changed(path, compute_conf_text(settings))
        written.append(path)
    return written


def _write_if_changed(path, text):
    data = text.encode("utf-8")
    try:
        with open(path, "rb") as handle:
            if handle.read() == data:
                return
    except FileNotFoundError:
        pass
    atomic_write(path, data, mode=0o644, fsync=False)


def build_rings(settings):
    """Build each ring that is absent: one device per node, each node its own zone.

    An existing ring is kept as it is (a second start reuses it); a builder
    file without its ring gets the ring written from it.

    :returns: the kinds whose ring was written.
    """
    directory = ring_dir(settings.data_dir)
    mkdirs(directory)
    written = []
    for kind in RING_KINDS:
        ring_file = os.path.join(directory, kind + ".ring.gz")
        builder_file = os.path.join(directory, kind + ".builder")
        if os.path.exists(ring_file):
            continue
        if os.path.exists(builder_file):
            builder = RingBuilder.load(builder_file)
        else:
            builder = RingBuilder(settings.part_power, settings.replicas, MIN_PART_HOURS)
            for node in range(1, settings.nodes + 1):
                builder.add_dev(region=1, zone=node, ip=settings.bind_ip,
                                port=storage_port(settings, kind, node), device=DEVICE, weight=1.0)
            builder.rebalance(seed=node)
            builder.save(builder_file)
        builder.write_ring(ring_file)
        written.append(kind)
    return written
