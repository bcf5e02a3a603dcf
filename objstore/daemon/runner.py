"""The one runner of every background daemon (replicators, auditors, updaters,
expirer, reaper): config loading, looping with interval and jitter, a single
pass (``--once``), signals, per-item concurrency, rate limits, and the recon
cache written after each pass.

What a daemon does in a pass is not here: a daemon subclasses :class:`Daemon`
and implements :meth:`Daemon.run_pass`. Recon file handling lives in
``recon.py``; which ring devices are this node's lives in ``local.py``.

Theory of operation:
- ``main()`` of each daemon module calls :func:`daemon_main` with its class.
  The config is the per-node file of the server of the daemon's kind: the
  daemon's section (``[object-replicator]``) overlays a few keys it inherits
  from the server's section (devices, mount_check, ring_dir, bind_ip,
  bind_port, reclaim_age, log settings), so one file configures a node.
- :func:`run_together` runs several daemons in one process, each in its own
  greenthread (``objstore-node-daemons``, cli/nodedaemons.py): a daemon
  mostly sleeps, and a process of its own costs ~40 MiB.
- Signal handlers only set a flag. ``run_forever`` checks it between passes
  and while sleeping; passes check :meth:`Daemon.stopping` between units of
  work (a partition, an object) and return early, so SIGTERM ends the process
  within one unit of work.
- The daemon loop is one of the two places with a catch-all ``except
  Exception``: a pass that crashes is logged and the next one starts after
  the interval, so one bad file never stops repair for good.
"""

import argparse
import dataclasses
import os
import random
import signal
import sys
import time

from objstore.common import green
from objstore.common.config import build, option, read_ini
from objstore.common.exceptions import ConfigError, ObjstoreError
from objstore.common.log import get_logger
from objstore.daemon import recon
from objstore.ring import Ring
from objstore.web.backend import ConnectionPool

# Keys a daemon inherits from its server's section of the same file, so that
# an operator sets devices/ports once per node.
INHERITED_KEYS = (
    "devices",
    "mount_check",
    "ring_dir",
    "bind_ip",
    "bind_port",
    "reclaim_age",
    "log_file",
    "log_level",
    "recon_cache_path",
)


@dataclasses.dataclass(frozen=True)
class DaemonConfig:
    """Options every daemon shares; each daemon's config subclasses this."""

    devices: str = option("/srv/node", "directory holding one directory per device")
    mount_check: bool = option(True, "skip devices that are not mount points")
    ring_dir: str = option("/etc/objstore", "where account/container/object.ring.gz live")
    bind_ip: str = option("", "this node's address as written in the ring; empty: any address of this host")
    bind_port: int = option(0, "the port of this node's server of the daemon's kind, as in the ring (0: any)")
    interval: float = option(30.0, "seconds from the start of one pass to the start of the next")
    jitter: float = option(0.1, "a random extra sleep of up to this fraction of interval, so nodes spread out")
    concurrency: int = option(1, "units of work (devices, partitions, nodes) handled at once")
    recon_cache_path: str = option("", "directory of the recon cache; empty: 'recon' next to devices")
    log_file: str = option("", "log file path; empty means stderr")
    log_level: str = option("INFO", "DEBUG, INFO, WARNING or ERROR")
    log_name: str = option("", "name on each log line; empty means the daemon's section name")

    def validate(self):
        if self.interval < 0:
            raise ValueError("interval must not be negative")
        if not 0 <= self.jitter <= 1:
            raise ValueError("jitter must be between 0 and 1")
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")


def load_daemon_config(conf_path, section, config_cls, server_section=None):
    """Build ``config_cls`` from ``section`` of ``conf_path``.

    Keys of :data:`INHERITED_KEYS` found in ``server_section`` are taken first;
    the daemon's own section overrides them. Keys of ``[DEFAULT]`` the class
    does not know are ignored (they serve other sections).

    :raises ConfigError: unreadable file, unknown key, bad value.
    """
    sections = read_ini(conf_path)
    defaults = _defaults(conf_path)
    known = {field.name for field in dataclasses.fields(config_cls)}
    values = {}
    if server_section and server_section in sections:
        for key, value in sections[server_section].items():
            if key in INHERITED_KEYS and key in known:
                values[key] = value
    for key, value in sections.get(section, {}).items():
        if key not in known and key in defaults and defaults[key] == value:
            continue
        values[key] = value
    if section not in sections:
        for key, value in defaults.items():
            if key in known:
                values[key] = value
    return build(config_cls, values, conf_path, section, allow_unknown=("use",))


def _defaults(conf_path):
    import configparser

    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str
    try:
        parser.read(conf_path, encoding="utf-8")
    except configparser.Error:
        return {}
    return dict(parser.defaults())


def next_sleep(interval, elapsed, jitter, rand):
    """Seconds to sleep after a pass that took ``elapsed`` seconds.

    :param rand: a float in [0, 1) (``random.random()``), injected for tests.
    """
    return max(0.0, interval - elapsed) + interval * jitter * rand


class RateLimiter:
    """Keeps an activity under ``rate`` units per second (0: unlimited).

    ``wait(n)`` is called after consuming ``n`` units; it sleeps as long as
    needed so the running average stays under the rate. Bursts are allowed
    up to one second's worth of units (a slow start does not earn credit
    forever).
    """

    def __init__(self, rate, clock=time.monotonic, sleep=None):
        self.rate = float(rate)
        self.clock = clock
        self.sleep = sleep or green.sleep
        self.next_at = None

    def wait(self, amount=1):
        """Account for ``amount`` units; returns the seconds slept."""
        if self.rate <= 0 or amount <= 0:
            return 0.0
        now = self.clock()
        if self.next_at is None or self.next_at < now - 1.0:
            self.next_at = now - 1.0 if self.next_at is not None else now
        self.next_at += amount / self.rate
        delay = self.next_at - now
        if delay > 0:
            self.sleep(delay)
            return delay
        return 0.0


class Daemon:
    """Base of every daemon: subclasses set ``name`` (their config section),
    ``server_section`` (the section they inherit node settings from) and
    ``config_cls``, and implement :meth:`run_pass`.

    :param config: the daemon's frozen config.
    :param logger: a logger named after the daemon.
    """

    name = "daemon"
    server_section = None
    config_cls = DaemonConfig

    def __init__(self, config, logger):
        self.config = config
        self.logger = logger
        self._stop = False

    # --- set by the runner, read by passes ---------------------------------
    def request_stop(self):
        self._stop = True

    def stopping(self):
        """True once SIGTERM arrived: passes return at the next unit of work."""
        return self._stop

    # --- what subclasses implement -------------------------------------------
    def run_pass(self, devices=None, partitions=None):
        """Do one full pass of work and return its stats (a JSON-able dict).

        :param devices: device names to restrict the pass to, or None.
        :param partitions: partition numbers to restrict the pass to, or None.
        """
        raise NotImplementedError

    # --- shared tools --------------------------------------------------------
    def recon_dir(self):
        return recon.recon_dir(self.config.recon_cache_path, self.config.devices)

    def run_concurrently(self, func, items):
        """``func(item)`` for each item, ``config.concurrency`` at a time.

        :returns: the results in the order of ``items``. An exception in one
            call is logged and gives None for that item.
        """

        def guarded(item):
            try:
                return func(item)
            except Exception:  # the daemon loop's catch-all, per unit of work
                self.logger.exception("ERROR %s failed on %r", self.name, item)
                return None

        items = list(items)
        if self.config.concurrency <= 1 or len(items) <= 1:
            return [guarded(item) for item in items]
        pool = green.GreenPool(self.config.concurrency)
        return list(pool.imap(guarded, items))


class ClusterDaemon(Daemon):
    """A daemon that talks to the whole cluster (the expirer, the reaper):
    rings by kind, loaded from ``ring_dir`` on first use, and one backend
    connection pool. Its config needs ``conn_timeout`` and ``node_timeout``.

    :param rings: ``{"account", "container", "object"}`` Rings (loaded from
        ``ring_dir`` when missing).
    :param pool: a ConnectionPool (made from the config when None).
    :param now: the clock (tests pass a fixed one).
    """

    def __init__(self, config, logger, rings=None, pool=None, now=time.time):
        super().__init__(config, logger)
        self._rings = dict(rings or {})
        self.pool = pool or ConnectionPool(config.conn_timeout, config.node_timeout)
        self.now = now

    def ring(self, kind):
        """The ``account``, ``container`` or ``object`` Ring."""
        if kind not in self._rings:
            self._rings[kind] = Ring(os.path.join(self.config.ring_dir, "%s.ring.gz" % kind))
        return self._rings[kind]



def run_once(daemon, devices=None, partitions=None, clock=time.time):
    """One pass with timing and the recon cache update; returns the stats.

    The recon entry holds the pass's stats plus ``last_pass`` (end time,
    POSIX seconds), ``pass_duration`` (seconds) and ``passes`` (how many
    passes have completed, over the life of the cache).
    """
    start = clock()
    stats = daemon.run_pass(devices=devices, partitions=partitions) or {}
    end = clock()
    entry = dict(stats)
    entry["last_pass"] = end
    entry["pass_duration"] = end - start
    entry["partial"] = bool(devices or partitions) or daemon.stopping()
    try:
        previous = recon.read_recon(daemon.recon_dir(), daemon.name)
        entry["passes"] = int(previous.get("passes", 0)) + 1
        recon.write_recon(daemon.recon_dir(), daemon.name, entry)
    except OSError as err:
        daemon.logger.warning("cannot write recon cache in %s: %s", daemon.recon_dir(), err)
    daemon.logger.info("pass done in %.2fs: %s", entry["pass_duration"], _summary(stats))
    return entry


def _summary(stats):
    return ", ".join("%s=%s" % (key, value) for key, value in sorted(stats.items()) if not isinstance(value, dict))


def run_forever(daemon, clock=time.time, rand=random.random, sleep=None, max_passes=None,
                devices=None, partitions=None):
    """Passes separated by ``interval`` (plus jitter) until the daemon stops.

    :param max_passes: stop after this many passes (tests); None: forever.
    :param devices: restrict every pass to these devices (as ``--devices``).
    :param partitions: restrict every pass to these partitions.
    """
    sleep = sleep or green.sleep
    done = 0
    # A first random delay spreads the nodes of a cluster started together.
    _sleep_unless_stopped(daemon, daemon.config.interval * daemon.config.jitter * rand(), sleep)
    while not daemon.stopping():
        start = clock()
        try:
            run_once(daemon, devices=devices, partitions=partitions, clock=clock)
        except Exception:  # the daemon loop: one of the two catch-alls
            daemon.logger.exception("ERROR %s pass failed", daemon.name)
        done += 1
        if max_passes is not None and done >= max_passes:
            break
        pause = next_sleep(daemon.config.interval, clock() - start, daemon.config.jitter, rand())
        _sleep_unless_stopped(daemon, pause, sleep)
    daemon.logger.info("%s stopped", daemon.name)


def _sleep_unless_stopped(daemon, seconds, sleep):
    end = time.monotonic() + seconds
    while not daemon.stopping():
        left = end - time.monotonic()
        if left <= 0:
            return
        sleep(min(left, 0.5))


def run_together(daemons, once=False, devices=None, partitions=None, err=None):
    """Run ``daemons`` in this one process, each in its own greenthread.

    One process per node instead of one per daemon: each daemon costs an
    interpreter's worth of memory (~40 MiB) while it mostly sleeps between
    passes, so a node's ten daemons share one. They take turns in one hub:
    a daemon yields whenever it waits on the network, on a rate limit or
    between passes.

    :param once: one pass each (run concurrently), then return.
    :param err: where a daemon's fatal config error is said (stderr).
    :returns: the exit code: 0, 2 when a daemon stopped on a config error,
        1 when one stopped on another error it could not go past.
    """
    err = err or sys.stderr
    codes = []

    def run(daemon):
        try:
            if once:
                run_once(daemon, devices=devices, partitions=partitions)
            else:
                run_forever(daemon, devices=devices, partitions=partitions)
        except ConfigError as error:
            print("objstore-%s: %s" % (daemon.name, error), file=err)
            codes.append(2)
        except ObjstoreError as error:
            print("objstore-%s: %s" % (daemon.name, error), file=err)
            codes.append(1)
        except Exception:  # one daemon's crash outside a pass must not end the others
            daemon.logger.exception("ERROR %s stopped", daemon.name)
            codes.append(1)

    pool = green.GreenPool(max(1, len(daemons)))
    for daemon in daemons:
        pool.spawn(run, daemon)
    pool.waitall()
    return max(codes, default=0)


def stop_on_signals(daemons):
    """SIGTERM and SIGINT ask every daemon in ``daemons`` to stop."""

    def on_term(signum, frame):
        for daemon in daemons:
            daemon.request_stop()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)


def parse_int_list(text):
    """``"1,2, 5"`` -> ``[1, 2, 5]``; None or empty -> None."""
    if not text:
        return None
    return [int(item) for item in text.replace(",", " ").split()]


def parse_name_list(text):
    """``"sdb1,sdb2"`` -> ``['sdb1', 'sdb2']``; None or empty -> None."""
    if not text:
        return None
    return [item for item in text.replace(",", " ").split() if item]


def add_pass_options(parser):
    """``--devices``, ``--partitions`` and ``--verbose``, as every daemon program takes them."""
    parser.add_argument("--devices", help="only these devices (comma-separated)")
    parser.add_argument("--partitions", help="only these partitions (comma-separated)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG to stderr")


def daemon_main(daemon_cls, argv=None):
    """The ``main()`` body of every ``objstore-<kind>-<role>`` daemon.

    ``CONF [--once] [--devices d1,d2] [--partitions 1,2] [--verbose]``.
    Returns the process exit code (2 on a config error).
    """
    parser = argparse.ArgumentParser(prog="objstore-" + daemon_cls.name)
    parser.add_argument("conf", help="the node's config file, with a [%s] section" % daemon_cls.name)
    parser.add_argument("--once", action="store_true", help="run one pass and exit")
    add_pass_options(parser)
    args = parser.parse_args(argv)
    try:
        config = load_daemon_config(args.conf, daemon_cls.name, daemon_cls.config_cls, daemon_cls.server_section)
        devices = parse_name_list(args.devices)
        partitions = parse_int_list(args.partitions)
    except (ConfigError, ValueError) as err:
        print("objstore-%s: %s" % (daemon_cls.name, err), file=sys.stderr)
        return 2
    level = "DEBUG" if args.verbose else config.log_level
    logger = get_logger(config.log_name or daemon_cls.name, None if args.verbose else (config.log_file or None), level)
    green.monkey_patch()
    try:
        daemon = daemon_cls(config, logger)
    except ConfigError as err:
        print("objstore-%s: %s" % (daemon_cls.name, err), file=sys.stderr)
        return 2

    stop_on_signals([daemon])
    try:
        if args.once:
            run_once(daemon, devices=devices, partitions=partitions)
        else:
            run_forever(daemon, devices=devices, partitions=partitions)
    except ConfigError as err:  # found only once the pass looks (e.g. ambiguous local devices)
        print("objstore-%s: %s" % (daemon_cls.name, err), file=sys.stderr)
        return 2
    except ObjstoreError as err:  # e.g. a missing ring file: say so without a traceback
        print("objstore-%s: %s" % (daemon_cls.name, err), file=sys.stderr)
        return 1
    return 0
