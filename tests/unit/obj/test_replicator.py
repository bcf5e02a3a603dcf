"""The object replicator against real object server apps over real temp
devices (in-process transport): pushes, tombstones, handoffs, no-op passes."""

import pytest

from objstore.common.timestamp import Timestamp
from objstore.obj import hashes
from objstore.obj.replicator import ObjectReplicator, ReplicatorConfig, needs_push, plan_job
from tests.unit.obj.inproc import Cluster


@pytest.fixture
def cluster(tmp_path, objstore_conf):
    return Cluster(tmp_path)


def replicator(cluster, index, **kw):
    config = ReplicatorConfig(devices=cluster.devices(index), mount_check=False, bind_ip="127.0.0.1",
                              bind_port=cluster.port(index), ring_dir=cluster.root + "/rings", **kw)
    return ObjectReplicator(config, cluster.logger, ring=cluster.ring, pool=cluster.pool)


def replicate_all(cluster):
    return [replicator(cluster, index).run_pass() for index in range(4)]


def put(cluster, index, part, obj, body, timestamp, headers=None):
    all_headers = {"X-Timestamp": timestamp.internal, "Content-Type": "text/plain"}
    all_headers.update(headers or {})
    resp = cluster.request(index, "PUT", cluster.object_path(index, part, obj), all_headers, body)
    assert resp.status == 201, resp.status
    return resp


def get(cluster, index, part, obj):
    return cluster.request(index, "GET", cluster.object_path(index, part, obj), {})


def test_plan_job():
    primaries = [{"id": 1}, {"id": 2}, {"id": 3}]
    job = plan_job({"id": 2}, 5, primaries)
    assert job["primary"] and [n["id"] for n in job["peers"]] == [1, 3]
    job = plan_job({"id": 0}, 5, primaries)
    assert not job["primary"] and [n["id"] for n in job["peers"]] == [1, 2, 3]


def test_needs_push_table():
    t1, t2, t3 = Timestamp(1), Timestamp(2), Timestamp(3)
    assert needs_push({"data": t2}, {"newest": None, "data": None}) == ["PUT"]
    assert needs_push({"data": t2}, {"newest": t2, "data": t2}) == []
    assert needs_push({"data": t2}, {"newest": t1, "data": t1}) == ["PUT"]
    assert needs_push({"data": t1}, {"newest": t2, "data": None}) == []  # newer tombstone there
    assert needs_push({"data": t1, "meta": t3}, {"newest": t1, "data": t1}) == ["POST"]
    assert needs_push({"data": t2, "meta": t3}, {"newest": None, "data": None}) == ["PUT", "POST"]
    assert needs_push({"ts": t2}, {"newest": t1, "data": t1}) == ["DELETE"]
    assert needs_push({"ts": t2}, {"newest": t3, "data": t3}) == []
    assert needs_push({"ts": t2}, {"newest": None, "data": None}) == ["DELETE"]


def test_missing_replica_is_pushed_then_nothing_to_do(cluster):
    part, primaries, _handoffs = cluster.locate("o1")
    ts = Timestamp.now()
    put(cluster, primaries[0], part, "o1", b"hello", ts, {"X-Object-Meta-Color": "blue"})
    stats = replicator(cluster, primaries[0]).run_pass()
    assert stats["objects_pushed"] == 2
    for index in primaries:
        resp = get(cluster, index, part, "o1")
        assert resp.status == 200 and resp.body == b"hello"
        assert resp.headers["x-object-meta-color"] == "blue"
        assert resp.headers["x-timestamp"] == ts.normal
    cluster.pool.sent.clear()
    again = replicate_all(cluster)
    assert sum(s["objects_pushed"] for s in again) == 0
    assert {method for _port, method, _path in cluster.pool.sent} == {"REPLICATE"}


def test_meta_and_tombstone_travel(cluster):
    part, primaries, _ = cluster.locate("o2")
    now = float(Timestamp.now())
    t1, t2, t3 = Timestamp(now - 3), Timestamp(now - 2), Timestamp(now - 1)
    for index in primaries:
        put(cluster, index, part, "o2", b"v1", t1)
    resp = cluster.request(primaries[1], "POST", cluster.object_path(primaries[1], part, "o2"),
                           {"X-Timestamp": t2.internal, "X-Object-Meta-K": "v"})
    assert resp.status == 202
    replicate_all(cluster)
    for index in primaries:
        assert get(cluster, index, part, "o2").headers.get("x-object-meta-k") == "v"
    resp = cluster.request(primaries[2], "DELETE", cluster.object_path(primaries[2], part, "o2"),
                           {"X-Timestamp": t3.internal})
    assert resp.status == 204
    replicate_all(cluster)
    for index in primaries:
        resp = get(cluster, index, part, "o2")
        assert resp.status == 404 and resp.headers["x-backend-timestamp"] == t3.internal


def test_newest_write_wins_both_ways(cluster):
    part, primaries, _ = cluster.locate("o3")
    now = float(Timestamp.now())
    old, new = Timestamp(now - 10), Timestamp(now - 1)
    put(cluster, primaries[0], part, "o3", b"old", old)
    put(cluster, primaries[1], part, "o3", b"new", new)
    replicate_all(cluster)
    replicate_all(cluster)
    for index in primaries:
        assert get(cluster, index, part, "o3").body == b"new"


def test_handoff_is_pushed_and_removed(cluster):
    part, primaries, handoffs = cluster.locate("o4")
    handoff = handoffs[0]
    ts = Timestamp.now()
    put(cluster, handoff, part, "o4", b"from handoff", ts)
    cluster.pool.down.add(cluster.port(primaries[1]))
    stats = replicator(cluster, handoff).run_pass()
    assert stats["handoffs_removed"] == 0 and stats["partitions_failed"] == 1
    assert get(cluster, handoff, part, "o4").status == 200  # kept: a primary was down
    cluster.pool.down.clear()
    stats = replicator(cluster, handoff).run_pass()
    assert stats["handoffs_removed"] == 1
    assert get(cluster, handoff, part, "o4").status == 404
    for index in primaries:
        assert get(cluster, index, part, "o4").body == b"from handoff"


def test_old_tombstones_are_not_pushed_but_reclaimed(cluster):
    part, primaries, _ = cluster.locate("o5")
    old = Timestamp(1000000000)
    resp = cluster.request(primaries[0], "DELETE", cluster.object_path(primaries[0], part, "o5"),
                           {"X-Timestamp": old.internal})
    assert resp.status == 404
    stats = replicator(cluster, primaries[0], reclaim_age=3600).run_pass()
    assert stats["objects_pushed"] == 0
    part_path = "%s/sd%d/objects/%d" % (cluster.devices(primaries[0]), primaries[0], part)
    assert hashes.get_hashes(part_path) == {}


def test_partition_and_device_filters(cluster):
    part, primaries, _ = cluster.locate("o6")
    put(cluster, primaries[0], part, "o6", b"x", Timestamp.now())
    other = (part + 1) % cluster.ring.partition_count
    assert replicator(cluster, primaries[0]).run_pass(partitions=[other])["partitions_checked"] == 0
    assert replicator(cluster, primaries[0]).run_pass(devices=["nope"])["partitions_checked"] == 0
    assert replicator(cluster, primaries[0]).run_pass(partitions=[part])["objects_pushed"] == 2


def test_unreachable_primary_is_replaced_by_a_handoff(cluster):
    part, primaries, handoffs = cluster.locate("o7")
    put(cluster, primaries[0], part, "o7", b"keep three", Timestamp.now())
    cluster.pool.down.add(cluster.port(primaries[2]))
    stats = replicator(cluster, primaries[0]).run_pass()
    assert stats["partitions_failed"] == 1
    assert get(cluster, primaries[1], part, "o7").body == b"keep three"
    assert get(cluster, handoffs[0], part, "o7").body == b"keep three"
    cluster.pool.down.clear()
    replicator(cluster, handoffs[0]).run_pass()  # gives it back, then lets go
    assert get(cluster, primaries[2], part, "o7").body == b"keep three"
    assert get(cluster, handoffs[0], part, "o7").status == 404


def test_concurrent_jobs_give_the_same_result(cluster):
    names = ["c%d" % n for n in range(12)]
    for name in names:
        part, primaries, _ = cluster.locate(name)
        put(cluster, primaries[0], part, name, name.encode(), Timestamp.now())
    for index in range(4):
        replicator(cluster, index, concurrency=4).run_pass()
    for name in names:
        part, primaries, _ = cluster.locate(name)
        for index in primaries:
            assert get(cluster, index, part, name).body == name.encode()


def test_a_pass_removes_temp_files_of_writes_that_never_finished(cluster):
    """A crash mid-PUT leaves a file in tmp/: the replicator removes it once
    it is reclaim_age old, and leaves a write that may still be in flight."""
    import os
    import time

    tmp = os.path.join(cluster.devices(0), cluster.ring.devs[0]["device"], "tmp")
    os.makedirs(tmp, exist_ok=True)
    stale, fresh = os.path.join(tmp, "stale.part"), os.path.join(tmp, "fresh.part")
    for path in (stale, fresh):
        with open(path, "wb") as handle:
            handle.write(b"half an object")
    week_ago = time.time() - 8 * 86400
    os.utime(stale, (week_ago, week_ago))
    stats = replicator(cluster, 0, reclaim_age=7 * 86400).run_pass()
    assert stats["temp_files_removed"] == 1
    assert os.listdir(tmp) == ["fresh.part"]
