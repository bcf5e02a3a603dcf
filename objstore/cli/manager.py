"""``objstore-init``: start, stop, reload and watch the servers and daemons of a
production node, with pid files, the way an init system or an operator wants.

    objstore-init <server|all|main|rest> [...] <command> [options]

``main`` is the servers, ``rest`` the daemons, ``all`` both; a server may be
named by its kind (``object``), its name (``object-server``), or a daemon role
(``replicator``: every replicator). Commands: start, stop, restart, reload,
status, once, no-daemon.

``node-daemons`` is every daemon of the node in one process
(``objstore-node-daemons``, reading the node's account-, container- and
object-server.conf), an alternative to one process per daemon. Only its own
name selects it. The two ways must not run at once for one node (each daemon
would do its work twice), so a command that would start one while the other
runs, or that names both, is refused (one line, exit 2, nothing done). While
a node's node-daemons runs, ``all`` and ``rest`` mean it instead of the
separate daemons it covers (``all restart`` keeps the node that way);
otherwise they mean the separate daemons, as without node-daemons. A node
that runs node-daemons is best managed as ``main`` + ``node-daemons``.

Config: ``<conf-dir>/<kind>-server.conf`` for a kind's server and its daemons
(each its own section), or one instance per file in ``<conf-dir>/<kind>-server/``
for several nodes on one host. Pid files: ``<run-dir>/<name>.pid`` (or
``<run-dir>/<name>/<file>.pid``). Output of each process goes to
``<log-dir>/<name>.log``.

Every config is loaded into its program's config dataclass before anything is
started or signalled, and an error names the file and the line.

Exit codes: 0 done; 1 an operation failed (did not start, did not stop within
the wait); 2 usage or config error; 3 ``status``: something is not running.

What programs exist is ``catalog.py``; pid files and signals are ``procs.py``.
"""

import argparse
import configparser
import dataclasses
import os
import re
import signal
import sys
import time

from objstore.cli import catalog, procs
from objstore.common.exceptions import ConfigError
from objstore.common.fs import mkdirs

PROG = "objstore-init"
COMMANDS = ("start", "stop", "restart", "reload", "status", "once", "no-daemon")
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NOT_RUNNING = 0, 1, 2, 3


@dataclasses.dataclass(frozen=True)
class Instance:
    """One process to manage: a program with one config file."""

    program: catalog.Program
    module: object  # the imported module, or None when this build lacks it
    conf_file: str
    pid_file: str
    log_file: str
    conf_files: tuple = ()  # node-daemons: every file it reads (conf_file is the first)

    @property
    def files(self):
        """The config files the program is given on its command line."""
        return self.conf_files or (self.conf_file,)

    @property
    def label(self):
        if self.program.conf is None:
            if os.path.basename(self.pid_file) == self.program.name + ".pid":
                return self.program.name
            return "%s (%s)" % (self.program.name, ", ".join(self.files))
        base = os.path.basename(self.conf_file)
        if base == self.program.conf + ".conf":
            return self.program.name
        return "%s (%s)" % (self.program.name, self.conf_file)


def is_node_daemons(item):
    """True for an instance of a program that reads a node's files (``node-daemons``)."""
    return item.program.conf is None and not item.program.server


def is_separate_daemon(item):
    return item.program.conf is not None and not item.program.server


def covers(node_item, item):
    """True when ``node_item`` (node-daemons) runs the daemons of ``item``'s config file."""
    return os.path.abspath(item.conf_file) in node_item.files


def config_files(conf_dir, program):
    """The config files of ``program``: ``<stem>.conf`` and ``<stem>/*.conf``."""
    found = []
    single = os.path.join(conf_dir, program.conf + ".conf")
    if os.path.isfile(single):
        found.append(single)
    directory = os.path.join(conf_dir, program.conf)
    if os.path.isdir(directory):
        found.extend(
            os.path.join(directory, name) for name in sorted(os.listdir(directory)) if name.endswith(".conf")
        )
    return found


def node_stems():
    """The config stems node-daemons reads: those of every daemon in the catalog."""
    stems = []
    for program in catalog.daemons():
        if program.conf not in stems:
            stems.append(program.conf)
    return stems


def node_config_sets(conf_dir):
    """``[(instance name or None, [files])]`` node-daemons runs with.

    One node: the ``<stem>.conf`` files in ``conf_dir``; several nodes: the
    files of one name in the ``<stem>/`` directories (``object-server/1.conf``
    with ``container-server/1.conf``...), as the separate daemons find them.
    """
    sets = []
    single = [os.path.join(conf_dir, stem + ".conf") for stem in node_stems()]
    single = [path for path in single if os.path.isfile(path)]
    if single:
        sets.append((None, single))
    names = {}
    for stem in node_stems():
        directory = os.path.join(conf_dir, stem)
        if os.path.isdir(directory):
            for name in sorted(os.listdir(directory)):
                if name.endswith(".conf"):
                    names.setdefault(name[: -len(".conf")], []).append(os.path.join(directory, name))
    sets.extend(sorted(names.items()))
    return sets


def _looked_for(conf_dir, program):
    if program.conf is None:
        return ", ".join(os.path.join(conf_dir, stem + ".conf") for stem in node_stems())
    return os.path.join(conf_dir, program.conf + ".conf")


def _node_instances(program, conf_dir, run_dir, log_dir, module):
    result = []
    for name, files in node_config_sets(conf_dir):
        files = tuple(os.path.abspath(path) for path in files)
        if name is None:
            pid_file = os.path.join(run_dir, program.name + ".pid")
            log_file = os.path.join(log_dir, program.name + ".log")
        else:
            pid_file = os.path.join(run_dir, program.name, name + ".pid")
            log_file = os.path.join(log_dir, program.name, name + ".log")
        result.append(Instance(program, module, files[0], pid_file, log_file, files))
    return result


def instances(programs, conf_dir, run_dir, log_dir, find_module=catalog.find_module):
    """``(instances, missing)``: what to manage, and the programs with no config."""
    result, missing = [], []
    for program in programs:
        if program.conf is None:
            found = _node_instances(program, conf_dir, run_dir, log_dir, None)
            if not found:
                missing.append(program)
                continue
            module = find_module(program)
            result.extend(dataclasses.replace(item, module=module) for item in found)
            continue
        files = config_files(conf_dir, program)
        if not files:
            missing.append(program)
            continue
        module = find_module(program)
        for path in files:
            path = os.path.abspath(path)
            if os.path.dirname(path) == os.path.abspath(conf_dir):
                pid_file = os.path.join(run_dir, program.name + ".pid")
                log_file = os.path.join(log_dir, program.name + ".log")
            else:
                stem = os.path.basename(path)[: -len(".conf")]
                pid_file = os.path.join(run_dir, program.name, stem + ".pid")
                log_file = os.path.join(log_dir, program.name, stem + ".log")
            result.append(Instance(program, module, path, pid_file, log_file))
    return result, missing


# --- config checks, with the line ---------------------------------------------------
_SECTION = re.compile(r"^\s*\[([^\]]+)\]")
_KEY = re.compile(r"^\s*([^\s=:#;\[][^=:]*?)\s*[=:]")


def locate(path, section, key=None):
    """The 1-based line of ``key`` in ``[section]`` (the header when ``key`` is
    None), or None when it is not in the file. A key set twice is found where
    it is set last, the value the parser keeps."""
    current = None
    found = None
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, 1):
                match = _SECTION.match(line)
                if match:
                    current = match.group(1).strip()
                    if key is None and current == section:
                        return number
                    continue
                if key is not None and current == section:
                    match = _KEY.match(line)
                    if match and match.group(1).strip() == key:
                        found = number
    except OSError:
        return None
    return found


def _syntax_line(path):
    """``(line, message)`` of the first INI syntax error, or None."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        with open(path, encoding="utf-8") as handle:
            parser.read_file(handle)
    except OSError:
        return None  # the loader words this one
    except configparser.MissingSectionHeaderError as err:
        return err.lineno, "text before the first [section]: %r" % err.line.strip()
    except configparser.ParsingError as err:
        lineno, line = err.errors[0]
        return lineno, "cannot parse %r" % line.strip()
    except configparser.Error as err:
        return getattr(err, "lineno", None), str(err).splitlines()[0]
    return None


_UNKNOWN = re.compile(r"\[([^\]]+)\]: unknown option '([^']+)'")
_BAD_VALUE = re.compile(r"\[([^\]]+)\]: bad value for (\S+):")
_SECTION_ONLY = re.compile(r"\[([^\]]+)\]:")


def check_config(instance):
    """Load ``instance``'s config as the program will.

    :returns: None when it is good, else one line ``file:line: problem``.
    """
    if instance.program.conf is None:
        return _check_node_config(instance)
    path = instance.conf_file
    syntax = _syntax_line(path)
    if syntax is not None:
        line, message = syntax
        return "%s:%s: %s" % (path, line if line else "?", message)
    if instance.module is None:
        return None  # cannot check what this build cannot run; start says so
    try:
        catalog.load_config(instance.program, instance.module, path)
    except ConfigError as err:
        return _with_line(path, str(err), instance.program)
    return None


_IN_BOTH = re.compile(r"\[([^\]]+)\] is in both (\S+) and (\S+);")


def _check_node_config(instance):
    """node-daemons: each file's syntax, then every daemon section it will run,
    loaded as that daemon loads it (the first problem, ``file:line: ...``)."""
    for path in instance.files:
        syntax = _syntax_line(path)
        if syntax is not None:
            line, message = syntax
            return "%s:%s: %s" % (path, line if line else "?", message)
    if instance.module is None:
        return None
    available = catalog.available(catalog.daemons())
    try:
        found = instance.module.find_daemons(list(instance.files), available)
    except ConfigError as err:
        match = _IN_BOTH.search(str(err))
        if match:
            line = locate(match.group(3), match.group(1))
            return "%s:%s [%s] is also in %s; keep it in one file" % (
                match.group(3), ("%d:" % line) if line else "", match.group(1), match.group(2))
        return "%s: %s" % (instance.label, err)
    modules = dict(available)
    for program, _cls, path in found:
        try:
            catalog.load_config(program, modules[program], path)
        except ConfigError as err:
            return _with_line(path, str(err), program)
    return None


def _with_line(path, message, program):
    text = message[len(path):].lstrip(" :") if message.startswith(path) else message
    line = None
    for pattern in (_UNKNOWN, _BAD_VALUE):
        match = pattern.search(message)
        if match:
            section, key = match.group(1), match.group(2)
            line = locate(path, section, key)
            for other in (program.conf, "DEFAULT"):  # inherited from the server's section or DEFAULT
                line = line or locate(path, other, key)
            break
    if line is None:
        match = _SECTION_ONLY.search(message)
        if match:
            line = locate(path, match.group(1))
    return "%s:%s %s" % (path, ("%d:" % line) if line else "", text)


# --- the commands --------------------------------------------------------------------
class Manager:
    """Runs one command over a list of instances, printing one line per instance."""

    def __init__(self, items, out, kill_wait=15.0, start_wait=10.0, force=False, env=None):
        self.items = items
        self.out = out
        self.kill_wait = kill_wait
        self.start_wait = start_wait
        self.force = force
        self.env = env if env is not None else procs.child_env()

    def state(self, item):
        return instance_state(item)

    def check_all(self, items=None):
        """Every config checked before anything happens. Returns the error lines."""
        errors = []
        for item in items if items is not None else self.items:
            problem = check_config(item)
            if problem:
                errors.append(problem)
        return errors

    def _unavailable(self, item):
        if item.module is None:
            self.out("%s: not in this build (no %s)" % (item.label, " or ".join(item.program.modules)))
            return True
        return False

    def _configs_ok(self):
        """Load every selected config; print each error (``config error: file:line: ...``)."""
        errors = self.check_all()
        for line in errors:
            self.out("config error: " + line)
        return not errors

    def start(self):
        if not self._configs_ok():
            return EXIT_USAGE
        problem = self._make_dirs()
        if problem:
            self.out(problem)
            return EXIT_FAILED
        failed = 0
        spawned = []
        for item in self.items:
            if self._unavailable(item):
                failed += 1
                continue
            state, pid = self.state(item)
            if state == "running":
                self.out("%s already running (pid %d)" % (item.label, pid))
                continue
            if state == "stale":
                procs.remove_pid(item.pid_file)
                self.out("%s: removed stale pid file %s" % (item.label, item.pid_file))
            try:
                child = procs.spawn(procs.python_argv(item.module.__name__, *item.files),
                                    log_path=item.log_file, env=self.env)
                procs.write_pid(item.pid_file, child.pid)
            except OSError as err:
                self.out("%s: cannot start: %s%s" % (item.label, err.strerror or err,
                                                     (" (%s)" % err.filename) if err.filename else ""))
                failed += 1
                continue
            spawned.append((item, child))
        for item, child in spawned:
            problem = self._watch_start(item, child)
            if problem:
                procs.remove_pid(item.pid_file)
                self.out("%s failed to start: %s" % (item.label, problem))
                failed += 1
            else:
                self.out("%s started (pid %d)" % (item.label, child.pid))
        return EXIT_FAILED if failed else EXIT_OK

    def _make_dirs(self):
        """Make the pid and log directories before forking anything; a problem line or None."""
        for item in self.items:
            for path in (item.pid_file, item.log_file):
                try:
                    mkdirs(os.path.dirname(path))
                except OSError as err:
                    return "cannot create %s: %s" % (os.path.dirname(path), err.strerror)
                if not os.access(os.path.dirname(path), os.W_OK):
                    return "cannot write in %s (run as the user the services run as)" % os.path.dirname(path)
        return None

    def _watch_start(self, item, child):
        """None once ``child`` serves (servers) or is still alive (daemons)."""
        address = _listen_address(item) if item.program.server else None
        deadline = time.monotonic() + (self.start_wait if address else min(self.start_wait, 1.0))
        while True:
            code = child.poll()
            if code is not None:
                last = procs.tail(item.log_file, 1)
                return "exited with code %s%s (log: %s)" % (code, (": " + last[0]) if last else "", item.log_file)
            if address and procs.http_request(address[0], address[1], "/", timeout=1.0) is not None:
                return None
            if time.monotonic() > deadline:
                if address is None:
                    return None
                return "not answering on %s:%d after %gs" % (address[0], address[1], self.start_wait)
            time.sleep(0.1)

    def stop(self, items=None):
        failed = 0
        targets = {}
        for item in items if items is not None else self.items:
            state, pid = self.state(item)
            if state == "running":
                procs.send_signal(pid, signal.SIGTERM)
                targets[pid] = item
                self.out("%s stopping (pid %d)" % (item.label, pid))
            else:
                if state == "stale":
                    procs.remove_pid(item.pid_file)
                self.out("%s not running" % item.label)
        left = procs.wait_gone(list(targets), self.kill_wait)
        if left and self.force:
            for pid in left:
                procs.send_signal(pid, signal.SIGKILL)
                self.out("%s did not stop within %gs; killed (pid %d)" % (targets[pid].label, self.kill_wait, pid))
            left = procs.wait_gone(left, 5.0)
        for pid, item in targets.items():
            if pid in left:
                failed += 1
                self.out("%s did not stop within %gs (pid %d still running)" % (item.label, self.kill_wait, pid))
            else:
                procs.remove_pid(item.pid_file)
        return EXIT_FAILED if failed else EXIT_OK

    def restart(self):
        if not self._configs_ok():  # a bad config must not take a working server down
            return EXIT_USAGE
        code = self.stop()
        if code != EXIT_OK:
            return code
        return self.start()

    def reload(self):
        """Servers: SIGHUP (new workers with the new config, old ones drain).
        Daemons have no reload: they are restarted."""
        if not self._configs_ok():
            return EXIT_USAGE
        restart, failed = [], 0
        for item in self.items:
            state, pid = self.state(item)
            if state == "running" and item.program.server:
                os.kill(pid, signal.SIGHUP)  # the parent only: it replaces its workers itself
                self.out("%s reloading (SIGHUP to pid %d)" % (item.label, pid))
            else:
                restart.append(item)
        if restart:
            sub = Manager(restart, self.out, self.kill_wait, self.start_wait, self.force, self.env)
            failed = sub.stop() or sub.start()
        return failed

    def status(self):
        down = 0
        for item in self.items:
            state, pid = self.state(item)
            if state == "running":
                self.out("%s running (pid %d)" % (item.label, pid))
            else:
                down += 1
                self.out("%s not running%s" % (item.label, " (stale pid file)" if state == "stale" else ""))
        return EXIT_NOT_RUNNING if down else EXIT_OK

    def once(self):
        if not self._configs_ok():
            return EXIT_USAGE
        failed = 0
        for item in self.items:
            if item.program.server:
                self.out("%s: servers have no single pass; skipped" % item.label)
                continue
            if self._unavailable(item):
                failed += 1
                continue
            begin = time.monotonic()
            child = procs.spawn(procs.python_argv(item.module.__name__, *item.files, "--once"),
                                log_path=item.log_file, env=self.env, detach=False)
            code = child.wait()
            if code:
                failed += 1
                last = procs.tail(item.log_file, 1)
                self.out("%s: pass failed (exit %d)%s" % (item.label, code, (": " + last[0]) if last else ""))
            else:
                self.out("%s: one pass done in %.1fs" % (item.label, time.monotonic() - begin))
        return EXIT_FAILED if failed else EXIT_OK

    def no_daemon(self):
        """Run in the foreground (output on our stdout) until they exit or we
        get SIGINT/SIGTERM, which we pass on."""
        if not self._configs_ok():
            return EXIT_USAGE
        problem = self._make_dirs()
        if problem:
            self.out(problem)
            return EXIT_FAILED
        children = []
        for item in self.items:
            if self._unavailable(item):
                continue
            state, pid = self.state(item)
            if state == "running":
                self.out("%s already running (pid %d)" % (item.label, pid))
                continue
            child = procs.spawn(procs.python_argv(item.module.__name__, *item.files), log_path=None,
                                env=self.env, detach=False, inherit_output=True)
            procs.write_pid(item.pid_file, child.pid)
            children.append((item, child))
        if not children:
            return EXIT_FAILED

        def forward(signum, frame):
            for _item, child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)

        old = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            codes = [child.wait() for _item, child in children]
        finally:
            for sig, handler in old.items():
                signal.signal(sig, handler)
            for item, _child in children:
                procs.remove_pid(item.pid_file)
        return next((EXIT_FAILED for code in codes if code not in (0, -signal.SIGTERM)), EXIT_OK)


def instance_state(item):
    """``(state, pid)`` of ``item``'s pid file: ``running``, ``stale`` or ``missing``.

    node-daemons shares its config files with the separate daemons, so its
    process must also show its own module on its command line.
    """
    state, pid = procs.pid_status(item.pid_file, item.conf_file)
    if state == "running" and item.program.conf is None:
        if not any(procs.is_ours(pid, name) for name in item.program.modules):
            return "stale", pid
    return state, pid


# --- node-daemons or the separate daemons, never both ------------------------------
STARTING = ("start", "restart", "reload", "once", "no-daemon")


def rivals(conf_dir, run_dir, log_dir):
    """Every daemon instance of the node, both ways (no module imported): for
    telling what already runs."""
    programs = catalog.daemons() + [catalog.NODE_DAEMONS]
    return instances(programs, conf_dir, run_dir, log_dir, find_module=lambda program: None)[0]


def substitute_running(items, others, state=instance_state):
    """A group's items while node-daemons runs: node-daemons in place of the
    separate daemons it covers (those not running on their own)."""
    result = list(items)
    for node in others:
        if not is_node_daemons(node) or state(node)[0] != "running":
            continue
        if not any(covers(node, item) for item in result if is_separate_daemon(item)):
            continue
        result = [item for item in result
                  if not (is_separate_daemon(item) and covers(node, item) and state(item)[0] != "running")]
        if not any(item.pid_file == node.pid_file for item in result):
            result.append(node)
    return result


def conflict(items, others, state=instance_state):
    """One line saying why ``items`` must not start, or None.

    Refused: node-daemons named with a separate daemon of its node; starting
    node-daemons while a separate daemon of its node runs; starting a separate
    daemon while its node's node-daemons runs.
    """
    nodes = [item for item in items if is_node_daemons(item)]
    separate = [item for item in items if is_separate_daemon(item)]
    for node in nodes:
        both = [item.program.name for item in separate if covers(node, item)]
        if both:
            return ("%s runs every daemon of its node in one process; asking for it with %s too would run "
                    "them twice (name one or the other; 'main' is the servers)"
                    % (node.label, _some(both)))
    for node in nodes:
        for other in others:
            if is_separate_daemon(other) and covers(node, other):
                running, pid = state(other)
                if running == "running":
                    return ("%s already runs as its own process (pid %d); %s would run it twice "
                            "(stop the separate daemons first: %s rest stop)"
                            % (other.label, pid, node.label, PROG))
    for item in separate:
        for other in others:
            if is_node_daemons(other) and covers(other, item):
                running, pid = state(other)
                if running == "running":
                    return ("%s already runs this node's daemons (pid %d); %s as its own process would run "
                            "twice (use 'main' for the servers, or stop node-daemons first)"
                            % (other.label, pid, item.program.name))
    return None


def _some(names):
    return ", ".join(names) if len(names) <= 3 else "%s and %d more" % (", ".join(names[:3]), len(names) - 3)


def _listen_address(item):
    """``(ip, port)`` to probe a server at, from its config; None when unknown."""
    try:
        config = catalog.load_config(item.program, item.module, item.conf_file)
    except ConfigError:
        return None
    port = getattr(config, "bind_port", 0)
    if not port:
        return None
    ip = getattr(config, "bind_ip", "") or "127.0.0.1"
    if ip in ("0.0.0.0", "::", ""):
        ip = "127.0.0.1" if ip != "::" else "::1"
    return ip, port


def build_parser():
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Manage objstore servers and daemons: %s SERVER... COMMAND" % PROG,
        epilog="SERVER: all, main (servers), rest (daemons), a kind (proxy, object...), a name "
        "(object-replicator), a role (replicator), or node-daemons (every daemon of the node in one "
        "process, instead of rest). COMMAND: %s. Exit codes: 0 done, 1 failed, "
        "2 usage/config error, 3 status: not running." % ", ".join(COMMANDS),
    )
    parser.add_argument("words", nargs="+", metavar="SERVER... COMMAND")
    parser.add_argument("--conf-dir", default="/etc/objstore", help="where <kind>-server.conf live (%(default)s)")
    parser.add_argument("--run-dir", default="/var/run/objstore", help="pid files (%(default)s)")
    parser.add_argument("--log-dir", default="/var/log/objstore", help="each process's output (%(default)s)")
    parser.add_argument("--kill-wait", type=float, default=15.0, help="seconds stop waits for an exit (%(default)s)")
    parser.add_argument("--start-wait", type=float, default=10.0,
                        help="seconds start waits for a server to answer (%(default)s)")
    parser.add_argument("--force", action="store_true", help="stop: SIGKILL what is still running after the wait")
    return parser


def main(argv=None, out=None, programs=catalog.PROGRAMS, find_module=catalog.find_module,
         named_only=(catalog.NODE_DAEMONS,)):
    out = out or (lambda line: print(line, flush=True))
    args = build_parser().parse_args(argv)
    if len(args.words) < 2 or args.words[-1] not in COMMANDS:
        print("%s: usage: %s SERVER... COMMAND (COMMAND: %s)" % (PROG, PROG, ", ".join(COMMANDS)), file=sys.stderr)
        return EXIT_USAGE
    command, names = args.words[-1], args.words[:-1]
    try:
        chosen = catalog.resolve(names, programs, named_only)
    except ConfigError as err:
        print("%s: %s" % (PROG, err), file=sys.stderr)
        return EXIT_USAGE
    conf_dir = os.path.abspath(args.conf_dir)
    items, missing = instances(chosen, conf_dir, args.run_dir, args.log_dir, find_module)
    grouped = any(name.strip().lower() in ("all", "main", "rest") for name in names)
    if grouped:  # a group means what this build has and this node configures
        items = [item for item in items if item.module is not None]
    for program in missing:
        if not grouped:  # a group skips what this node does not run; a named one is an error
            print("%s: no config for %s (looked for %s)" % (
                PROG, program.name, _looked_for(conf_dir, program)), file=sys.stderr)
    if missing and not grouped:
        return EXIT_NOT_RUNNING if command == "status" else EXIT_USAGE
    daemons_group = any(name.strip().lower() in ("all", "rest") for name in names)
    if daemons_group or command in STARTING:
        others = rivals(conf_dir, args.run_dir, args.log_dir)
        if daemons_group:
            items = [dataclasses.replace(item, module=find_module(item.program)) if item.module is None else item
                     for item in substitute_running(items, others)]  # the added node-daemons has none yet
        problem = conflict(items, others) if command in STARTING else None
        if problem:
            print("%s: refused: %s" % (PROG, problem), file=sys.stderr)
            return EXIT_USAGE
    if not items:
        print("%s: no configs in %s for %s" % (PROG, conf_dir, " ".join(names)), file=sys.stderr)
        return EXIT_NOT_RUNNING if command == "status" else EXIT_USAGE
    manager = Manager(items, out, kill_wait=args.kill_wait, start_wait=args.start_wait, force=args.force)
    try:
        return getattr(manager, command.replace("-", "_"))()
    except KeyboardInterrupt:
        return 130
    except OSError as err:
        print("%s: %s%s" % (PROG, err.strerror or err, (" (%s)" % err.filename) if err.filename else ""),
              file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
