"""``objstore-aio``: a whole cluster on one machine, from nothing.

``start`` sets up the data directory (configs, hash secrets, rings: see
``layout.py``), starts every server and daemon this build has, waits until
the proxy answers and auth works, and prints how to use it. With
``--with-compute`` (recorded: later starts keep it) it also runs the compute
API (``objstore.compute.server``) on the next free port after the proxy's. ``status``,
``stop``, ``reset``, ``once``, ``kill``/``revive`` manage what ``start``
recorded, given only ``--data-dir``.

How the cluster is laid out is in ``layout.py``; pid files, spawning and
stopping in ``procs.py``; the table of programs in ``catalog.py``. This module
is the command line and the order of operations.

Every failure a user can cause (a port in use, an unwritable data dir, a
process that dies on start) ends in one line on stderr and exit code 1; never
a traceback.
"""

import argparse
import errno
import importlib.util
import os
import shutil
import signal
import sys
import time

from objstore.cli import catalog, layout, procs
from objstore.common.exceptions import ConfigError, ObjstoreError, ServiceUnavailable
from objstore.common.fs import mkdirs

PROG = "objstore-aio"
STOP_TIMEOUT = 30.0


class Cluster:
    """One all-in-one data directory: its settings and its processes.

    :param settings: :class:`layout.Settings` (recorded or chosen by start).
    :param available: ``[(program, module)]`` from :func:`catalog.available`.
    :param out: where progress lines go (``print``-like).
    """

    def __init__(self, settings, available, out, recorded=None):
        self.settings = settings
        self.available = available
        self.out = out
        if recorded is not None:
            self.procs = recorded
        else:
            self.procs = layout.processes(settings, [program for program, _ in available])
        self.objstore_conf = layout.objstore_conf_path(settings.data_dir)

    @classmethod
    def recorded(cls, settings, out):
        """The cluster as start recorded it: what it started, found without
        importing every server and daemon (fast for status, stop, kill)."""
        procs_ = layout.load_processes(settings.data_dir)
        if procs_ is None:
            return cls(settings, catalog.available(), out)
        return cls(settings, [], out, recorded=procs_)

    # --- looking --------------------------------------------------------------
    def state(self, proc):
        """``(state, pid)``: running, stale or missing (see procs.pid_status)."""
        return procs.pid_status(proc.pid_file, proc.conf_file)

    def running(self):
        return [proc for proc in self.procs if self.state(proc)[0] == "running"]

    def find(self, word):
        """The processes named by ``word``: a node (``2``, ``node2``) or a process name."""
        text = word.strip().lower()
        by_name = [proc for proc in self.procs if proc.name == text]
        if by_name:
            return by_name
        digits = text[4:] if text.startswith("node") else text
        digits = digits.lstrip("-")
        if digits.isdigit() and 1 <= int(digits) <= self.settings.nodes:
            return [proc for proc in self.procs if proc.node == int(digits) and proc.program.server]
        raise ConfigError(
            "no node or process %r (nodes are 1-%d; processes as in `%s status`)"
            % (word, self.settings.nodes, PROG)
        )

    def clear_stale(self, chosen):
        for proc in chosen:
            state, pid = self.state(proc)
            if state == "stale":
                procs.remove_pid(proc.pid_file)
                what = "pid %d is not running" % pid if pid else "no pid in it"
                self.out("removed stale pid file of %s (%s)" % (proc.name, what))

    # --- starting -------------------------------------------------------------
    def prepare(self):
        """Secrets once, configs every time, rings when absent, settings recorded."""
        layout.ensure_secrets(self.settings.data_dir)
        layout.write_configs(self.settings, self.available)
        built = layout.build_rings(self.settings)
        for kind in built:
            self.out("built the %s ring (%d replicas, part power %d)"
                     % (kind, self.settings.replicas, self.settings.part_power))
        layout.save_settings(self.settings, self.procs)

    def launch(self, chosen, timeout):
        """Start ``chosen`` processes (those not running), wait until they serve.

        :returns: the processes started.
        :raises ConfigError: a port is in use (nothing is started then).
        :raises ServiceUnavailable: one died or never answered (those started
            here are stopped again).
        """
        self.clear_stale(chosen)
        todo = [proc for proc in chosen if self.state(proc)[0] != "running"]
        sockets = {}
        started = []
        try:
            for proc in todo:
                if proc.port is not None:
                    sockets[proc.name] = self._listen(proc)
            env = procs.child_env(self.objstore_conf)
            for proc in todo:
                module = catalog.find_module(proc.program).__name__
                sock = sockets.get(proc.name)
                args = [proc.conf_file]
                if sock is not None:
                    args += ["--listen-fd", sock.fileno()]
                child = procs.spawn(
                    procs.python_argv(module, *args),
                    log_path=proc.log_file,
                    env=env,
                    pass_fds=[sock.fileno()] if sock is not None else [],
                    cwd=self.settings.data_dir,
                )
                started.append((proc, child))
                procs.write_pid(proc.pid_file, child.pid)
        except BaseException:
            procs.stop_pids([child.pid for _proc, child in started], STOP_TIMEOUT)
            for proc, _child in started:
                procs.remove_pid(proc.pid_file)
            raise
        finally:
            for sock in sockets.values():
                sock.close()
        try:
            self._wait_ready(started, timeout)
        except (ServiceUnavailable, KeyboardInterrupt):
            self.stop([proc for proc, _ in started], quiet=True)
            raise
        return [proc for proc, _ in started]

    def _listen(self, proc):
        try:
            return procs.listener(self.settings.bind_ip, proc.port)
        except OSError as err:
            hint = {"proxy": "--port", "compute": "--without-compute"}.get(proc.program.kind, "--base-port")
            if err.errno == errno.EADDRINUSE:
                raise ConfigError(
                    "port %d (for %s) is already in use; choose another with %s or stop what uses it"
                    % (proc.port, proc.name, hint)
                ) from None
            raise ConfigError("cannot listen on %s:%d for %s: %s"
                              % (self.settings.bind_ip, proc.port, proc.name, err.strerror)) from None

    def _wait_ready(self, started, timeout):
        deadline = time.monotonic() + timeout
        pending = list(started)
        while pending:
            for proc, child in list(pending):
                code = child.poll()
                if code is not None:
                    last = procs.tail(proc.log_file, 1)
                    raise ServiceUnavailable(
                        "%s exited on start (code %s)%s; see %s"
                        % (proc.name, code, (": " + last[0].strip()) if last else "", proc.log_file)
                    )
                if self._serving(proc):
                    pending.remove((proc, child))
            if not pending:
                break
            if time.monotonic() > deadline:
                names = ", ".join(proc.name for proc, _ in pending)
                raise ServiceUnavailable("not answering after %ds: %s; see %s/logs/"
                                         % (timeout, names, self.settings.data_dir))
            time.sleep(0.1)

    def _serving(self, proc):
        if proc.port is None:
            return True  # a daemon: alive is all we can ask of it
        if proc.program.kind == "proxy":
            answer = procs.http_request(self.settings.bind_ip, proc.port, "/healthcheck")
            return answer is not None and answer[0] == 200
        return procs.http_request(self.settings.bind_ip, proc.port, "/") is not None

    def check_auth(self, timeout=15.0):
        """``(storage_url, token)`` once tempauth answers for test:tester, or None."""
        account, user, key, _groups = layout.USERS[0]
        deadline = time.monotonic() + timeout
        while True:
            answer = procs.http_request(
                self.settings.bind_ip, self.settings.port, "/auth/v1.0",
                headers={"X-Auth-User": "%s:%s" % (account, user), "X-Auth-Key": key},
            )
            if answer and answer[0] // 100 == 2 and answer[1].get("x-storage-url"):
                return answer[1]["x-storage-url"], answer[1].get("x-auth-token")
            if time.monotonic() > deadline:
                return None
            time.sleep(0.2)

    # --- stopping -------------------------------------------------------------
    def stop(self, chosen, quiet=False, timeout=STOP_TIMEOUT):
        """Stop ``chosen`` (in reverse start order) and wait until they exit.

        :returns: how many processes were stopped.
        """
        if not quiet:
            self.clear_stale(chosen)
        else:
            for proc in chosen:
                if self.state(proc)[0] == "stale":
                    procs.remove_pid(proc.pid_file)
        pids = {}
        for proc in reversed(chosen):
            state, pid = self.state(proc)
            if state == "running":
                pids[pid] = proc
        stopped, killed, left = procs.stop_pids(list(pids), timeout)
        for pid in stopped + killed:
            procs.remove_pid(pids[pid].pid_file)
        for pid in killed:
            self.out("%s (pid %d) did not stop within %ds; killed" % (pids[pid].name, pid, timeout))
        if left:
            raise ServiceUnavailable("could not stop: %s" % ", ".join(
                "%s (pid %d)" % (pids[pid].name, pid) for pid in left))
        return len(stopped) + len(killed)


# --- subcommands ------------------------------------------------------------------
def _settings_for_start(args):
    data_dir = os.path.abspath(os.path.expanduser(args.data_dir))
    _check_data_dir(data_dir)
    recorded = layout.load_settings(data_dir)
    chosen = {"port": args.port, "base_port": args.base_port, "nodes": args.nodes, "replicas": args.replicas}
    if recorded is None:
        values = {key: value for key, value in chosen.items() if value is not None}
        settings = layout.Settings(data_dir, **values)
    else:
        # The rings hold the storage ports, nodes and replicas: those cannot
        # change under existing data. The proxy's port can.
        for key in ("base_port", "nodes", "replicas"):
            if chosen[key] is not None and chosen[key] != getattr(recorded, key):
                raise ConfigError(
                    "%s was set up with --%s %s; leave it out, or `%s reset` to start over"
                    % (data_dir, key.replace("_", "-"), getattr(recorded, key), PROG)
                )
        settings = recorded if args.port is None else layout.Settings(
            **{**recorded.__dict__, "port": args.port})
    settings = _compute_choice(settings, args)
    settings.validate()
    return settings


def _compute_choice(settings, args, is_free=None):
    """Settings with the compute API on or off as chosen: ``--with-compute``
    turns it on (and keeps it on for later starts: recorded in aio.json),
    ``--without-compute`` off; neither keeps what was recorded. Its port is
    chosen once, the next free one after the proxy's.

    :raises ConfigError: libvirt-python is missing (one line: what to run).
    """
    with_compute = getattr(args, "with_compute", False)
    without = getattr(args, "without_compute", False)
    if with_compute and without:
        raise ConfigError("--with-compute and --without-compute exclude each other")
    values = dict(settings.__dict__)
    if without:
        values["compute"] = False
    elif with_compute:
        values["compute"] = True
    if getattr(args, "libvirt_uri", None):
        values["libvirt_uri"] = args.libvirt_uri
    if values["compute"]:
        _need_libvirt()
        taken = layout.taken_ports(settings)
        if not values["compute_port"] or values["compute_port"] in taken:
            is_free = is_free or (lambda port: procs.port_free(settings.bind_ip, port))
            values["compute_port"] = layout.next_free_port(settings, is_free)
    return layout.Settings(**values)


def _need_libvirt():
    # Only looked up, not imported: compute/driver.py is the one module that
    # imports libvirt, in the compute API's own process.
    if importlib.util.find_spec("libvirt") is None:
        raise ConfigError("--with-compute needs libvirt-python, which is not importable here: "
                          "run `make compute-deps`")


def _check_data_dir(data_dir):
    try:
        mkdirs(data_dir)
    except OSError as err:
        raise ConfigError("cannot create data dir %s: %s" % (data_dir, err.strerror)) from None
    if not os.access(data_dir, os.W_OK | os.X_OK):
        raise ConfigError("data dir %s is not writable" % data_dir)
    probe = os.path.join(data_dir, ".write-test")
    try:
        with open(probe, "w") as handle:
            handle.write("ok")
        os.unlink(probe)
    except OSError as err:
        raise ConfigError("cannot write in data dir %s: %s" % (data_dir, err.strerror)) from None


def cmd_start(args, out):
    settings = _settings_for_start(args)
    cluster = Cluster(settings, catalog.available(), out)
    names = {program.name for program, _ in cluster.available}
    running = cluster.running()
    if running and len(running) == len(cluster.procs):
        out("already running (%d processes); proxy at http://%s:%d; see `%s status%s`"
            % (len(running), settings.bind_ip, settings.port, PROG, _dd(args)))
        if args.foreground:
            return follow(cluster)
        return 0
    missing = [name for name in ("account-server", "container-server", "object-server", "proxy-server")
               if name not in names]
    if missing:
        out("note: this build has no %s yet; starting what it has" % ", ".join(missing))
    cluster.prepare()
    if running:
        out("%d of %d processes already running; starting the rest" % (len(running), len(cluster.procs)))
    offsets = _log_offsets(cluster.procs) if args.foreground else None
    started = cluster.launch(cluster.procs, args.timeout)
    creds = None
    if "proxy-server" in names:
        creds = cluster.check_auth()
        if creds is None:
            out("warning: the proxy answers but auth as test:tester does not work yet; see %s"
                % os.path.join(settings.data_dir, "logs", "proxy-server.log"))
    out(banner(settings, len(started), creds, args))
    if args.foreground:
        return follow(cluster, offsets)
    return 0


def _dd(args):
    """`` --data-dir X`` when the user chose a data dir, for the hints we print."""
    if os.path.abspath(os.path.expanduser(args.data_dir)) == os.path.abspath(layout.default_data_dir()):
        return ""
    return " --data-dir %s" % args.data_dir


def _tool(name):
    """How to run the ``name`` CLI from here: bare when on PATH, else its path
    beside this interpreter (``.venv/bin/swift`` after ``make run``)."""
    if shutil.which(name):
        return name
    beside = os.path.join(os.path.dirname(sys.executable), name)
    if os.path.exists(beside):
        relative = os.path.relpath(beside)
        return relative if not relative.startswith("..") else beside
    return name


def banner(settings, started, creds, args):
    """What start prints at the end: the endpoint, a user, and commands that work."""
    auth = "http://%s:%d/auth/v1.0" % (settings.bind_ip, settings.port)
    swift = _tool("swift")
    example = "README.md" if os.path.exists("README.md") else layout.objstore_conf_path(settings.data_dir)
    account, user, key, _ = layout.USERS[0]
    lines = [
        "objstore all-in-one is up: %d nodes, %d replicas, %d processes started; data in %s"
        % (settings.nodes, settings.replicas, started, settings.data_dir),
    ]
    if creds is not None:
        lines += [
            "",
            "  auth endpoint  %s" % auth,
            "  user           %s:%s" % (account, user),
            "  key            %s" % key,
            "  storage url    %s" % creds[0],
            "",
            "Try:",
            "  curl -i -H 'X-Auth-User: %s:%s' -H 'X-Auth-Key: %s' %s" % (account, user, key, auth),
            "  %s -A %s -U %s:%s -K %s stat" % (swift, auth, account, user, key),
            "  %s -A %s -U %s:%s -K %s upload mycontainer %s" % (swift, auth, account, user, key, example),
        ]
    if settings.compute:
        api = "http://%s:%d" % (settings.bind_ip, settings.compute_port)
        conf = layout.conf_file(settings.data_dir, catalog.COMPUTE_API, None)
        lines += [
            "",
            "  compute api    %s  (libvirt %s)" % (api, settings.libvirt_uri),
            "  %s --config %s --auth %s --user %s:%s --key %s flavor-list"
            % (_tool("objstore-compute"), conf, auth, account, user, key),
            "  curl -H \"X-Auth-Token: $TOKEN\" -H \"X-Storage-Url: $STORAGE_URL\" %s/v1/flavors" % api,
        ]
    me = _tool(PROG)
    if me == PROG and not shutil.which(PROG):
        python = os.path.relpath(sys.executable)
        me = "%s -m objstore.cli.aio" % (python if not python.startswith("..") else sys.executable)
    lines += ["", "Status: %s status%s    Stop: %s stop%s" % (me, _dd(args), me, _dd(args))]
    return "\n".join(lines)


def _log_offsets(chosen):
    offsets = {}
    for proc in chosen:
        try:
            offsets[proc.log_file] = os.path.getsize(proc.log_file)
        except OSError:
            offsets[proc.log_file] = 0
    return offsets


def follow(cluster, offsets=None, poll=0.25):
    """Stay attached: copy every process's log lines to stdout, prefixed by its
    name, until Ctrl-C or SIGTERM; then stop everything."""
    stop = []

    def on_signal(signum, frame):
        stop.append(signum)

    old = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    offsets = dict(offsets or _log_offsets(cluster.procs))
    width = max(len(proc.name) for proc in cluster.procs) if cluster.procs else 10
    reported = set()
    try:
        while not stop:
            for proc in cluster.procs:
                offsets[proc.log_file] = _copy_new(proc, offsets.get(proc.log_file, 0), width, cluster.out)
                if proc.name not in reported and cluster.state(proc)[0] != "running":
                    reported.add(proc.name)
                    cluster.out("%s | (not running)" % proc.name.ljust(width))
            time.sleep(poll)
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
    cluster.out("stopping...")
    count = cluster.stop(cluster.procs)
    cluster.out("stopped %d processes" % count)
    return 0


def _copy_new(proc, offset, width, out):
    try:
        with open(proc.log_file, "rb") as handle:
            handle.seek(offset)
            data = handle.read()
    except OSError:
        return offset
    end = data.rfind(b"\n") + 1  # only whole lines; the rest next time
    for line in data[:end].decode("utf-8", "replace").splitlines():
        out("%s | %s" % (proc.name.ljust(width), line))
    return offset + end


def _recorded(args):
    data_dir = os.path.abspath(os.path.expanduser(args.data_dir))
    settings = layout.load_settings(data_dir)
    if settings is None:
        raise ConfigError("no all-in-one in %s (run `%s start%s` first)" % (data_dir, PROG, _dd(args)))
    return settings


def cmd_status(args, out):
    try:
        settings = _recorded(args)
    except ConfigError as err:
        out(str(err))
        return 3
    cluster = Cluster.recorded(settings, out)
    width = max(len(proc.name) for proc in cluster.procs) if cluster.procs else 10
    up = 0
    for proc in cluster.procs:
        state, pid = cluster.state(proc)
        where = "%s:%d" % (settings.bind_ip, proc.port) if proc.port else "-"
        word = {"running": "up", "stale": "down (stale pid file)", "missing": "down"}[state]
        out("%s  %-5s  %-21s  %s" % (proc.name.ljust(width), word.split()[0], where,
                                    ("pid %d" % pid) if state == "running" else word[5:].strip(" ()")))
        up += state == "running"
    out("%d of %d processes up; data in %s" % (up, len(cluster.procs), settings.data_dir))
    if up == len(cluster.procs):
        return 0
    return 3 if up == 0 else 1


def cmd_stop(args, out):
    settings = _recorded(args)
    cluster = Cluster.recorded(settings, out)
    count = cluster.stop(cluster.procs + _strays(cluster))
    out("stopped %d processes" % count if count else "not running")
    return 0


def _strays(cluster):
    """Pid files in our run dir that the current table does not name (a program
    removed from the build since start): still ours, still stopped."""
    known = {proc.pid_file for proc in cluster.procs}
    run_dir = os.path.join(cluster.settings.data_dir, "run")
    strays = []
    for name in sorted(os.listdir(run_dir)) if os.path.isdir(run_dir) else []:
        path = os.path.join(run_dir, name)
        if name.endswith(".pid") and path not in known:
            strays.append(layout.Proc(name[:-4], catalog.PROGRAMS[0], None, None,
                                      os.path.join(cluster.settings.data_dir, "etc"), path, ""))
    return strays


def cmd_reset(args, out):
    data_dir = os.path.abspath(os.path.expanduser(args.data_dir))
    if not os.path.exists(data_dir):
        out("nothing to reset: %s does not exist" % data_dir)
        return 0
    if not os.path.exists(layout.state_path(data_dir)) and not os.path.exists(layout.objstore_conf_path(data_dir)):
        raise ConfigError("%s does not look like an all-in-one data dir (no %s); not wiping it"
                          % (data_dir, layout.STATE_FILE))
    if not args.yes:
        if not sys.stdin.isatty():
            raise ConfigError("reset deletes everything in %s; confirm with --yes" % data_dir)
        answer = input("Stop the all-in-one and delete everything in %s? [y/N] " % data_dir)
        if answer.strip().lower() not in ("y", "yes"):
            out("not reset")
            return 1
    settings = layout.load_settings(data_dir)
    if settings is not None:
        cluster = Cluster.recorded(settings, out)
        cluster.stop(cluster.procs + _strays(cluster), quiet=True)
    shutil.rmtree(data_dir)
    out("reset: deleted %s" % data_dir)
    return 0


def cmd_once(args, out):
    settings = _recorded(args)
    available = catalog.available()
    have = {program.name for program, _ in available}
    if args.daemons:
        chosen = catalog.resolve(args.daemons, catalog.daemons())
        lacking = [program.name for program in chosen if program.name not in have]
        if lacking:
            raise ConfigError("this build has no %s" % ", ".join(lacking))
    else:
        chosen = [program for program in catalog.daemons() if program.name in have]
        if not chosen:
            out("this build has no consistency daemons yet")
            return 0
    cluster = Cluster(settings, available, out)
    if not any(proc.program.server and cluster.state(proc)[0] == "running" for proc in cluster.procs):
        out("note: the cluster is not running; daemons that talk to servers will find them down")
    env = procs.child_env(cluster.objstore_conf)
    failed = 0
    for program in chosen:
        module = catalog.find_module(program).__name__
        nodes = layout.node_procs(settings, program)
        begin = time.monotonic()
        children = []
        for proc in nodes:
            log = proc.log_file
            argv = procs.python_argv(module, proc.conf_file, "--once")
            children.append((proc, procs.spawn(argv, log_path=log, env=env, cwd=settings.data_dir, detach=False)))
        bad = []
        for proc, child in children:
            if child.wait() != 0:
                bad.append((proc, child.returncode))
        took = time.monotonic() - begin
        if bad:
            failed += 1
            for proc, code in bad:
                last = procs.tail(proc.log_file, 1)
                out("%s: failed (exit %s)%s; see %s" % (proc.name, code, (": " + last[0]) if last else "",
                                                        proc.log_file))
        else:
            out("%s: one pass on %d nodes done in %.1fs" % (program.name, len(nodes), took))
    return 1 if failed else 0


def cmd_kill(args, out):
    settings = _recorded(args)
    cluster = Cluster.recorded(settings, out)
    chosen = cluster.find(args.node)
    count = cluster.stop(chosen)
    out("stopped %s (%d processes)" % (", ".join(proc.name for proc in chosen), count))
    return 0


def cmd_revive(args, out):
    settings = _recorded(args)
    cluster = Cluster(settings, catalog.available(), out)
    chosen = cluster.find(args.node)
    started = cluster.launch(chosen, args.timeout)
    out("started %s" % (", ".join(proc.name for proc in started) if started else "nothing: all running"))
    return 0


COMMANDS = {
    "start": cmd_start,
    "status": cmd_status,
    "stop": cmd_stop,
    "reset": cmd_reset,
    "once": cmd_once,
    "kill": cmd_kill,
    "stop-node": cmd_kill,
    "revive": cmd_revive,
    "start-node": cmd_revive,
}


def build_parser():
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", default=layout.default_data_dir(),
                        help="where configs, rings, data, logs and pid files live (default: %(default)s)")
    parser = argparse.ArgumentParser(prog=PROG, description="A whole objstore cluster on this machine.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    start = sub.add_parser("start", parents=[common], help="set up (first time) and start everything")
    start.add_argument("--port", type=int, help="the proxy's port (default 8080)")
    start.add_argument("--base-port", type=int, help="first port of the storage servers (default 6200)")
    start.add_argument("--nodes", type=int, help="storage nodes (default 4)")
    start.add_argument("--replicas", type=int, help="replicas of every ring (default 3)")
    start.add_argument("--with-compute", action="store_true",
                       help="also run the compute API (kept for later starts; needs `make compute-deps`)")
    start.add_argument("--without-compute", action="store_true", help="no longer run the compute API")
    start.add_argument("--libvirt-uri", help="the compute API's libvirt URI (default %s)" % layout.DEFAULT_LIBVIRT_URI)
    start.add_argument("--foreground", action="store_true", help="stay attached, logs on stdout; Ctrl-C stops all")
    start.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for every server to answer")
    sub.add_parser("status", parents=[common], help="each process: up or down, port, pid")
    sub.add_parser("stop", parents=[common], help="stop everything start started and wait for it")
    reset = sub.add_parser("reset", parents=[common], help="stop, then delete the data dir")
    reset.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    once = sub.add_parser("once", parents=[common], help="run consistency daemons once on every node")
    once.add_argument("daemons", nargs="*", metavar="DAEMON",
                      help="e.g. object-replicator, replicator, updater (default: all)")
    for name, helptext in (("kill", "stop every server of one node"), ("stop-node", "same as kill"),
                           ("revive", "start the servers of one node again"), ("start-node", "same as revive")):
        node = sub.add_parser(name, parents=[common], help=helptext)
        node.add_argument("node", help="a node number (1..nodes, or node2) or a process name")
        if name in ("revive", "start-node"):
            node.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for them to answer")
    return parser


def main(argv=None, out=None):
    out = out or (lambda line: print(line, flush=True))
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args, out)
    except ObjstoreError as err:
        print("%s: %s" % (PROG, err), file=sys.stderr)
        return 1
    except OSError as err:
        where = (" (%s)" % err.filename) if err.filename else ""
        print("%s: %s%s" % (PROG, err.strerror or err, where), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("%s: interrupted" % PROG, file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
