"""The repair stories of issue 6 section 5, one test each, on real processes:
servers are stopped and started, disks corrupted and wiped, and the cluster
must converge without an operator."""

import hashlib
import json
import os
import time

import pytest

from objstore.common.timestamp import Timestamp

ACCOUNT = "AUTH_test"


def make_container(probe, tester, container):
    url, token = tester
    status, _h, _b = probe.client_request(token, "PUT", "%s/%s" % (url, container))
    assert status in (201, 202), status


def put(probe, tester, container, obj, body, headers=None):
    url, token = tester
    status, _h, _b = probe.client_request(token, "PUT", "%s/%s/%s" % (url, container, obj), headers, body)
    return status


def get(probe, tester, container, obj):
    url, token = tester
    return probe.client_request(token, "GET", "%s/%s/%s" % (url, container, obj))


def held_by(probe, container, obj, nodes):
    """``{node: status of a direct GET}`` on each of ``nodes``."""
    return {node: probe.direct("object", node, "GET", ACCOUNT, container, obj).status for node in nodes}


# 1 -------------------------------------------------------------------------------
def test_1_primary_down_during_put_converges_to_three_primaries(probe, tester):
    make_container(probe, tester, "c1")
    _part, primaries, handoffs = probe.nodes_for(ACCOUNT, "c1", "o1")
    probe.stop_server("object", primaries[0])
    assert put(probe, tester, "c1", "o1", b"one") == 201
    handoff = handoffs[0]
    assert probe.object_files(handoff, ACCOUNT, "c1", "o1"), "the PUT should have used a handoff"
    probe.start_server("object", primaries[0])
    probe.converge()
    for node in primaries:
        resp = probe.direct("object", node, "GET", ACCOUNT, "c1", "o1")
        assert resp.status == 200 and resp.body == b"one", node
    assert probe.object_files(handoff, ACCOUNT, "c1", "o1") == []
    assert held_by(probe, "c1", "o1", [handoff]) == {handoff: 404}


# 2 -------------------------------------------------------------------------------
def test_2_get_served_from_handoff_when_primaries_are_down(probe, tester):
    make_container(probe, tester, "c2")
    _part, primaries, _handoffs = probe.nodes_for(ACCOUNT, "c2", "o2")
    probe.stop_server("object", primaries[0])
    assert put(probe, tester, "c2", "o2", b"handed off") == 201
    probe.stop_server("object", primaries[1])
    probe.stop_server("object", primaries[2])
    status, _headers, body = get(probe, tester, "c2", "o2")
    assert (status, body) == (200, b"handed off")


# 3 -------------------------------------------------------------------------------
def test_3_delete_beats_stale_handoff_copy(probe, tester):
    make_container(probe, tester, "c3")
    _part, primaries, handoffs = probe.nodes_for(ACCOUNT, "c3", "o3")
    probe.stop_server("object", primaries[0])
    assert put(probe, tester, "c3", "o3", b"soon gone") == 201
    probe.start_server("object", primaries[0])
    url, token = tester
    status, _h, _b = probe.client_request(token, "DELETE", "%s/c3/o3" % url)
    assert status in (204, 404)
    assert get(probe, tester, "c3", "o3")[0] == 404
    probe.converge()
    assert get(probe, tester, "c3", "o3")[0] == 404
    for node in range(1, probe.nodes + 1):
        assert probe.object_files(node, ACCOUNT, "c3", "o3") == [], node


# 4 -------------------------------------------------------------------------------
def test_4_all_primaries_down_is_503_not_404(probe, tester):
    make_container(probe, tester, "c4")
    assert put(probe, tester, "c4", "o4", b"x") == 201
    _part, primaries, _handoffs = probe.nodes_for(ACCOUNT, "c4", "o4")
    for node in primaries:
        probe.stop_server("object", node)
    assert get(probe, tester, "c4", "o4")[0] == 503


# 5 -------------------------------------------------------------------------------
def test_5_bit_rot_is_quarantined_and_restored(probe, tester):
    make_container(probe, tester, "c5")
    body = os.urandom(4096)
    assert put(probe, tester, "c5", "o5", body) == 201
    _part, primaries, _handoffs = probe.nodes_for(ACCOUNT, "c5", "o5")
    victim = primaries[1]
    (data_file,) = probe.object_files(victim, ACCOUNT, "c5", "o5")
    with open(data_file, "r+b") as handle:
        handle.seek(100)
        byte = handle.read(1)
        handle.seek(100)
        handle.write(bytes([byte[0] ^ 0xFF]))
    stats = probe.run_daemon("object-auditor", [victim])[victim]
    assert stats["quarantined"] == 1
    assert probe.object_files(victim, ACCOUNT, "c5", "o5") == []
    probe.converge()
    for node in primaries:
        resp = probe.direct("object", node, "GET", ACCOUNT, "c5", "o5")
        assert resp.status == 200 and hashlib.md5(resp.body).digest() == hashlib.md5(body).digest(), node
    assert get(probe, tester, "c5", "o5")[2] == body


# 6 -------------------------------------------------------------------------------
def test_6_wiped_device_is_rebuilt(probe, tester):
    names = ["o%d" % number for number in range(12)]
    make_container(probe, tester, "c6")
    for name in names:
        assert put(probe, tester, "c6", name, name.encode()) == 201
    victim = 1
    expected = [name for name in names if victim in probe.nodes_for(ACCOUNT, "c6", name)[1]]
    assert expected, "the test needs objects on the victim"
    probe.wipe_device(victim)
    probe.converge()
    for name in expected:
        resp = probe.direct("object", victim, "GET", ACCOUNT, "c6", name)
        assert (resp.status, resp.body) == (200, name.encode()), name
    if victim in probe.nodes_for(ACCOUNT, "c6")[1]:
        assert probe.direct("container", victim, "HEAD", ACCOUNT, "c6").status == 204
    if victim in probe.nodes_for(ACCOUNT)[1]:
        assert probe.direct("account", victim, "HEAD", ACCOUNT).status == 204


# 7 -------------------------------------------------------------------------------
def test_7_no_resurrection_after_delete_while_node_down(probe, tester):
    make_container(probe, tester, "c7")
    assert put(probe, tester, "c7", "o7", b"old data") == 201
    _part, primaries, _handoffs = probe.nodes_for(ACCOUNT, "c7", "o7")
    probe.stop_server("object", primaries[2])
    url, token = tester
    assert probe.client_request(token, "DELETE", "%s/c7/o7" % url)[0] == 204
    probe.start_server("object", primaries[2])
    assert probe.object_files(primaries[2], ACCOUNT, "c7", "o7"), "the stopped node keeps its old copy"
    probe.converge()
    for node in range(1, probe.nodes + 1):
        assert probe.object_files(node, ACCOUNT, "c7", "o7") == [], node
    assert get(probe, tester, "c7", "o7")[0] == 404
    assert "o7" not in probe.listing(token, url, "c7")


# 8 -------------------------------------------------------------------------------
def test_8_listing_catches_up_through_the_object_updater(probe, tester):
    make_container(probe, tester, "c8")
    _part, cprimaries, _handoffs = probe.nodes_for(ACCOUNT, "c8")
    down = cprimaries[0]  # the replica the first object replica reports to

    def direct_listing():
        resp = probe.direct("container", down, "GET", ACCOUNT, "c8", query="?format=json")
        assert resp.status == 200, resp.status
        return [row["name"] for row in json.loads(resp.body)]

    probe.stop_server("container", down)
    assert put(probe, tester, "c8", "o8", b"listed later") == 201
    probe.start_server("container", down)
    assert "o8" not in direct_listing()
    stats = probe.run_daemon("object-updater")
    assert sum(s["successes"] for s in stats.values()) >= 1
    assert "o8" in direct_listing()
    url, token = tester
    assert "o8" in probe.listing(token, url, "c8")


# 9 -------------------------------------------------------------------------------
def test_9_if_none_match_sees_a_single_replica(probe, tester):
    make_container(probe, tester, "c9")
    _part, primaries, _handoffs = probe.nodes_for(ACCOUNT, "c9", "o9")
    resp = probe.direct("object", primaries[1], "PUT", ACCOUNT, "c9", "o9",
                        {"X-Timestamp": Timestamp.now().internal, "Content-Type": "text/plain",
                         "Content-Length": "8"}, b"original")
    assert resp.status == 201
    assert put(probe, tester, "c9", "o9", b"usurper", {"If-None-Match": "*"}) == 412
    probe.converge()
    for node in primaries:
        resp = probe.direct("object", node, "GET", ACCOUNT, "c9", "o9")
        assert (resp.status, resp.body) == (200, b"original"), node


# 10 ------------------------------------------------------------------------------
def test_10_expired_object_leaves_get_and_listing(probe, tester):
    make_container(probe, tester, "c10")
    assert put(probe, tester, "c10", "o10", b"ephemeral", {"X-Delete-After": "1"}) == 201
    assert put(probe, tester, "c10", "keeper", b"stays") == 201
    url, token = tester
    assert "o10" in probe.listing(token, url, "c10")
    time.sleep(2.1)
    assert get(probe, tester, "c10", "o10")[0] == 404
    stats = probe.run_daemon("object-expirer", [1])[1]
    assert stats["objects_expired"] == 1
    assert probe.listing(token, url, "c10") == ["keeper"]
    for node in range(1, probe.nodes + 1):
        assert probe.object_files(node, ACCOUNT, "c10", "o10") == []


# 11 ------------------------------------------------------------------------------
def test_11_reaper_empties_an_account_a_reseller_deleted(probe):
    url, token = probe.auth("test2:tester2", "testing2")
    url = "/" + url.split("/", 3)[3]
    account = url.rsplit("/", 1)[1]
    objects = []
    for container in ("r1", "r2"):
        assert probe.client_request(token, "PUT", "%s/%s" % (url, container))[0] in (201, 202)
        for number in range(3):
            assert probe.client_request(token, "PUT", "%s/%s/o%d" % (url, container, number), {}, b"doomed")[0] == 201
            objects.append((container, "o%d" % number))
    _admin_url, admin_token = probe.auth("admin:admin", "admin")
    status, _h, _b = probe.client_request(admin_token, "DELETE", url)
    assert status == 204, status
    probe.run_daemon("account-reaper")
    for container, obj in objects:
        for node in range(1, probe.nodes + 1):
            assert probe.object_files(node, account, container, obj) == [], (container, obj, node)
    for container in ("r1", "r2"):
        _part, cprimaries, _h = probe.nodes_for(account, container)
        for node in cprimaries:
            assert probe.direct("container", node, "HEAD", account, container).status == 404


# 12 ------------------------------------------------------------------------------
@pytest.mark.parametrize("newest", ["DELETE", "PUT"])
def test_12_newest_operation_wins_across_split_nodes(probe, tester, newest):
    make_container(probe, tester, "c12" + newest)
    container = "c12" + newest
    assert put(probe, tester, container, "o12", b"v1") == 201
    _part, primaries, handoffs = probe.nodes_for(ACCOUNT, container, "o12")
    halves = (primaries[:2], [primaries[2], handoffs[0]])
    older, newer = Timestamp.now(), Timestamp.now(offset=1)
    ops = [("PUT", older), ("DELETE", newer)] if newest == "DELETE" else [("DELETE", older), ("PUT", newer)]
    for half, (op, stamp) in zip(halves, ops):
        for node in half:  # straight to the nodes: each half sees one operation only
            headers = {"X-Timestamp": stamp.internal}
            body = None
            if op == "PUT":
                headers.update({"Content-Type": "text/plain", "Content-Length": "2"})
                body = b"v2"
            resp = probe.direct("object", node, op, ACCOUNT, container, "o12", headers, body)
            assert resp.status in (201, 204, 404), (op, node, resp.status)
    probe.converge()
    for node in primaries:
        resp = probe.direct("object", node, "GET", ACCOUNT, container, "o12")
        if newest == "DELETE":
            assert resp.status == 404, node
        else:
            assert (resp.status, resp.body) == (200, b"v2"), node
    assert probe.object_files(handoffs[0], ACCOUNT, container, "o12") == []
    expected = 404 if newest == "DELETE" else 200
    assert get(probe, tester, container, "o12")[0] == expected
