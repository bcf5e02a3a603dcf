"""The DB replicator (through ContainerReplicator and AccountReplicator)
against real container/account server apps over real temp devices, with the
in-process transport of tests/unit/obj/inproc.py: whole-DB sends, row diffs,
convergence both ways, handoffs, reclaim, peers down."""

import os
import time

import pytest

from objstore.account.replicator import AccountReplicator
from objstore.container.replicator import ContainerReplicator
from objstore.db.replicator import DBReplicatorConfig, db_files, peers_for
from tests.unit.obj.inproc import BASE_PORT, Cluster


BASE = int(time.time()) - 1000  # recent: rows this old are not reclaimed by a real-clock pass


def ts(n):
    return "%010d.%05d" % (BASE + n, 0)


@pytest.fixture
def cluster(tmp_path, objstore_conf):
    return Cluster(tmp_path)


def port(index, kind="container"):
    return BASE_PORT + 10 * index + (1 if kind == "container" else 2)


def replicator(cluster, index, cls=ContainerReplicator, now=None, **kw):
    kind = "container" if cls is ContainerReplicator else "account"
    config = DBReplicatorConfig(devices=cluster.devices(index), mount_check=False, bind_ip="127.0.0.1",
                                bind_port=port(index, kind), **kw)
    return cls(config, cluster.logger, ring=cluster.rings[kind], pool=cluster.pool, now=now)


def locate(cluster, account="a", container="c"):
    ring = cluster.rings["container"]
    part, nodes = ring.get_nodes(account, container)
    handoffs = [(n["port"] - BASE_PORT) // 10 for n in ring.get_more_nodes(part)]
    return part, [(n["port"] - BASE_PORT) // 10 for n in nodes], handoffs


def creq(cluster, index, method, path, headers=None):
    return cluster.kind_request("container", index, method, "/sd%d/%s" % (index, path.lstrip("/")), headers)


def put_obj(cluster, index, part, name, t, size=1):
    resp = creq(cluster, index, "PUT", "%d/a/c/%s" % (part, name), {
        "X-Timestamp": ts(t), "X-Size": str(size), "X-Content-Type": "t", "X-Etag": "e"})
    assert resp.status == 201


def listing(cluster, index, part):
    resp = creq(cluster, index, "GET", "%d/a/c" % part)
    return resp.status, resp.body.decode().split()


def test_pure_helpers(tmp_path):
    assert peers_for({"id": 2}, [{"id": 1}, {"id": 2}, {"id": 3}]) == (True, [{"id": 1}, {"id": 3}])
    assert peers_for({"id": 9}, [{"id": 1}]) == (False, [{"id": 1}])
    db = tmp_path / "containers" / "5" / "abc" / ("f" * 29 + "abc")
    db.mkdir(parents=True)
    (db / ("f" * 29 + "abc.db")).write_bytes(b"")
    (tmp_path / "containers" / "junk").mkdir()
    assert db_files(str(tmp_path / "containers")) == [(5, str(db / ("f" * 29 + "abc.db")))]
    assert db_files(str(tmp_path / "containers"), partitions=[4]) == []


def test_whole_db_then_rows_then_nothing(cluster):
    part, primaries, _ = locate(cluster)
    first = primaries[0]
    assert creq(cluster, first, "PUT", "%d/a/c" % part, {"X-Timestamp": ts(1),
                                                          "X-Container-Meta-M": "v"}).status == 201
    for i in range(5):
        put_obj(cluster, first, part, "o%d" % i, 2)
    stats = replicator(cluster, first).run_pass()
    assert stats["whole_sent"] == 2 and stats["failures"] == 0
    for other in primaries[1:]:
        assert listing(cluster, other, part) == (200, ["o0", "o1", "o2", "o3", "o4"])
        assert creq(cluster, other, "HEAD", "%d/a/c" % part).headers["x-container-meta-m"] == "v"
    put_obj(cluster, first, part, "o9", 3)
    stats = replicator(cluster, first).run_pass()
    assert stats["rows_sent"] == 2 and stats["whole_sent"] == 0
    stats = replicator(cluster, first).run_pass()
    assert stats["rows_sent"] == 0 and stats["no_change"] == 2
    for other in primaries[1:]:
        assert listing(cluster, other, part)[1][-1] == "o9"


def test_divergent_replicas_converge(cluster):
    part, primaries, _ = locate(cluster)
    for index in primaries:
        creq(cluster, index, "PUT", "%d/a/c" % part, {"X-Timestamp": ts(1)})
    a, b, c = primaries
    put_obj(cluster, a, part, "x", 2, size=1)
    put_obj(cluster, b, part, "x", 3, size=10)  # newer on b
    put_obj(cluster, b, part, "y", 2, size=5)
    creq(cluster, c, "DELETE", "%d/a/c/y" % part, {"X-Timestamp": ts(4)})  # newest: deleted
    creq(cluster, c, "POST", "%d/a/c" % part, {"X-Timestamp": ts(5), "X-Container-Meta-C": "c"})
    for _ in range(2):
        for index in primaries:
            replicator(cluster, index).run_pass()
    for index in primaries:
        resp = creq(cluster, index, "HEAD", "%d/a/c" % part)
        assert (resp.headers["x-container-object-count"], resp.headers["x-container-bytes-used"]) == ("1", "10")
        assert resp.headers["x-container-meta-c"] == "c"
        assert listing(cluster, index, part) == (200, ["x"])
    # once converged, a pass sends no rows anywhere
    assert sum(replicator(cluster, index).run_pass()["rows_sent"] for index in primaries) == 0


def test_handoff_is_pushed_and_removed(cluster):
    part, primaries, handoffs = locate(cluster)
    hand = handoffs[0]
    assert creq(cluster, hand, "PUT", "%d/a/c" % part, {"X-Timestamp": ts(1)}).status == 201
    put_obj(cluster, hand, part, "o", 2)
    cluster.pool.down.add(port(primaries[0]))
    stats = replicator(cluster, hand).run_pass()
    assert stats["failures"] == 1 and stats["removed"] == 0
    cluster.pool.down.clear()
    stats = replicator(cluster, hand).run_pass()
    assert stats["removed"] == 1
    assert not os.path.exists(os.path.join(cluster.devices(hand), "sd%d" % hand, "containers", str(part)))
    for index in primaries:
        assert listing(cluster, index, part) == (200, ["o"])


def test_reclaim_rows_and_deleted_dbs(cluster):
    part, primaries, _ = locate(cluster)
    first = primaries[0]
    creq(cluster, first, "PUT", "%d/a/c" % part, {"X-Timestamp": ts(1)})
    put_obj(cluster, first, part, "o", 2)
    creq(cluster, first, "DELETE", "%d/a/c/o" % part, {"X-Timestamp": ts(3)})
    stats = replicator(cluster, first, now=lambda: BASE + 3 + 100, reclaim_age=50).run_pass()
    assert stats["reclaimed_rows"] == 1
    creq(cluster, first, "DELETE", "%d/a/c" % part, {"X-Timestamp": ts(200)})
    stats = replicator(cluster, first, now=lambda: BASE + 220, reclaim_age=50).run_pass()
    assert stats["removed"] == 0  # deleted, but not long enough ago
    stats = replicator(cluster, first, now=lambda: BASE + 300, reclaim_age=50).run_pass()
    assert stats["removed"] == 1
    assert creq(cluster, first, "HEAD", "%d/a/c" % part).status == 404
    # the delete had reached the peers in the earlier pass
    for other in primaries[1:]:
        resp = creq(cluster, other, "HEAD", "%d/a/c" % part)
        assert resp.status == 404 and resp.headers["x-backend-delete-timestamp"] == ts(200)


def test_account_replicator(cluster):
    ring = cluster.rings["account"]
    part, nodes = ring.get_nodes("acct")
    indexes = [(n["port"] - BASE_PORT) // 10 for n in nodes]
    first = indexes[0]

    def areq(index, method, path, headers=None):
        return cluster.kind_request("account", index, method, "/sd%d/%d/%s" % (index, part, path), headers)

    assert areq(first, "PUT", "acct", {"X-Timestamp": ts(1)}).status == 201
    assert areq(first, "PUT", "acct/c1", {"X-Put-Timestamp": ts(2), "X-Delete-Timestamp": ts(0),
                                          "X-Object-Count": "3", "X-Bytes-Used": "30"}).status == 201
    stats = replicator(cluster, first, cls=AccountReplicator).run_pass()
    assert stats["whole_sent"] == 2
    for index in indexes[1:]:
        assert areq(index, "HEAD", "acct").headers["x-account-object-count"] == "3"
    areq(first, "PUT", "acct/c2", {"X-Put-Timestamp": ts(3), "X-Delete-Timestamp": ts(0),
                                   "X-Object-Count": "1", "X-Bytes-Used": "1"})
    assert replicator(cluster, first, cls=AccountReplicator).run_pass()["rows_sent"] == 2
    for index in indexes[1:]:
        assert areq(index, "GET", "acct").body == b"c1\nc2\n"


def test_handoff_written_during_sync_is_kept(cluster):
    part, primaries, handoffs = locate(cluster)
    hand = handoffs[0]
    creq(cluster, hand, "PUT", "%d/a/c" % part, {"X-Timestamp": ts(1)})
    put_obj(cluster, hand, part, "o", 2)
    real_request = cluster.pool.request
    written = []

    def request(ip, port_, method, path, headers=None, body=None):
        if method == "REPLICATE" and not written:  # a client write lands mid-sync
            written.append(True)
            put_obj(cluster, hand, part, "late", 3)
        return real_request(ip, port_, method, path, headers, body)

    cluster.pool.request = request
    assert replicator(cluster, hand).run_pass()["removed"] == 0
    cluster.pool.request = real_request
    assert replicator(cluster, hand).run_pass()["removed"] == 1
    for index in primaries:
        assert listing(cluster, index, part) == (200, ["late", "o"])
