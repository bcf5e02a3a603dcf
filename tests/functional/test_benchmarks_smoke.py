"""The benchmark's load generator against the real cluster, briefly: every
request kind the benchmark sends succeeds. Figures are not checked (no timing
assertions); the benchmark itself is ``python -m benchmarks.run``."""

import os
import uuid

from benchmarks import cpu, loadgen, memory


def test_loadgen_against_the_cluster(cluster):
    endpoint = loadgen.Endpoint(cluster.auth_url, "test:tester", "testing")
    container = "bench-smoke-%s" % uuid.uuid4().hex[:8]
    loadgen.ensure_container(endpoint, container)
    names = ["o%03d" % i for i in range(12)]
    results = loadgen.object_ops(endpoint, [container], names, 4096, concurrency=4, gets_per_object=2)
    for op, result in results.items():
        assert result.errors == 0, (op, result.statuses)
    assert results["GET"].bytes == 24 * 4096

    loadgen.object_ops(endpoint, [container], names, 0, concurrency=4, ops=("PUT",))
    assert loadgen.list_names(endpoint, container) == names
    pages = loadgen.listing_pages(endpoint, container, len(names), walks=2, concurrency=2, limit=5)
    assert pages.errors == 0 and pages.requests == 2 * 3

    body = os.urandom(3 << 20)
    puts, gets = loadgen.single_stream(endpoint, container, "big", body)
    assert puts[0].errors == 0 and gets[0].errors == 0 and gets[0].bytes == len(body)

    loadgen.object_ops(endpoint, [container], names + ["big"], 0, concurrency=4, ops=("DELETE",))
    assert loadgen.delete_container(endpoint, container) == 204


def test_memory_and_cpu_of_the_proxy(cluster):
    parent, workers = cluster.proxy_pids()
    pids = [parent] + list(workers)
    rest = memory.cluster_memory(pids)
    assert rest["processes"] == len(pids) and rest["pss_mib"] > 0
    assert cpu.cluster_cpu_seconds(pids) > 0
