"""The one command: ``python -m benchmarks.run [--quick] [--only ours|swift] [--rounds N]``.

Order of a run:
1. install OpenStack Swift and swift-bench into ``<repo>/.venv-swift`` (and,
   as root, the Debian packages it needs) if they are not there yet;
2. make the volume both clusters keep their devices on (host.Volume: a
   loop-mounted XFS image, or plain directories with ``--fs dir``) and
   measure the references (dd with fsync there; one loopback HTTP stream);
3. start objstore-aio, read back its server worker counts, start a Swift
   all-in-one with the same ones; warm both up, measure memory at rest, fill
   the listing container of each;
4. run each workload against each system in turn before the next workload,
   the order of the systems alternating from round to round (on a machine
   whose other load changes, figures of the two systems taken minutes apart
   would drift apart);
5. stop both (nothing of ours is left running, the volume is unmounted),
   print the table and write ``benchmarks/results/<UTC time>.json`` and
   ``.svg``.

Everything measured and how is in workloads.py; the table in report.py.
"""

import argparse
import datetime
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback

from benchmarks import host, loadgen, objstore_aio, references, report, swift_aio, workloads

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS_DIR = os.path.join(REPO, "benchmarks", "results")
DURABILITY = ("Both systems answer a PUT with 201 only after a quorum (2 of 3) of object servers have "
              "fsynced the object's file (data and metadata) and its directory; neither has fsync turned off.")


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run of a few minutes")
    parser.add_argument("--only", choices=("ours", "swift"), help="measure one system only")
    parser.add_argument("--rounds", type=int, help="rounds of every workload per system (default 3; 1 with --quick)")
    parser.add_argument("--fs", choices=("auto", "xfs", "dir"), default="auto",
                        help="where the devices of both live: a loop-mounted XFS image (auto when root) or "
                             "plain directories of the work dir's filesystem")
    parser.add_argument("--work-dir", help="scratch directory (default: a new one under /var/tmp)")
    parser.add_argument("--keep-work-dir", action="store_true", help="keep configs and logs after the run")
    parser.add_argument("--swift-pipeline", choices=sorted(swift_aio.PIPELINES), default="default",
                        help="Swift's proxy pipeline: that of its sample config (default) or only what the "
                             "requests touch (lean)")
    parser.add_argument("--results-dir", default=RESULTS_DIR)
    parser.add_argument("--no-references", action="store_true", help="skip the dd, loopback and relay references")
    args = parser.parse_args(argv)
    if args.rounds is None:
        args.rounds = 1 if args.quick else 3
    return args


def say(line):
    print(line, flush=True)


def _terminate(signum, frame):
    raise SystemExit(128 + signum)  # unwinds through the finally blocks that stop everything


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        return run(args)
    except (host.BenchSetupError, loadgen.LoadError) as err:
        say("benchmark stopped: %s" % err)
        return 1


def run(args):
    plan = workloads.QUICK if args.quick else workloads.FULL
    started = datetime.datetime.now(datetime.timezone.utc)
    try:
        venv = swift_aio.install(REPO, say)
    except (host.BenchSetupError, OSError, Exception) as err:  # noqa: B902 - a setup step, reported in one line
        say("cannot install Swift for the comparison: %s" % err)
        return 1
    work = args.work_dir or tempfile.mkdtemp(prefix="objstore-bench-", dir="/var/tmp")
    os.makedirs(work, exist_ok=True)
    volume = host.Volume(work, args.fs)
    clusters = []
    results = {
        "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "machine": host.describe(),
        "quick": args.quick,
        "rounds": args.rounds,
        "plan": _plan_dict(plan),
        "durability": DURABILITY,
        "systems": {},
    }
    try:
        volume.open()
        results["filesystem"] = "%s (%s)" % (volume.fs_type(), "loop-mounted image shared by both"
                                             if volume.kind == "xfs" else "plain directories of one filesystem")
        say("work dir %s; devices of both on %s" % (work, results["filesystem"]))
        if not args.no_references:
            say("references: dd conv=fsync and one loopback HTTP stream (the 3-writer relay: in each round)")
            results["references"] = references.measure(volume.path, work, quick=args.quick)
            say("  dd %(dd_fsync_mb_per_s).0f MB/s, loopback HTTP %(loopback_http_mb_per_s).0f MB/s" %
                results["references"])
        base = host.free_port_block(200, start=21000)
        ours = objstore_aio.ObjstoreAIO(os.path.join(volume.path, "objstore"), base + 190, base,
                                        os.path.join(work, "objstore-logs"))
        workers = None
        if args.only != "swift":
            say("starting objstore-aio")
            t0 = time.monotonic()
            ours.start()
            clusters.append(ours)
            workers = ours.worker_counts()
            say("  up in %.1f s; %d processes; workers %s" % (time.monotonic() - t0, len(ours.pids()), workers))
        if args.only != "ours":
            if workers is None:
                workers = objstore_aio.configured_worker_counts(os.path.join(work, "objstore-layout"))
            swift = swift_aio.SwiftAIO(venv, os.path.join(work, "swift"), os.path.join(volume.path, "swift"),
                                       base + 191, base + 100, args.swift_pipeline, workers)
            say("starting Swift all-in-one")
            t0 = time.monotonic()
            swift.start()
            clusters.append(swift)
            say("  up in %.1f s; %d processes" % (time.monotonic() - t0, len(swift.pids())))
        for cluster in clusters:
            entry = results["systems"][cluster.name] = {"info": cluster.describe(), "rounds": [], "errors": []}
            workloads.warm_up(cluster, plan)
            entry["memory_rest"] = workloads.memory_at_rest(cluster, plan)
            say("  %-8s at rest: %d processes, RSS %.0f MiB, PSS %.0f MiB" % (
                cluster.name, entry["memory_rest"]["processes"], entry["memory_rest"]["rss_mib"],
                entry["memory_rest"]["pss_mib"]))
        _fill_listings(clusters, plan, results)
        log_dir = os.path.join(work, "swift-bench-logs")
        os.makedirs(log_dir, exist_ok=True)
        for round_no in range(args.rounds):
            order = clusters if round_no % 2 == 0 else list(reversed(clusters))
            say("round %d of %d (load average %s)" % (round_no + 1, args.rounds, host.load_average()))
            contexts = {}
            for cluster in order:
                entry = results["systems"][cluster.name]
                entry["rounds"].append({})
                contexts[cluster.name] = workloads.Context(cluster, plan, round_no, log_dir, venv,
                                                           entry["listing_fill"]["objects"], say)
            for step in workloads.STEPS:
                if step is workloads.large_stream and "references" in results:
                    try:
                        say("  relay to 3 fsyncing writers, %d MiB: %.0f MB/s" % (plan.large_mib, references.add_fanout_round(
                            results["references"], volume.path, work, plan.large_mib)))
                    except Exception as err:  # noqa: B902 - a reference must not lose the clusters' figures
                        say("  relay reference failed: %s" % err)
                for cluster in order:
                    entry = results["systems"][cluster.name]
                    try:
                        entry["rounds"][-1].update(step(contexts[cluster.name]))
                    except Exception as err:  # noqa: B902 - one failure must not lose the other figures
                        entry["errors"].append("round %d, %s: %s" % (round_no + 1, step.__name__, err))
                        say("  %s round %d, %s failed: %s" % (cluster.name, round_no + 1, step.__name__, err))
                        traceback.print_exc()
        for cluster in clusters:
            entry = results["systems"][cluster.name]
            say("memory of %s with its consistency daemons running" % cluster.name)
            try:
                entry["memory_daemons"] = workloads.memory_with_daemons(cluster, plan)
            except Exception as err:  # noqa: B902 - one failure must not lose the other figures
                entry["errors"].append("memory with daemons: %s" % err)
                say("  %s: memory with daemons failed: %s" % (cluster.name, err))
                continue
            say("  %-8s %d processes, RSS %.0f MiB, PSS %.0f MiB" % (
                cluster.name, entry["memory_daemons"]["processes"], entry["memory_daemons"]["rss_mib"],
                entry["memory_daemons"]["pss_mib"]))
    finally:
        for cluster in reversed(clusters):
            try:
                cluster.stop()
            except Exception as err:  # noqa: B902 - keep stopping the rest
                say("stopping %s: %s" % (cluster.name, err))
        leftovers = [p for c in clusters for p in c.pids()]
        if leftovers:
            say("WARNING: processes still running after stop: %s" % leftovers)
        volume.close()
        if not args.keep_work_dir and not args.work_dir:
            shutil.rmtree(work, ignore_errors=True)
        elif args.keep_work_dir:
            say("configs and logs kept in %s" % work)
    results["seconds"] = round((datetime.datetime.now(datetime.timezone.utc) - started).total_seconds())
    results["table"] = report.build_table(results["systems"])
    say("")
    say("objstore vs OpenStack Swift, %s, %s (%d cores, %s GiB), devices on %s; median of %d round(s)" % (
        results["date"], results["machine"]["cpu"], results["machine"]["cores"], results["machine"]["memory_gib"],
        results.get("filesystem"), args.rounds))
    say(report.text_table(results["table"], results.get("references")))
    for name, entry in results["systems"].items():
        failed = _failed_requests(entry)
        if failed:
            say("%s: %d requests failed during the rounds (by status: %s); ops/s counts successes only"
                % (name, sum(failed.values()), failed))
    say(DURABILITY)
    stamp = started.strftime("%Y-%m-%dT%H%M%SZ") + ("-quick" if args.quick else "")
    paths = report.write(results, args.results_dir, stamp)
    say("written: %s" % ", ".join(os.path.relpath(p, REPO) for p in paths))
    errors = [e for s in results["systems"].values() for e in s["errors"]]
    return 1 if errors else 0


def _fill_listings(clusters, plan, results):
    """Fill each cluster's listing container, all at once: the fill is set-up, not a
    measurement, and on a busy 2-core machine it is most of a run's time."""
    say("filling the listing container of %s with %d objects each" % (
        " and ".join(c.name for c in clusters), plan.listing_objects))
    failures = []

    def fill(cluster):
        try:
            results["systems"][cluster.name]["listing_fill"] = workloads.fill_listing(cluster, plan)
        except Exception as err:  # noqa: B902 - reported below, in the main thread
            failures.append("%s: %s" % (cluster.name, err))

    threads = [threading.Thread(target=fill, args=(c,)) for c in clusters]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise host.BenchSetupError("filling the listing containers failed: %s" % "; ".join(failures))
    for cluster in clusters:
        fill = results["systems"][cluster.name]["listing_fill"]
        say("  %-8s %d PUTs in %.0f s (%d errors, PUT again); %d objects listed" % (
            cluster.name, fill["requests"], fill["seconds"], fill["errors"], fill["objects"]))


def _failed_requests(entry):
    """``{status: count}`` of the requests that failed in a system's rounds (loadgen and swift-bench)."""
    failed = {}
    for one in entry["rounds"]:
        for key in ("small", "large_stream", "listing"):
            phases = one.get(key, {})
            phases = [phases] if "statuses" in phases else phases.values()
            for phase in phases:
                for status, count in (phase.get("statuses", {}) if isinstance(phase, dict) else {}).items():
                    if not status.startswith("2"):
                        failed[status] = failed.get(status, 0) + count
        for key in ("swiftbench_small", "swiftbench_large"):
            for phase in one.get(key, {}).values():
                if phase.get("failures"):
                    failed["swift-bench"] = failed.get("swift-bench", 0) + phase["failures"]
    return failed


def _plan_dict(plan):
    out = {}
    for key, value in vars(plan).items():
        out[key] = vars(value) if hasattr(value, "__dataclass_fields__") else value
    return out


if __name__ == "__main__":
    sys.exit(main())
