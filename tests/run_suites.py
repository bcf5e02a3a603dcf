"""Run the whole test suite as one pytest process per suite (unit,
functional, probe, compute), then print one combined closing line.

Why separate processes: the functional, probe and compute suites start real
clusters and libvirt event loops from the test process; a fresh process per
suite keeps one suite's leftovers (threads, eventlet hub state, child
processes) from ever touching the next. Extra arguments go to every pytest.
"""

import re
import subprocess
import sys
import time

SUITES = ("tests/unit", "tests/functional", "tests/probe", "tests/compute")
COUNTS = ("passed", "failed", "errors", "error", "skipped", "xfailed", "xpassed")


def summarize(output):
    """``{kind: n}`` from pytest's closing line (``3 passed, 1 failed in 2.0s``)."""
    result = {}
    lines = [line for line in output.splitlines() if re.search(r"\b(passed|failed|error|errors|no tests ran)\b", line)]
    if not lines:
        return result
    for count, kind in re.findall(r"(\d+) (%s)\b" % "|".join(COUNTS), lines[-1]):
        kind = "errors" if kind == "error" else kind
        result[kind] = result.get(kind, 0) + int(count)
    return result


def main(argv=None):
    extra = list(sys.argv[1:] if argv is None else argv)
    totals = {}
    failed_suites = []
    start = time.time()
    for suite in SUITES:
        print("=== %s" % suite, flush=True)
        began = time.time()
        proc = subprocess.Popen(
            [sys.executable, "-m", "pytest", "-q", suite] + extra,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        captured = []
        for line in proc.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            captured.append(line)
        code = proc.wait()
        counts = summarize("".join(captured))
        for kind, count in counts.items():
            totals[kind] = totals.get(kind, 0) + count
        if code not in (0,) or not counts.get("passed"):
            failed_suites.append("%s (exit %d)" % (suite, code))
        print("=== %s: exit %d in %.0fs" % (suite, code, time.time() - began), flush=True)
    if failed_suites:
        print("suites that failed: " + ", ".join(failed_suites))
    print("total time %.0fs" % (time.time() - start))
    line = "%d passed, %d failed" % (totals.get("passed", 0), totals.get("failed", 0) + totals.get("errors", 0))
    if totals.get("skipped"):
        line += ", %d skipped" % totals["skipped"]
    print(line)
    return 1 if failed_suites else 0


if __name__ == "__main__":
    sys.exit(main())
