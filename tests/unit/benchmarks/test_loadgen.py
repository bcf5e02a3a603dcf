"""The load generator against a real socket (a fake Swift-like server): counts,
bytes, statuses and the listing walk. No timing is asserted."""

import pytest

from benchmarks import loadgen


def test_percentile_nearest_rank():
    assert loadgen.percentile([], 99) == 0.0
    assert loadgen.percentile([5], 50) == 5
    values = list(range(1, 101))
    assert loadgen.percentile(values, 50) == 50
    assert loadgen.percentile(values, 99) == 99
    assert loadgen.percentile(values, 100) == 100
    assert loadgen.percentile([3, 1, 2], 50) == 2


def test_phase_result_rates():
    result = loadgen.PhaseResult("GET", 10, 2, 2.0, 4_000_000, [0.1] * 8)
    assert result.ops_per_s == 4.0
    assert result.mb_per_s == 2.0
    summary = result.summary()
    assert summary["ops_per_s"] == 4.0 and summary["p99_ms"] == 100.0


def test_auth_failure_is_a_load_error(fake_swift):
    with pytest.raises(loadgen.LoadError):
        loadgen.Endpoint(fake_swift.auth_url, "test:nobody", "x")


def test_object_ops_round_trip(fake_swift):
    endpoint = loadgen.Endpoint(fake_swift.auth_url, "test:tester", "testing")
    containers = ["c1", "c2"]
    for name in containers:
        loadgen.ensure_container(endpoint, name)
    names = ["o%02d" % i for i in range(20)]
    results = loadgen.object_ops(endpoint, containers, names, 4096, concurrency=4, gets_per_object=2)
    assert set(results) == {"PUT", "GET", "HEAD", "DELETE"}
    assert results["PUT"].requests == 20 and results["PUT"].errors == 0
    assert results["PUT"].bytes == 20 * 4096
    assert results["GET"].requests == 40 and results["GET"].bytes == 40 * 4096
    assert results["HEAD"].statuses == {"200": 20}
    assert results["DELETE"].statuses == {"204": 20}
    assert len(results["GET"].latencies) == 40
    assert fake_swift.objects == {}


def test_errors_are_counted_not_raised(fake_swift):
    endpoint = loadgen.Endpoint(fake_swift.auth_url, "test:tester", "testing")
    results = loadgen.object_ops(endpoint, ["missing"], ["a", "b", "c"], 10, concurrency=2, ops=("PUT", "GET"))
    assert results["PUT"].errors == 3 and results["PUT"].statuses == {"404": 3}
    assert results["GET"].ops_per_s == 0.0


def test_single_stream_checks_etag_and_size(fake_swift):
    endpoint = loadgen.Endpoint(fake_swift.auth_url, "test:tester", "testing")
    loadgen.ensure_container(endpoint, "big")
    body = bytes(range(256)) * 4096  # 1 MiB
    puts, gets = loadgen.single_stream(endpoint, "big", "obj", body, rounds=2)
    assert [p.errors for p in puts] == [0, 0] and [g.errors for g in gets] == [0, 0]
    assert gets[0].bytes == len(body)


@pytest.mark.parametrize("objects, limit, pages_per_walk", [(25, 10, 3), (30, 10, 4), (5, 10, 1)])
def test_listing_pages_walks_the_whole_container(fake_swift, objects, limit, pages_per_walk):
    endpoint = loadgen.Endpoint(fake_swift.auth_url, "test:tester", "testing")
    loadgen.ensure_container(endpoint, "list")
    loadgen.object_ops(endpoint, ["list"], ["n%03d" % i for i in range(objects)], 0, 3, ops=("PUT",))
    result = loadgen.listing_pages(endpoint, "list", objects, walks=3, concurrency=2, limit=limit)
    assert result.errors == 0
    assert result.requests == 3 * pages_per_walk


def test_listing_short_of_expected_is_an_error(fake_swift):
    endpoint = loadgen.Endpoint(fake_swift.auth_url, "test:tester", "testing")
    loadgen.ensure_container(endpoint, "list")
    loadgen.object_ops(endpoint, ["list"], ["a", "b"], 0, 1, ops=("PUT",))
    result = loadgen.listing_pages(endpoint, "list", 3, walks=2, concurrency=1, limit=10)
    assert result.errors == result.requests == 2


def test_list_names_walks_all_pages(fake_swift):
    endpoint = loadgen.Endpoint(fake_swift.auth_url, "test:tester", "testing")
    loadgen.ensure_container(endpoint, "names")
    loadgen.object_ops(endpoint, ["names"], ["x%02d" % i for i in range(25)], 0, 3, ops=("PUT",))
    assert loadgen.list_names(endpoint, "names", limit=10) == ["x%02d" % i for i in range(25)]
