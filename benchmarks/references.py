"""Physical reference points on this machine, so that each figure can also be
read as a fraction of what the hardware allows:

- ``dd`` of 256 MiB with ``conv=fsync`` on the filesystem the devices live on
  (the ceiling for one stream of durable writes, before replication);
- one plain Python HTTP stream over loopback: ``python -m http.server``
  serving a 256 MiB file, read with the same client code loadgen uses (the
  ceiling for one Python HTTP stream, before any storage logic);
- one 256 MiB stream through a plain Python relay to three writers that
  fsync it, answered at a quorum of two (fanout.py: the ceiling for a
  3-replica PUT through a proxy, before any storage logic). run.py measures
  it in every round, right before the large-object workload, since it moves
  with the machine's state as much as the clusters' figures do.

Nothing here talks to either cluster.
"""

import http.client
import os
import re
import subprocess
import sys
import time

from benchmarks import fanout, host

DD_RE = re.compile(r"copied, ([0-9.]+) s")


def dd_fsync(directory, mib=256):
    """MB/s (10^6 bytes) of ``dd if=/dev/zero bs=1M count=mib conv=fsync`` into ``directory``."""
    target = os.path.join(directory, "dd-reference.tmp")
    try:
        done = subprocess.run(["dd", "if=/dev/zero", "of=" + target, "bs=1M", "count=%d" % mib, "conv=fsync"],
                              capture_output=True, text=True, check=True)
    finally:
        if os.path.exists(target):
            os.unlink(target)
    match = DD_RE.search(done.stderr)
    seconds = float(match.group(1))
    return mib * 1024 * 1024 / seconds / 1e6


def http_get_mb_per_s(port, path, buf_size=1 << 20):
    """MB/s of one GET of ``path`` from 127.0.0.1:``port``, body read into a reused buffer."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    buf = memoryview(bytearray(buf_size))
    try:
        t0 = time.perf_counter()
        conn.request("GET", path)
        resp = conn.getresponse()
        got = 0
        while True:
            n = resp.readinto(buf)
            if not n:
                break
            got += n
        seconds = time.perf_counter() - t0
    finally:
        conn.close()
    if resp.status != 200:
        raise host.BenchSetupError("reference http.server answered %d" % resp.status)
    return got / seconds / 1e6


def loopback_http(work_dir, mib=256, rounds=3):
    """Median MB/s of ``rounds`` GETs of a ``mib`` MiB file from ``python -m http.server``."""
    serve_dir = os.path.join(work_dir, "http-reference")
    os.makedirs(serve_dir, exist_ok=True)
    with open(os.path.join(serve_dir, "blob"), "wb") as f:
        chunk = os.urandom(1 << 20)
        for _ in range(mib):
            f.write(chunk)
    port = host.free_port_block(1, start=29000)
    pid = host.launch([sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "--directory", serve_dir,
                       str(port)], os.path.join(work_dir, "http-reference.log"))
    try:
        host.wait_tcp(port)
        figures = sorted(http_get_mb_per_s(port, "/blob") for _ in range(rounds))
    finally:
        host.stop_pids([pid])
        os.unlink(os.path.join(serve_dir, "blob"))
    return figures[len(figures) // 2]


def measure(devices_dir, work_dir, quick=False):
    """The references measured once: ``{"dd_fsync_mb_per_s", "loopback_http_mb_per_s"}``."""
    mib = 64 if quick else 256
    rounds = 1 if quick else 3
    dds = sorted(dd_fsync(devices_dir, mib) for _ in range(rounds))
    return {
        "dd_fsync_mb_per_s": round(dds[len(dds) // 2], 1),
        "loopback_http_mb_per_s": round(loopback_http(work_dir, mib, rounds), 1),
        "size_mib": mib,
    }


def add_fanout_round(references, devices_dir, work_dir, mib):
    """Measure the relay reference once more (one ``mib`` MiB PUT) into
    ``references``: ``fanout_rounds`` keeps each, ``fanout_put_mb_per_s``
    their median."""
    figures = references.setdefault("fanout_rounds", [])
    figures.append(round(fanout.measure(devices_dir, work_dir, mib, rounds=1), 1))
    ordered = sorted(figures)
    references["fanout_put_mb_per_s"] = ordered[len(ordered) // 2]
    return figures[-1]
