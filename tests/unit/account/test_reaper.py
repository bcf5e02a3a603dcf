"""The account reaper against real account, container and object server apps
(in-process transport from tests/unit/obj/inproc.py)."""

import json

import pytest

from objstore.account.reaper import AccountReaper, ReaperConfig, is_reaper_for
from objstore.common.timestamp import Timestamp
from tests.unit.obj.inproc import BASE_PORT, Cluster


@pytest.fixture
def cluster(tmp_path, objstore_conf):
    return Cluster(tmp_path)


def _each(cluster, kind, account, container=None):
    part, nodes = cluster.rings[kind].get_nodes(account, container)
    return part, nodes


def make_account(cluster, account):
    part, nodes = _each(cluster, "account", account)
    for node in nodes:
        resp = cluster.kind_request("account", cluster.index_of(node), "PUT", "/%s/%d/%s" % (node["device"], part, account),
                                    {"X-Timestamp": Timestamp.now().internal})
        assert resp.status in (201, 202)


def make_container(cluster, account, container):
    apart, anodes = _each(cluster, "account", account)
    part, nodes = _each(cluster, "container", account, container)
    for index, node in enumerate(nodes):
        anode = anodes[index % len(anodes)]
        resp = cluster.kind_request("container", cluster.index_of(node), "PUT",
                                    "/%s/%d/%s/%s" % (node["device"], part, account, container),
                                    {"X-Timestamp": Timestamp.now().internal,
                                     "X-Account-Host": "%s:%s" % (anode["ip"], anode["port"]),
                                     "X-Account-Device": anode["device"], "X-Account-Partition": str(apart)})
        assert resp.status in (201, 202), resp.status


def put_object(cluster, account, container, obj):
    part, nodes = cluster.ring.get_nodes(account, container, obj)
    ts = Timestamp.now().internal
    for replica, node in enumerate(nodes):
        headers = {"X-Timestamp": ts, "Content-Type": "text/plain"}
        headers.update(cluster.container_headers(account, container, replica))
        resp = cluster.request(cluster.index_of(node), "PUT", "/%s/%d/%s/%s/%s" % (
            node["device"], part, account, container, obj), headers, b"data")
        assert resp.status == 201


def delete_account(cluster, account):
    part, nodes = _each(cluster, "account", account)
    for node in nodes:
        resp = cluster.kind_request("account", cluster.index_of(node), "DELETE",
                                    "/%s/%d/%s" % (node["device"], part, account),
                                    {"X-Timestamp": Timestamp.now().internal})
        assert resp.status == 204


def reap_everywhere(cluster):
    totals = {}
    for index in range(4):
        config = ReaperConfig(devices=cluster.devices(index), mount_check=False, bind_ip="127.0.0.1",
                              bind_port=BASE_PORT + 10 * index + 2, ring_dir=cluster.ring_dir)
        stats = AccountReaper(config, cluster.logger, rings=cluster.rings, pool=cluster.pool).run_pass()
        for key, value in stats.items():
            totals[key] = totals.get(key, 0) + value
    return totals


def test_is_reaper_for():
    assert is_reaper_for({"id": 3}, [{"id": 3}, {"id": 1}])
    assert not is_reaper_for({"id": 1}, [{"id": 3}, {"id": 1}])
    assert not is_reaper_for({"id": 1}, [])


def test_deleted_account_is_emptied(cluster):
    make_account(cluster, "AUTH_gone")
    make_account(cluster, "AUTH_kept")
    for container in ("c1", "c2"):
        make_container(cluster, "AUTH_gone", container)
        for number in range(3):
            put_object(cluster, "AUTH_gone", container, "o%d" % number)
    make_container(cluster, "AUTH_kept", "c1")
    put_object(cluster, "AUTH_kept", "c1", "o0")
    assert reap_everywhere(cluster)["objects_deleted"] == 0  # nothing deleted yet
    delete_account(cluster, "AUTH_gone")
    totals = reap_everywhere(cluster)
    assert totals["objects_deleted"] == 6
    assert totals["containers_deleted"] == 2
    assert totals["accounts_reaped"] == 1
    for number in range(3):
        part, nodes = cluster.ring.get_nodes("AUTH_gone", "c1", "o%d" % number)
        for node in nodes:
            resp = cluster.request(cluster.index_of(node), "HEAD", "/%s/%d/AUTH_gone/c1/o%d" % (
                node["device"], part, number))
            assert resp.status == 404
    part, nodes = _each(cluster, "container", "AUTH_gone", "c2")
    for node in nodes:
        resp = cluster.kind_request("container", cluster.index_of(node), "HEAD",
                                    "/%s/%d/AUTH_gone/c2" % (node["device"], part))
        assert resp.status == 404
    # the other account is untouched
    part, nodes = cluster.ring.get_nodes("AUTH_kept", "c1", "o0")
    assert cluster.request(cluster.index_of(nodes[0]), "GET", "/%s/%d/AUTH_kept/c1/o0" % (
        nodes[0]["device"], part)).body == b"data"
    # a second pass finds nothing left to do
    again = reap_everywhere(cluster)
    assert again["objects_deleted"] == 0 and again["containers_deleted"] == 0


def test_unreachable_object_server_leaves_work_for_later(cluster):
    make_account(cluster, "AUTH_x")
    make_container(cluster, "AUTH_x", "c")
    put_object(cluster, "AUTH_x", "c", "o")
    delete_account(cluster, "AUTH_x")
    part, nodes = cluster.ring.get_nodes("AUTH_x", "c", "o")
    cluster.pool.down.add(nodes[0]["port"])
    totals = reap_everywhere(cluster)
    assert totals["failures"] >= 1 and totals["containers_deleted"] == 0
    cluster.pool.down.clear()
    totals = reap_everywhere(cluster)
    assert totals["containers_deleted"] == 1
