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
