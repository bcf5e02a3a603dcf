"""Ring benchmark: our builder and ring side by side with OpenStack Swift's.

For each case (part power, device count; 3 replicas over 4 regions x 8 zones,
4 devices per host, equal weights) it reports the builder's rebalance time,
final balance and dispersion, the ring file's load time and get_nodes calls
per second, for objstore and for Swift, with ratios (ours / Swift).

Swift runs in its own virtualenv (``<repo>/.venv-swift``, created with
``pip install swift`` when missing) through a small driver script in a
subprocess: Swift must never be imported into our environment. Swift's final
assignment is also scored with *our* balance and dispersion measures, so the
two are compared on one yardstick as well as on each tool's own.

Times are given as wall clock and as CPU seconds of the measuring process
(``time.process_time``): on a shared machine the CPU figures are the fair
comparison; get_nodes rates are per CPU second.

Usage: ``python -m benchmarks.ring_bench [--quick] [--cases 16:100,18:1000]
[--no-swift]``. Results go to ``benchmarks/results/ring-<date>.json``.
"""

import argparse
import array
import datetime
import gc
import json
import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from objstore.ring import measures, placement  # noqa: E402
from objstore.ring.builder import RingBuilder  # noqa: E402
from objstore.ring.ring import Ring  # noqa: E402

SECRETS = (b"bench-prefix", b"bench-suffix")
FULL_CASES = ((16, 100), (18, 1000), (20, 1000))
QUICK_CASES = ((16, 100),)
LOOKUPS = 100000
SEED = 1

SWIFT_DRIVER = r'''
import array, gc, json, sys, time
from swift.common import utils
from swift.common.ring import RingBuilder, Ring
utils.HASH_PATH_PREFIX, utils.HASH_PATH_SUFFIX = b"bench-prefix", b"bench-suffix"
with open(sys.argv[1]) as handle:
    spec = json.load(handle)
builder = RingBuilder(spec["part_power"], spec["replicas"], 1)
for dev in spec["devs"]:
    builder.add_dev(dict(dev))
gc.collect()
t0, c0 = time.time(), time.process_time()
builder.rebalance(seed=spec["seed"])
rebalance, rebalance_cpu = time.time() - t0, time.process_time() - c0
out = {"rebalance_s": rebalance, "rebalance_cpu_s": rebalance_cpu,
       "balance": builder.get_balance(), "dispersion": builder.dispersion}
builder.get_ring().save(spec["ring_path"])
loads = []
for _ in range(3):
    t0, c0 = time.time(), time.process_time()
    ring = Ring(spec["ring_path"])
    ring.get_part_nodes(0)
    loads.append((time.process_time() - c0, time.time() - t0))
out["load_cpu_s"], out["load_s"] = min(loads)
names = [("AUTH_bench", "c%d" % (i % 100), "o%d" % i) for i in range(spec["lookups"])]
get_nodes = ring.get_nodes
c0 = time.process_time()
for a, c, o in names:
    get_nodes(a, c, o)
out["get_nodes_per_s"] = len(names) / (time.process_time() - c0)
out["sample"] = [[get_nodes(*n)[0], [d["id"] for d in get_nodes(*n)[1]]] for n in names[:50]]
with open(spec["table_path"], "wb") as handle:
    for row in builder._replica2part2dev:
        handle.write(json.dumps([row.typecode, len(row)]).encode() + b"\n")
        handle.write(row.tobytes())
print(json.dumps(out))
'''


def bench_devs(count):
    """``count`` devices over 4 regions x 8 zones, 4 devices per host."""
    devs = []
    for i in range(count):
        region, zone = i % 4 + 1, (i // 4) % 8 + 1
        host = (i // 32) // 4
        devs.append({
            "id": i, "region": region, "zone": zone, "ip": "10.%d.%d.%d" % (region, zone, host),
            "port": 6200, "replication_ip": "10.%d.%d.%d" % (region, zone, host),
            "replication_port": 6200, "device": "d%d" % i, "weight": 100.0, "meta": "",
        })
    return devs


def score(devs, rows, part_power, replicas=3, overload=0.0):
    """Our balance and dispersion measures of any assignment."""
    parts = 1 << part_power
    tree = placement.Tree(devs)
    lengths = placement.row_lengths(parts, replicas)
    shares = placement.plan_shares(tree, sum(lengths) / parts, overload)
    quota = placement.plan_quotas(tree, shares, parts, sum(lengths))
    counts = placement.count_parts(rows, len(devs))
    return (measures.ring_balance(devs, counts, sum(lengths)),
            measures.dispersion_of(tree, quota, parts, rows, devs))


def run_ours(part_power, devs, workdir):
    builder = RingBuilder(part_power, 3, 1)
    for dev in devs:
        builder.add_dev(dict(dev))
    gc.collect()
    t0, c0 = time.time(), time.process_time()
    result = builder.rebalance(seed=SEED)
    rebalance, rebalance_cpu = time.time() - t0, time.process_time() - c0
    path = os.path.join(workdir, "ours.ring.gz")
    builder.write_ring(path)
    loads = []
    for _ in range(3):
        t0, c0 = time.time(), time.process_time()
        ring = Ring(path, secrets_pair=SECRETS)
        ring.get_part_nodes(0)
        loads.append((time.process_time() - c0, time.time() - t0))
    names = [("AUTH_bench", "c%d" % (i % 100), "o%d" % i) for i in range(LOOKUPS)]
    get_nodes = ring.get_nodes
    c0 = time.process_time()
    for a, c, o in names:
        get_nodes(a, c, o)
    rate = len(names) / (time.process_time() - c0)
    sample = [[get_nodes(*n)[0], [d["id"] for d in get_nodes(*n)[1]]] for n in names[:50]]
    return {
        "rebalance_s": rebalance, "rebalance_cpu_s": rebalance_cpu,
        "balance": result.balance, "dispersion": result.dispersion,
        "load_cpu_s": min(loads)[0], "load_s": min(loads)[1], "get_nodes_per_s": rate,
        "sample": sample,
        "ring_bytes": os.path.getsize(path),
    }


def swift_python():
    venv = os.path.join(REPO, ".venv-swift")
    python = os.path.join(venv, "bin", "python")
    if not os.path.exists(python):
        print("creating %s with pip install swift ..." % venv, flush=True)
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        subprocess.run([python, "-m", "pip", "install", "-q", "swift"], check=True)
    return python


def read_table(path):
    rows = []
    with open(path, "rb") as handle:
        while True:
            header = handle.readline()
            if not header:
                break
            typecode, length = json.loads(header)
            row = array.array(typecode)
            row.frombytes(handle.read(length * row.itemsize))
            rows.append(row)
    return rows


def run_swift(python, part_power, devs, workdir):
    spec = {
        "part_power": part_power, "replicas": 3, "seed": SEED, "lookups": LOOKUPS,
        "devs": [{k: v for k, v in d.items() if k != "id"} for d in devs],
        "ring_path": os.path.join(workdir, "swift.ring.gz"),
        "table_path": os.path.join(workdir, "swift.table"),
    }
    driver = os.path.join(workdir, "swift_driver.py")
    with open(driver, "w") as handle:
        handle.write(SWIFT_DRIVER)
    spec_path = os.path.join(workdir, "spec.json")
    with open(spec_path, "w") as handle:
        json.dump(spec, handle)
    proc = subprocess.run([python, driver, spec_path], capture_output=True, text=True,
                          cwd=workdir)
    if proc.returncode:
        raise RuntimeError("swift driver failed: %s" % proc.stderr.strip()[-2000:])
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["our_measures"] = score(devs, read_table(spec["table_path"]), part_power)
    return out


def ratio(a, b):
    if not b:
        return 1.0 if not a else float("inf")
    return a / b


def print_table(results):
    head = ("case", "metric", "objstore", "swift", "ours/swift")
    print("%-14s %-26s %12s %12s %11s" % head)
    for res in results:
        case = "pp%d/%ddev" % (res["part_power"], res["devices"])
        ours, swift = res["ours"], res.get("swift")
        rows = [
            ("rebalance s (wall)", "rebalance_s", "%.2f"),
            ("rebalance s (cpu)", "rebalance_cpu_s", "%.2f"),
            ("balance %", "balance", "%.3f"),
            ("dispersion %", "dispersion", "%.3f"),
            ("ring load s (wall)", "load_s", "%.3f"),
            ("ring load s (cpu)", "load_cpu_s", "%.3f"),
            ("get_nodes calls/cpu-s", "get_nodes_per_s", "%.0f"),
        ]
        for label, key, fmt in rows:
            ov = ours[key]
            sv = swift[key] if swift else None
            print("%-14s %-26s %12s %12s %11s" % (
                case, label, fmt % ov, fmt % sv if sv is not None else "-",
                "%.2f" % ratio(ov, sv) if sv is not None else "-"))
        if swift:
            bal, disp = swift["our_measures"]
            print("%-14s %-26s %12s %12s %11s" % (
                case, "swift scored by ours", "", "b=%.3f d=%.3f" % (bal, disp), ""))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only part_power 16, 100 devices")
    parser.add_argument("--cases", help="comma list of part_power:devices")
    parser.add_argument("--no-swift", action="store_true", help="skip the Swift comparison")
    parser.add_argument("--out", help="results file (default benchmarks/results/ring-<date>.json)")
    opts = parser.parse_args(argv)
    if opts.cases:
        cases = [tuple(int(x) for x in item.split(":")) for item in opts.cases.split(",")]
    else:
        cases = QUICK_CASES if opts.quick else FULL_CASES
    python = None if opts.no_swift else swift_python()
    results = []
    for part_power, count in cases:
        devs = bench_devs(count)
        with tempfile.TemporaryDirectory(prefix="ringbench.") as workdir:
            print("case part_power=%d devices=%d ..." % (part_power, count), flush=True)
            res = {"part_power": part_power, "devices": count, "replicas": 3,
                   "ours": run_ours(part_power, devs, workdir)}
            if python:
                res["swift"] = run_swift(python, part_power, devs, workdir)
                # same hashing: the same names must land in the same partitions
                res["same_partitions"] = [s[0] for s in res["ours"]["sample"]] == [
                    s[0] for s in res["swift"]["sample"]]
            for side in ("ours", "swift"):
                if side in res:
                    res[side].pop("sample", None)
        results.append(res)
    print()
    print_table(results)
    load = os.getloadavg()
    doc = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
           "python": sys.version.split()[0], "loadavg": load, "lookups": LOOKUPS,
           "results": results}
    out = opts.out or os.path.join(REPO, "benchmarks", "results",
                                   "ring-%s.json" % datetime.date.today().isoformat())
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as handle:
        json.dump(doc, handle, indent=2)
    print("\nload average during run: %.1f %.1f %.1f; results in %s" % (load + (out,)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
