"""CPU time used by a cluster's processes, from /proc/<pid>/stat.

On a machine shared with other work, ops/s moves with the other load; the
CPU seconds the servers themselves spend per request do not (much), so the
report gives both. Which processes belong to a cluster is the caller's
business (each all-in-one module's ``pids()``).
"""

import os

TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid):
    """User + system CPU seconds of ``pid`` so far (0.0 when it is gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    # After the ")" field 3 (state) is fields[0]: utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / TICKS


def cluster_cpu_seconds(pids):
    return sum(process_cpu_seconds(pid) for pid in pids)


class CpuMeter:
    """CPU seconds the processes ``pids_fn()`` used between ``__enter__`` and ``__exit__``.

    The process set is taken at entry; a cluster's servers do not fork per
    request, so that set covers the phase.
    """

    def __init__(self, pids_fn):
        self.pids_fn = pids_fn
        self.seconds = 0.0

    def __enter__(self):
        self.pids = self.pids_fn()
        self._start = cluster_cpu_seconds(self.pids)
        return self

    def __exit__(self, *exc):
        self.seconds = cluster_cpu_seconds(self.pids) - self._start
        return False
