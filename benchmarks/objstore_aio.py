"""objstore under test: the all-in-one (``objstore-aio``) started the way a
user starts it, in the same shape as the Swift reference (swift_aio.py).

``objstore-aio start`` lays out 4 nodes, 3-replica rings with part_power 10
and tempauth, and starts every server and the consistency daemons (one
process per node runs that node's ten). The benchmark then stops the daemons
through the all-in-one's own process table, so that both sides measure the
request path alone; at the end it starts them again on both sides to measure
the memory of a whole running cluster (``start_daemons``/``stop_daemons``). The server worker counts the all-in-one
wrote into its configs are read back (:meth:`ObjstoreAIO.worker_counts`) and
Swift is configured with the same ones.

Durability: the object server fsyncs each object's data file (body and
metadata) and then its directory after the rename, before answering 201; the
proxy answers the client once a quorum (2 of 3) of object servers have.

What is not here: the workloads (workloads.py), Swift (swift_aio.py).
"""

import configparser
import os
import subprocess
import sys

from benchmarks import host

USER, KEY = "test:tester", "testing"
STORAGE_KINDS = ("object", "container", "account")


class ObjstoreAIO:
    """objstore-aio in ``data_dir`` (on the benchmark's volume): ``start()``, ``stop()``, ``pids()``."""

    name = "objstore"

    def __init__(self, data_dir, port, base_port, log_dir, python=sys.executable, keep_daemons=False):
        self.data_dir = data_dir
        self.port = port
        self.base_port = base_port
        self.log_dir = log_dir
        self.python = python
        self.keep_daemons = keep_daemons
        self.auth_url = "http://127.0.0.1:%d/auth/v1.0" % port
        self.user, self.key = USER, KEY
        self.stopped_daemons = []

    def _aio(self, *args, timeout=180):
        argv = [self.python, "-m", "objstore.cli.aio", *args, "--data-dir", self.data_dir]
        repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env = dict(os.environ, PYTHONPATH=repo + os.pathsep + os.environ.get("PYTHONPATH", ""))
        with open(os.path.join(self.log_dir, "objstore-aio.log"), "a") as log:
            log.write("$ %s\n" % " ".join(argv))
            log.flush()
            done = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT, timeout=timeout, env=env, cwd=repo)
        return done.returncode

    def start(self):
        os.makedirs(self.log_dir, exist_ok=True)
        try:
            code = self._aio("start", "--port", str(self.port), "--base-port", str(self.base_port))
        except subprocess.TimeoutExpired:
            code = "nothing (still running after 180 s)"
        if code:
            self.stop()
            raise host.BenchSetupError("objstore-aio start exited %s; see %s/objstore-aio.log and %s/logs/"
                                       % (code, self.log_dir, self.data_dir))
        if not self.keep_daemons:
            self.stop_daemons()
        host.wait_http("http://127.0.0.1:%d/healthcheck" % self.port)

    def stop_daemons(self):
        """Stop the consistency daemons the all-in-one started (its servers keep running)."""
        from objstore.cli import aio, catalog, layout  # the code under test, loaded only when used

        settings = layout.load_settings(self.data_dir)
        cluster = aio.Cluster(settings, catalog.available(), lambda line: None)
        daemons = [proc for proc in cluster.procs if not proc.program.server]
        cluster.stop(daemons, quiet=True)
        self.stopped_daemons = sorted({proc.name for proc in daemons})

    def start_daemons(self):
        """Start the daemons again (``objstore-aio start`` starts what is not running)."""
        code = self._aio("start")
        if code:
            raise host.BenchSetupError("objstore-aio start (daemons) exited %s; see %s/objstore-aio.log"
                                       % (code, self.log_dir))

    def check_daemons(self):
        """:raises BenchSetupError: a process of the all-in-one is not running."""
        code = self._aio("status")
        if code:
            raise host.BenchSetupError("objstore-aio status exited %s: a process is down; see %s/logs/"
                                       % (code, self.data_dir))

    def root_pids(self):
        run_dir = os.path.join(self.data_dir, "run")
        pids = []
        for name in sorted(os.listdir(run_dir)) if os.path.isdir(run_dir) else []:
            if name.endswith(".pid"):
                try:
                    with open(os.path.join(run_dir, name)) as f:
                        pids.append(int(f.read().split()[0]))
                except (OSError, ValueError, IndexError):
                    pass
        return pids

    def pids(self):
        """Every process of this cluster: each server started by the all-in-one and its workers."""
        return host.session_members(set(self.root_pids()))

    def stop(self):
        members = self.pids()
        self._aio("stop", timeout=120)
        leftovers = [p for p in members if host.alive(p)]
        host.stop_pids(leftovers, timeout=5)

    def worker_counts(self):
        """The server worker counts the all-in-one wrote (see :func:`read_worker_counts`)."""
        return read_worker_counts(self.data_dir)

    def describe(self):
        done = subprocess.run(["git", "-C", os.path.dirname(os.path.abspath(__file__)), "rev-parse", "--short",
                               "HEAD"], capture_output=True, text=True)
        return {"system": "objstore %s" % (done.stdout.strip() or "?"),
                "daemons_stopped_for_the_run": self.stopped_daemons}


def read_worker_counts(data_dir):
    """``{"proxy": n, "object": n, "container": n, "account": n}`` from an all-in-one's configs."""
    counts = {}
    files = {"proxy": os.path.join(data_dir, "etc", "proxy-server.conf")}
    for kind in STORAGE_KINDS:
        files[kind] = os.path.join(data_dir, "etc", "node1", "%s-server.conf" % kind)
    for kind, path in files.items():
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        parser.read(path)
        section = "%s-server" % kind
        value = parser.get(section, "workers", fallback=None) if parser.has_section(section) else None
        counts[kind] = int(value) if value is not None else 1
    return counts


def configured_worker_counts(scratch_dir):
    """The worker counts objstore-aio would write, without starting it (for ``--only swift``)."""
    from objstore.cli import catalog, layout  # the code under test, loaded only when used

    layout.write_configs(layout.Settings(data_dir=scratch_dir), catalog.available())
    return read_worker_counts(scratch_dir)
