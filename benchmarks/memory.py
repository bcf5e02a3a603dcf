"""Resident memory of a cluster's processes, from /proc.

RSS counts a page shared by a parent and its forked worker once per process;
PSS (``/proc/<pid>/smaps_rollup``) divides each shared page among the
processes that map it, so the PSS of a set of processes adds up to what they
really occupy. Both are reported. Which processes belong to a cluster is the
caller's business (each all-in-one module's ``pids()``).
"""

import threading


def process_memory(pid):
    """``{"rss_kib", "pss_kib", "name"}`` for ``pid``, or None when it is gone."""
    out = {"rss_kib": 0, "pss_kib": 0, "name": "?"}
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Rss:"):
                    out["rss_kib"] = int(line.split()[1])
                elif line.startswith("Pss:"):
                    out["pss_kib"] = int(line.split()[1])
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            argv = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except (OSError, ValueError):
        return None
    out["name"] = " ".join(a.rsplit("/", 1)[-1] for a in argv[:3])
    return out


def cluster_memory(pids):
    """Totals over ``pids``: ``{"processes", "rss_mib", "pss_mib", "by_process": [...]}``."""
    rows = [m for m in (process_memory(p) for p in pids) if m]
    return {
        "processes": len(rows),
        "rss_mib": round(sum(r["rss_kib"] for r in rows) / 1024.0, 1),
        "pss_mib": round(sum(r["pss_kib"] for r in rows) / 1024.0, 1),
        "by_process": sorted(rows, key=lambda r: -r["pss_kib"]),
    }


class PeakSampler:
    """Samples ``cluster_memory(pids_fn())`` every ``interval`` s in a thread; keeps the peak.

    Use as a context manager around a load phase; ``peak`` is the sample with
    the largest RSS total (or None when nothing was sampled).
    """

    def __init__(self, pids_fn, interval=0.5):
        self.pids_fn = pids_fn
        self.interval = interval
        self.peak = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while True:
            sample = cluster_memory(self.pids_fn())
            if self.peak is None or sample["rss_mib"] > self.peak["rss_mib"]:
                self.peak = sample
            if self._stop.wait(self.interval):
                break

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        return False
