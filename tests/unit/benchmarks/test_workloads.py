"""Workload set-up steps against a fake Swift-like server (swift-bench is not run here)."""

import os
import types

from benchmarks import workloads


def _cluster(fake_swift):
    return types.SimpleNamespace(name="fake", auth_url=fake_swift.auth_url, user="test:tester", key="testing",
                                 pids=lambda: [os.getpid()])


def test_warm_up_leaves_nothing_behind_and_memory_at_rest(fake_swift):
    plan = workloads.Plan(settle_seconds=0.0)
    cluster = _cluster(fake_swift)
    workloads.warm_up(cluster, plan)
    assert fake_swift.objects == {}
    rest = workloads.memory_at_rest(cluster, plan)
    assert rest["processes"] == 1 and rest["rss_mib"] > 0


def test_fill_listing_puts_every_name(fake_swift):
    plan = workloads.Plan(listing_objects=30, concurrency=3)
    summary = workloads.fill_listing(_cluster(fake_swift), plan)
    assert summary["objects"] == 30 and summary["errors"] == 0
    assert len([k for k in fake_swift.objects if k[0] == workloads.LISTING_CONTAINER]) == 30


def test_loadgen_steps_of_a_round(fake_swift, tmp_path):
    plan = workloads.Plan(small_objects=12, small_containers=2, concurrency=3, large_mib=1, listing_objects=15,
                          listing_walks=2, listing_page=10)
    cluster = _cluster(fake_swift)
    workloads.fill_listing(cluster, plan)
    ctx = workloads.Context(cluster, plan, 0, str(tmp_path), swift_venv=None, say=lambda line: None)
    out = {}
    for step in (workloads.small_objects, workloads.large_stream, workloads.listing):
        out.update(step(ctx))
    assert {op: r["requests"] for op, r in out["small"].items()} == {"PUT": 12, "GET": 24, "HEAD": 12, "DELETE": 12}
    assert all(r["errors"] == 0 and r["server_cpu_ms_per_op"] >= 0 for r in out["small"].values())
    assert out["memory_under_small"]["processes"] == 1
    assert out["large_stream"]["GET"]["errors"] == 0
    assert out["listing"]["requests"] == 2 * 2 and out["listing"]["errors"] == 0
    assert sorted(fake_swift.containers) == [workloads.LISTING_CONTAINER]
