"""Running swift-bench (PyPI, installed into .venv-swift with Swift) against
either cluster and reading its figures.

swift-bench is the standard tool for a Swift endpoint; since both systems
speak the same API it runs unchanged against both. It PUTs ``num_objects``
zero-filled objects over ``num_containers`` containers, GETs ``num_gets`` of
them at random, DELETEs them, and prints one ``**FINAL**`` line per phase:
requests completed over the phase's wall time. It measures no HEAD and no
latency; loadgen.py does those.
"""

import dataclasses
import os
import re
import subprocess
import time

from benchmarks import swift_aio

FINAL_RE = re.compile(r"(\d+) (PUTS|GETS|DEL) \*\*FINAL\*\* \[(\d+) failures\], ([0-9.]+)/s")
PHASE_NAMES = {"PUTS": "PUT", "GETS": "GET", "DEL": "DELETE"}


class SwiftBenchError(Exception):
    """swift-bench did not finish all of its phases."""


@dataclasses.dataclass(frozen=True)
class BenchConfig:
    concurrency: int
    containers: int
    objects: int
    size: int
    gets: int


def parse_final_lines(text):
    """``{"PUT": {"requests", "failures", "ops_per_s"}, "GET": ..., "DELETE": ...}`` from swift-bench output.

    The last ``**FINAL**`` line of each phase counts.
    """
    out = {}
    for match in FINAL_RE.finditer(text):
        count, phase, failures, rate = match.groups()
        out[PHASE_NAMES[phase]] = {"requests": int(count), "failures": int(failures), "ops_per_s": float(rate)}
    return out


def run(venv, auth_url, user, key, config, log_path, timeout=1800):
    """Run swift-bench once with ``config``; returns parse_final_lines() of its output.

    :raises SwiftBenchError: when a phase is missing (the log says why).
    """
    argv = [os.path.join(venv, "bin", "swift-bench"), "-A", auth_url, "-U", user, "-K", key, "-V", "1.0",
            "-c", str(config.concurrency), "-C", str(config.containers), "-n", str(config.objects),
            "-s", str(config.size), "-g", str(config.gets),
            "--container-name", "swiftbench_%d" % int(time.time() * 1000)]
    env = swift_aio.swift_env()
    with open(log_path, "w") as log:
        done = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT, env=env, timeout=timeout)
    with open(log_path) as log:
        text = log.read()
    figures = parse_final_lines(text)
    missing = [p for p in ("PUT", "GET", "DELETE") if p not in figures]
    if done.returncode or missing:
        tail = "\n".join(text.strip().splitlines()[-5:])
        raise SwiftBenchError("swift-bench exited %d, missing %s; %s:\n%s"
                              % (done.returncode, missing or "nothing", log_path, tail))
    return figures
