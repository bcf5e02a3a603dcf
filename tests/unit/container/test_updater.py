"""The container updater against real container and account server apps
(in-process transport of tests/unit/obj/inproc.py)."""

import time

import pytest

from objstore.container.updater import ContainerUpdater, ContainerUpdaterConfig, delivered
from tests.unit.obj.inproc import BASE_PORT, Cluster

BASE = int(time.time()) - 1000


def ts(n):
    return "%010d.%05d" % (BASE + n, 0)


@pytest.fixture
def cluster(tmp_path, objstore_conf):
    return Cluster(tmp_path)


def updater(cluster, index):
    config = ContainerUpdaterConfig(devices=cluster.devices(index), mount_check=False, containers_per_second=0)
    return ContainerUpdater(config, cluster.logger, account_ring=cluster.rings["account"], pool=cluster.pool)


def test_delivered_needs_a_majority():
    assert delivered([201, 201, None], 3)
    assert not delivered([201, 404, None], 3)
    assert delivered([204], 1)
    assert not delivered([], 3)


def test_changed_containers_are_reported_once(cluster):
    apart, anodes = cluster.rings["account"].get_nodes("a")
    aindexes = [(n["port"] - BASE_PORT) // 10 for n in anodes]
    for index in aindexes:
        assert cluster.kind_request("account", index, "PUT", "/sd%d/%d/a" % (index, apart),
                                    {"X-Timestamp": ts(1)}).status == 201
    cpart, cnodes = cluster.rings["container"].get_nodes("a", "c")
    cindex = (cnodes[0]["port"] - BASE_PORT) // 10
    path = "/sd%d/%d/a/c" % (cindex, cpart)
    assert cluster.kind_request("container", cindex, "PUT", path, {"X-Timestamp": ts(2)}).status == 201
    for name, size in (("o1", 5), ("o2", 7)):
        cluster.kind_request("container", cindex, "PUT", path + "/" + name, {
            "X-Timestamp": ts(3), "X-Size": str(size), "X-Content-Type": "t", "X-Etag": "e"})
    assert updater(cluster, cindex).run_pass() == {"checked": 1, "reported": 1, "failed": 0, "unchanged": 0}
    for index in aindexes:
        resp = cluster.kind_request("account", index, "HEAD", "/sd%d/%d/a" % (index, apart))
        assert (resp.headers["x-account-object-count"], resp.headers["x-account-bytes-used"]) == ("2", "12")
    assert updater(cluster, cindex).run_pass()["unchanged"] == 1
    # two account servers down: not delivered, retried next pass
    cluster.kind_request("container", cindex, "DELETE", path + "/o1", {"X-Timestamp": ts(4)})
    for index in aindexes[:2]:
        cluster.pool.down.add(BASE_PORT + 10 * index + 2)
    assert updater(cluster, cindex).run_pass()["failed"] == 1
    cluster.pool.down.clear()
    assert updater(cluster, cindex).run_pass()["reported"] == 1
    resp = cluster.kind_request("account", aindexes[0], "HEAD", "/sd%d/%d/a" % (aindexes[0], apart))
    assert resp.headers["x-account-object-count"] == "1"


def test_missing_account_is_not_delivered(cluster):
    cpart, cnodes = cluster.rings["container"].get_nodes("nobody", "c")
    cindex = (cnodes[0]["port"] - BASE_PORT) // 10
    cluster.kind_request("container", cindex, "PUT", "/sd%d/%d/nobody/c" % (cindex, cpart), {"X-Timestamp": ts(2)})
    assert updater(cluster, cindex).run_pass()["failed"] == 1
