"""The object expirer: queue naming, and a whole round against real object,
container and account server apps (in-process transport)."""

import json
import time

import pytest

from objstore.common.timestamp import Timestamp
from objstore.obj import expirer
from objstore.obj.expirer import ExpirerConfig, ObjectExpirer
from tests.unit.obj.inproc import Cluster


def test_queue_names():
    assert expirer.queue_container("1700050000") == "1700006400"
    name = expirer.queue_entry(1700050000, "AUTH_a", "c", "o/with/slashes")
    assert name == "1700050000-AUTH_a/c/o/with/slashes"
    assert expirer.parse_queue_entry(name) == (1700050000, "AUTH_a", "c", "o/with/slashes")
    assert expirer.parse_queue_entry("junk") is None
    assert expirer.parse_queue_entry("12-a/c") is None


def test_due_containers_and_shares():
    names = ["1700006400", "1700092800", "1800000000", "junk"]
    due = expirer.due_containers(names, 1700100000, 86400, lookback=1)
    assert due == ["1700006400", "1700092800"]
    mine = [expirer.is_mine("row%d" % n, 3, 1) for n in range(300)]
    assert 50 < sum(mine) < 150
    assert expirer.is_mine("anything", 0, 0)


def test_queue_update_nodes():
    container, nodes = expirer.queue_update_nodes({
        "X-Delete-At-Host": "10.0.0.1:6011", "X-Delete-At-Device": "sdb",
        "X-Delete-At-Partition": "9", "X-Delete-At-Container": "1700006400"})
    assert container == "1700006400"
    assert nodes == [{"ip": "10.0.0.1", "port": 6011, "device": "sdb", "partition": "9"}]
    assert expirer.queue_update_nodes({}) == (None, [])


@pytest.fixture
def cluster(tmp_path, objstore_conf):
    return Cluster(tmp_path)


def _make_container(cluster, account, container):
    cpart, cnodes = cluster.rings["container"].get_nodes(account, container)
    for node in cnodes:
        resp = cluster.kind_request("container", cluster.index_of(node), "PUT",
                                    "/%s/%d/%s/%s" % (node["device"], cpart, account, container),
                                    {"X-Timestamp": Timestamp.now().internal})
        assert resp.status in (201, 202), resp.status


def _put_expiring(cluster, obj, delete_at, body=b"bye"):
    part, nodes = cluster.ring.get_nodes("a", "c", obj)
    queue = expirer.queue_container(delete_at)
    qpart, qnodes = cluster.rings["container"].get_nodes(expirer.EXPIRING_ACCOUNT, queue)
    ts = Timestamp.now()
    for replica, node in enumerate(nodes):
        headers = {"X-Timestamp": ts.internal, "Content-Type": "text/plain", "X-Delete-At": str(delete_at)}
        headers.update(cluster.container_headers("a", "c", replica))
        qnode = qnodes[replica % len(qnodes)]
        headers.update({"X-Delete-At-Host": "%s:%s" % (qnode["ip"], qnode["port"]),
                        "X-Delete-At-Device": qnode["device"], "X-Delete-At-Partition": str(qpart),
                        "X-Delete-At-Container": queue})
        resp = cluster.request(cluster.index_of(node), "PUT", "/%s/%d/a/c/%s" % (node["device"], part, obj),
                               headers, body)
        assert resp.status == 201
    return part, nodes, queue


def _listing(cluster, account, container):
    cpart, cnodes = cluster.rings["container"].get_nodes(account, container)
    names = set()
    for node in cnodes:
        resp = cluster.kind_request("container", cluster.index_of(node), "GET",
                                    "/%s/%d/%s/%s?format=json" % (node["device"], cpart, account, container))
        if resp.status == 200:
            names |= {row["name"] for row in json.loads(resp.body)}
    return names


def _expirer(cluster, now):
    config = ExpirerConfig(devices=cluster.devices(0), mount_check=False, ring_dir=cluster.ring_dir)
    return ObjectExpirer(config, cluster.logger, rings=cluster.rings, pool=cluster.pool, now=lambda: now)


def test_expired_object_goes_with_its_listing_row(cluster):
    _make_container(cluster, "a", "c")
    delete_at = int(time.time()) + 100
    part, nodes, queue = _put_expiring(cluster, "doomed", delete_at)
    assert _listing(cluster, "a", "c") == {"doomed"}
    assert _listing(cluster, expirer.EXPIRING_ACCOUNT, queue) == {expirer.queue_entry(delete_at, "a", "c", "doomed")}
    # not due yet: nothing happens
    stats = _expirer(cluster, delete_at - 10).run_pass()
    assert stats["objects_expired"] == 0
    stats = _expirer(cluster, delete_at + 1).run_pass()
    assert stats["objects_expired"] == 1
    for node in nodes:
        resp = cluster.request(cluster.index_of(node), "HEAD", "/%s/%d/a/c/doomed" % (node["device"], part))
        assert resp.status == 404
        assert resp.headers["x-backend-timestamp"] == Timestamp(delete_at).internal
    assert _listing(cluster, "a", "c") == set()
    assert _listing(cluster, expirer.EXPIRING_ACCOUNT, queue) == set()


def test_overwritten_object_survives_its_stale_row(cluster):
    _make_container(cluster, "a", "c")
    delete_at = int(time.time()) + 100
    part, nodes, queue = _put_expiring(cluster, "kept", delete_at)
    ts = Timestamp.now()
    for replica, node in enumerate(nodes):
        headers = {"X-Timestamp": ts.internal, "Content-Type": "text/plain"}
        headers.update(cluster.container_headers("a", "c", replica))
        cluster.request(cluster.index_of(node), "PUT", "/%s/%d/a/c/kept" % (node["device"], part), headers, b"new")
    stats = _expirer(cluster, delete_at + 1).run_pass()
    assert stats["stale_entries"] == 1 and stats["objects_expired"] == 0
    for node in nodes:
        resp = cluster.request(cluster.index_of(node), "GET", "/%s/%d/a/c/kept" % (node["device"], part))
        assert resp.body == b"new"
    assert _listing(cluster, expirer.EXPIRING_ACCOUNT, queue) == set()


def test_unreachable_primaries_keep_the_row(cluster):
    _make_container(cluster, "a", "c")
    delete_at = int(time.time()) + 100
    _part, nodes, queue = _put_expiring(cluster, "later", delete_at)
    for node in nodes[:2]:
        cluster.pool.down.add(node["port"])
    stats = _expirer(cluster, delete_at + 1).run_pass()
    assert stats["errors"] == 1
    cluster.pool.down.clear()
    assert _listing(cluster, expirer.EXPIRING_ACCOUNT, queue)
    assert _expirer(cluster, delete_at + 1).run_pass()["objects_expired"] == 1


def test_post_with_delete_at_is_queued_too(cluster):
    _make_container(cluster, "a", "c")
    part, nodes = cluster.ring.get_nodes("a", "c", "later")
    ts = Timestamp.now()
    for replica, node in enumerate(nodes):
        headers = {"X-Timestamp": ts.internal, "Content-Type": "text/plain"}
        headers.update(cluster.container_headers("a", "c", replica))
        cluster.request(cluster.index_of(node), "PUT", "/%s/%d/a/c/later" % (node["device"], part), headers, b"x")
    delete_at = int(time.time()) + 100
    queue = expirer.queue_container(delete_at)
    qpart, qnodes = cluster.rings["container"].get_nodes(expirer.EXPIRING_ACCOUNT, queue)
    post_ts = Timestamp.now()
    for replica, node in enumerate(nodes):
        qnode = qnodes[replica % len(qnodes)]
        resp = cluster.request(cluster.index_of(node), "POST", "/%s/%d/a/c/later" % (node["device"], part), {
            "X-Timestamp": post_ts.internal, "X-Delete-At": str(delete_at),
            "X-Delete-At-Host": "%s:%s" % (qnode["ip"], qnode["port"]), "X-Delete-At-Device": qnode["device"],
            "X-Delete-At-Partition": str(qpart), "X-Delete-At-Container": queue})
        assert resp.status == 202
    assert _listing(cluster, expirer.EXPIRING_ACCOUNT, queue) == {expirer.queue_entry(delete_at, "a", "c", "later")}
    assert _expirer(cluster, delete_at + 1).run_pass()["objects_expired"] == 1
    assert _listing(cluster, "a", "c") == set()
