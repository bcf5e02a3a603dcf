"""Compute companion figures: the cost of one full instance lifecycle on
libvirt's test driver, and the boot-to-console-ready time of the tiny busybox
guest under QEMU TCG (qemu:///embed).

1. Test driver, raw: define, start, pause, resume, managed save, restore,
   shutdown, undefine through :class:`objstore.compute.driver.Hypervisor`
   (what libvirt itself costs; COMPUTE-NOTES saw ~1.7 ms per cycle).
2. Test driver, through :class:`Compute`: boot (image already in the cache;
   includes the qemu-img overlay and the SQLite writes), pause, unpause,
   suspend, resume, stop, start, hard reboot, delete. Snapshot is timed on
   its own (qemu-img convert + upload of a 1 MiB disk).
3. Real guest: ``boot()`` until ``GUEST-READY`` appears on the serial console,
   ``--boots`` times, one guest at a time.

Images live in the FAKE Swift-like store of tests/unit/client/fakeswift.py
(the cache makes the store irrelevant after the first boot). Prints one line
per figure (and ``--json`` writes them all); no pass/fail.

Usage: ``python -m benchmarks.compute_bench [--lifecycles N] [--boots K] [--json FILE]``.
"""

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid

from objstore.client import Connection
from objstore.compute.config import DEFAULT_FLAVORS, ComputeConfig, Flavor
from objstore.compute.domain import DomainSpec, domain_xml
from objstore.compute.images import ImageStore
from objstore.compute.manager import Compute, Host
from tests.unit.client.fakeswift import FakeSwift

NODE_XML = "<node><memory>8388608</memory></node>"


def _ms(seconds):
    return round(seconds * 1000.0, 3)


def raw_driver_cycles(root, count):
    from objstore.compute.driver import Hypervisor

    node = os.path.join(root, "node-raw.xml")
    with open(node, "w") as handle:
        handle.write(NODE_XML)
    hv = Hypervisor("test://" + node)
    hv.conn()
    started = time.perf_counter()
    for _ in range(count):
        iid = str(uuid.uuid4())
        spec = DomainSpec("objc-" + iid[:8], iid, "qemu", 1, 128, os.path.join(root, "c.log"), os.path.join(root, "d"))
        hv.define(domain_xml(spec))
        hv.start(iid)
        hv.pause(iid)
        hv.unpause(iid)
        hv.managed_save(iid)
        hv.start(iid)
        hv.shutdown(iid)
        hv.undefine(iid)
    elapsed = time.perf_counter() - started
    hv.close()
    return elapsed / count


def compute_lifecycles(root, count, store):
    from objstore.compute.driver import Hypervisor

    node = os.path.join(root, "node.xml")
    with open(node, "w") as handle:
        handle.write(NODE_XML)
    uri = "test://" + node
    conn = Connection(store.auth_url, "test:tester", "testing")
    host = Host(ComputeConfig(connection_uri=uri), {f.name: f for f in DEFAULT_FLAVORS}, Hypervisor(uri), root + "/st")
    compute = Compute(host, ImageStore(conn), owner="AUTH_test")
    disk = os.path.join(root, "disk.raw")
    with open(disk, "wb") as handle:
        handle.write(b"OBJSTORE-DISK-01".ljust(1 << 20, b"\0"))
    image = compute.image_upload("raw1", disk)
    compute.delete(compute.boot("warm", "m1.tiny", image["id"])["id"])  # fills the cache
    steps = ("boot", "pause", "unpause", "suspend", "resume", "stop", "start", "reboot_hard", "delete")
    per_step = {step: [] for step in steps}
    totals = []
    for i in range(count):
        t0 = time.perf_counter()
        t = time.perf_counter()
        iid = compute.boot("vm%d" % i, "m1.tiny", image["id"])["id"]
        per_step["boot"].append(time.perf_counter() - t)
        for step, call in (
            ("pause", compute.pause),
            ("unpause", compute.unpause),
            ("suspend", compute.suspend),
            ("resume", compute.resume),
            ("stop", compute.stop),
            ("start", compute.start),
            ("reboot_hard", lambda ref: compute.reboot(ref, hard=True)),
            ("delete", compute.delete),
        ):
            t = time.perf_counter()
            call(iid)
            per_step[step].append(time.perf_counter() - t)
        totals.append(time.perf_counter() - t0)
    iid = compute.boot("snap", "m1.tiny", image["id"])["id"]
    snaps = []
    for i in range(5):
        t = time.perf_counter()
        compute.snapshot(iid, "s%d" % i)
        snaps.append(time.perf_counter() - t)
    compute.delete(iid)
    host.close()
    conn.close()
    return statistics.median(totals), {k: statistics.median(v) for k, v in per_step.items()}, statistics.median(snaps)


def guest_boots(root, count, store):
    from objstore.compute.driver import Hypervisor
    from tests.compute import tinyguest

    vmlinuz, initrd = tinyguest.build()
    embed = tempfile.mkdtemp(prefix="objcb-", dir="/tmp")
    os.makedirs(embed + "/etc")
    with open(embed + "/etc/qemu.conf", "w") as handle:
        handle.write('stdio_handler = "file"\nuser = "root"\ngroup = "root"\n')
    uri = "qemu:///embed?root=" + embed
    conn = Connection(store.auth_url, "test:tester", "testing")
    host = Host(ComputeConfig(connection_uri=uri), {"tiny": Flavor("tiny", 1, 192, 1)}, Hypervisor(uri), root + "/vm")
    compute = Compute(host, ImageStore(conn), owner="AUTH_test")
    image = compute.image_upload("busybox", kernel=vmlinuz, ramdisk=initrd, cmdline="console=ttyS0 quiet panic=-1")
    results = []
    try:
        for i in range(count):
            t = time.perf_counter()
            iid = compute.boot("tiny%d" % i, "tiny", image["id"])["id"]
            create = time.perf_counter() - t
            while tinyguest.READY not in compute.console_log(iid):
                if time.perf_counter() - t > 300:
                    raise RuntimeError("guest not ready after 300 s")
                time.sleep(0.1)
            ready = time.perf_counter() - t
            t = time.perf_counter()
            compute.stop(iid)
            stop = time.perf_counter() - t
            compute.delete(iid)
            results.append({"boot_call_s": round(create, 2), "ready_s": round(ready, 2), "acpi_stop_s": round(stop, 2)})
    finally:
        host.close()
        conn.close()
        shutil.rmtree(embed, ignore_errors=True)
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lifecycles", type=int, default=200)
    parser.add_argument("--boots", type=int, default=2, help="real guest boots (0: none)")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args(argv)
    root = tempfile.mkdtemp(prefix="computebench.")
    store = FakeSwift().start()
    figures = {"load_average_at_start": os.getloadavg()[0]}
    try:
        raw = raw_driver_cycles(root, args.lifecycles * 5)
        figures["test_driver_raw_cycle_ms"] = _ms(raw)
        print("test driver, raw libvirt cycle (define..undefine, 8 calls): %.2f ms" % _ms(raw))
        total, steps, snap = compute_lifecycles(root, args.lifecycles, store)
        figures["compute_lifecycle_ms"] = _ms(total)
        figures["compute_step_ms"] = {k: _ms(v) for k, v in steps.items()}
        figures["compute_snapshot_ms"] = _ms(snap)
        print("test driver, full Compute lifecycle (boot..delete, 9 operations): %.1f ms median" % _ms(total))
        print("  per step (median ms): " + ", ".join("%s %.1f" % (k, _ms(v)) for k, v in steps.items()))
        print("  snapshot of a 1 MiB disk (qemu-img convert + upload): %.1f ms median" % _ms(snap))
        if args.boots:
            boots = guest_boots(root, args.boots, store)
            figures["tiny_guest"] = boots
            for run in boots:
                print(
                    "tiny guest (QEMU TCG, qemu:///embed): boot() %.2f s, console GUEST-READY %.2f s, ACPI stop %.2f s"
                    % (run["boot_call_s"], run["ready_s"], run["acpi_stop_s"])
                )
    finally:
        store.stop()
        shutil.rmtree(root, ignore_errors=True)
    figures["load_average_at_end"] = os.getloadavg()[0]
    print("load average (1 min) at start %.1f, at end %.1f" % (figures["load_average_at_start"], figures["load_average_at_end"]))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(figures, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
