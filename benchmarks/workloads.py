"""The workloads of issue 8, run against one running cluster (either system).

(a) 4 KiB objects, concurrency 10: PUT, GET, HEAD, DELETE ops/s (loadgen),
    and PUT/GET/DELETE again with swift-bench, the standard tool;
(b) 4 MiB objects, concurrency 10: swift-bench PUT/GET/DELETE;
(c) one 256 MiB object, single stream: PUT and GET MB/s (loadgen);
(d) container listing of 10,000 objects: JSON pages of 1,000 names per second,
    10 clients each walking the whole container (loadgen);
(e) latency p50/p99 of (a) (loadgen, per request);
(f) resident memory of all the cluster's processes at rest and, sampled every
    0.5 s, its peak under (a); and at rest again at the end with each system's
    consistency daemons running (the same ten per node on both sides);
and, since the machine may be shared, the CPU the cluster's processes spent
per request of (a) and per GB of (c) (cpu.py), which other load moves less
than ops/s.

A cluster is anything with ``auth_url``, ``user``, ``key``, ``name`` and
``pids()`` (swift_aio.SwiftAIO, objstore_aio.ObjstoreAIO). Which cluster goes
first, how many rounds and the report are run.py's business.
"""

import dataclasses
import os
import time

from benchmarks import cpu, host, loadgen, memory, swiftbench


@dataclasses.dataclass(frozen=True)
class Plan:
    """How much of each workload one round does."""

    concurrency: int = 10
    small_objects: int = 1000  # (a) loadgen: PUT/HEAD/DELETE each this many; GET twice as many
    small_containers: int = 10
    bench_small: swiftbench.BenchConfig = swiftbench.BenchConfig(10, 20, 500, 4096, 1000)
    bench_large: swiftbench.BenchConfig = swiftbench.BenchConfig(10, 10, 128, 4 << 20, 256)
    large_mib: int = 256  # (c)
    listing_objects: int = 10000  # (d)
    listing_walks: int = 10
    listing_page: int = 1000
    settle_seconds: float = 3.0  # before memory at rest
    daemons_settle_seconds: float = 20.0  # daemons started, before their memory is taken


FULL = Plan()
QUICK = Plan(small_objects=200, bench_small=swiftbench.BenchConfig(10, 5, 100, 4096, 200),
             bench_large=swiftbench.BenchConfig(10, 4, 16, 4 << 20, 32), large_mib=64,
             listing_objects=500, listing_walks=10, listing_page=100, settle_seconds=1.0,
             daemons_settle_seconds=5.0)

LISTING_CONTAINER = "bench-listing"


def warm_up(cluster, plan):
    """A few requests of each kind so that first-use costs (imports, connection
    pools, DB creation, memcached) are not measured; then memory at rest."""
    endpoint = loadgen.Endpoint(cluster.auth_url, cluster.user, cluster.key)
    loadgen.ensure_container(endpoint, "bench-warmup")
    loadgen.object_ops(endpoint, ["bench-warmup"], ["w%04d" % i for i in range(50)], 4096, plan.concurrency)
    loadgen.delete_container(endpoint, "bench-warmup")


def memory_at_rest(cluster, plan):
    time.sleep(plan.settle_seconds)
    return memory.cluster_memory(cluster.pids())


def memory_with_daemons(cluster, plan):
    """Start the cluster's consistency daemons, let them settle into their
    first passes, take the memory of every process, stop them again."""
    cluster.start_daemons()
    try:
        time.sleep(plan.daemons_settle_seconds)
        cluster.check_daemons()  # a daemon that died on the way would not count
        return memory.cluster_memory(cluster.pids())
    finally:
        cluster.stop_daemons()


def fill_listing(cluster, plan, attempts=3):
    """PUT ``listing_objects`` empty objects into one container (once per cluster).

    Names whose PUT failed (the first pass's errors are kept in the summary)
    are PUT again, up to ``attempts`` passes, so that the container holds
    them all; ``objects`` in the summary is how many it lists in the end.
    """
    endpoint = loadgen.Endpoint(cluster.auth_url, cluster.user, cluster.key)
    loadgen.ensure_container(endpoint, LISTING_CONTAINER)
    todo = ["obj-%06d" % i for i in range(plan.listing_objects)]
    summary = None
    for _ in range(attempts):
        result = loadgen.object_ops(endpoint, [LISTING_CONTAINER], todo, 0, plan.concurrency, ops=("PUT",))["PUT"]
        summary = summary or result.summary()
        present = set(loadgen.list_names(endpoint, LISTING_CONTAINER))
        todo = [name for name in todo if name not in present]
        if not todo:
            break
    summary["objects"] = len(loadgen.list_names(endpoint, LISTING_CONTAINER))
    return summary


class Context:
    """What every workload step needs about one cluster in one round."""

    def __init__(self, cluster, plan, round_no, log_dir, swift_venv, listing_objects=None, say=print):
        self.cluster = cluster
        self.plan = plan
        self.log_dir = log_dir
        self.swift_venv = swift_venv
        self.listing_objects = plan.listing_objects if listing_objects is None else listing_objects
        self.say = say
        self.tag = "r%d-%d" % (round_no, int(time.time()))
        self.endpoint = loadgen.Endpoint(cluster.auth_url, cluster.user, cluster.key)


def small_objects(ctx):
    """(a), (e), (f): 4 KiB objects with our load generator; memory and server CPU sampled meanwhile."""
    plan, cluster, endpoint = ctx.plan, ctx.cluster, ctx.endpoint
    out = {"load_average_before": host.load_average()}
    containers = ["bench-small-%s-%d" % (ctx.tag, i) for i in range(plan.small_containers)]
    for name in containers:
        loadgen.ensure_container(endpoint, name)
    names = ["o%06d" % i for i in range(plan.small_objects)]
    small, server_cpu, client_cpu = {}, {}, {}
    with memory.PeakSampler(cluster.pids) as sampler:
        for op in ("PUT", "GET", "HEAD", "DELETE"):
            # The load generator's own CPU too: if it nears a core, the client limited the figure.
            with cpu.CpuMeter(cluster.pids) as meter, cpu.CpuMeter(lambda: [os.getpid()]) as client:
                small.update(loadgen.object_ops(endpoint, containers, names, 4096, plan.concurrency, ops=(op,),
                                                gets_per_object=2))
            server_cpu[op] = meter.seconds
            client_cpu[op] = client.seconds
    for name in containers:
        loadgen.delete_container(endpoint, name)
    out["small"] = {op: r.summary() for op, r in small.items()}
    for op, seconds in server_cpu.items():
        out["small"][op]["server_cpu_ms_per_op"] = round(1000.0 * seconds / max(small[op].requests, 1), 2)
        out["small"][op]["client_cpu_ms_per_op"] = round(1000.0 * client_cpu[op] / max(small[op].requests, 1), 2)
    peak = sampler.peak or {}
    out["memory_under_small"] = {k: v for k, v in peak.items() if k != "by_process"}
    ctx.say("  %-8s 4 KiB c=%d: %s" % (cluster.name, plan.concurrency, "  ".join(
        "%s %.0f/s p99 %.0f ms" % (op, r.ops_per_s, r.latency_ms(99)) for op, r in small.items())))
    return out


def _swift_bench(ctx, key, config):
    cluster = ctx.cluster
    log_path = os.path.join(ctx.log_dir, "%s-%s-%s.log" % (cluster.name, key, ctx.tag))
    figures = swiftbench.run(ctx.swift_venv, cluster.auth_url, cluster.user, cluster.key, config, log_path)
    for fig in figures.values():
        fig["mb_per_s"] = round(fig["ops_per_s"] * config.size / 1e6, 1)
    ctx.say("  %-8s swift-bench %d x %d B: %s" % (cluster.name, config.objects, config.size, "  ".join(
        "%s %.1f/s" % (op, f["ops_per_s"]) for op, f in figures.items())))
    return {key: figures}


def swiftbench_small(ctx):
    """(a) again, with swift-bench."""
    return _swift_bench(ctx, "swiftbench_small", ctx.plan.bench_small)


def swiftbench_large(ctx):
    """(b) 4 MiB objects with swift-bench."""
    return _swift_bench(ctx, "swiftbench_large", ctx.plan.bench_large)


def large_stream(ctx):
    """(c) one large object, one stream: PUT then GET."""
    endpoint = ctx.endpoint
    container = "bench-large-%s" % ctx.tag
    loadgen.ensure_container(endpoint, container)
    body = os.urandom(ctx.plan.large_mib << 20)
    with cpu.CpuMeter(ctx.cluster.pids) as meter:
        puts, gets = loadgen.single_stream(endpoint, container, "big", body)
    conn = endpoint.connect()
    conn.request("DELETE", endpoint.object_path(container, "big"))
    conn.close()
    loadgen.delete_container(endpoint, container)
    ctx.say("  %-8s %d MiB single stream: PUT %.0f MB/s  GET %.0f MB/s" % (
        ctx.cluster.name, ctx.plan.large_mib, puts[0].mb_per_s, gets[0].mb_per_s))
    return {"large_stream": {"PUT": puts[0].summary(), "GET": gets[0].summary(),
                             "server_cpu_s_per_gb": round(meter.seconds / (2 * len(body) / 1e9), 2)}}


def listing(ctx):
    """(d) pages of the listing container, walked by ``listing_walks`` clients."""
    plan = ctx.plan
    result = loadgen.listing_pages(ctx.endpoint, LISTING_CONTAINER, ctx.listing_objects, plan.listing_walks,
                                   plan.concurrency, plan.listing_page)
    ctx.say("  %-8s listing %d objects: %.1f pages/s (%d errors)" % (
        ctx.cluster.name, ctx.listing_objects, result.ops_per_s, result.errors))
    return {"listing": result.summary()}


# One round runs these in order; run.py runs each against every system before
# the next, so the systems alternate at every workload.
STEPS = (small_objects, swiftbench_small, swiftbench_large, large_stream, listing)
