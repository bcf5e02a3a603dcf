"""Ring: lookups, handoff order, fractional replicas, reload, local devices."""

import os
import struct

import mock
import pytest

from objstore.common.exceptions import RingError
from objstore.common.hashing import hash_path_raw
from objstore.ring import ring as ring_mod
from objstore.ring.builder import RingBuilder
from objstore.ring.ring import Ring, part_of

SECRETS = (b"pre", b"suf")
NODE_KEYS = {"id", "region", "zone", "ip", "port", "replication_ip", "replication_port",
             "device", "weight", "meta"}


def build(path, part_power=8, replicas=3, regions=2, zones=3, hosts=2, disks=2, seed=1):
    b = RingBuilder(part_power, replicas, 0)
    for r in range(1, regions + 1):
        for z in range(1, zones + 1):
            for h in range(hosts):
                for d in range(disks):
                    b.add_dev(region=r, zone=z, ip="10.%d.%d.%d" % (r, z, h), port=6200,
                              replication_ip="192.168.%d.%d" % (r, z), replication_port=6300 + h,
                              device="sd%d" % d, weight=100)
    b.rebalance(seed=seed)
    b.write_ring(str(path))
    return b


@pytest.fixture
def ring_file(tmp_path):
    path = tmp_path / "object.ring.gz"
    build(path)
    return path


def test_part_of_top_bits():
    digest = bytes([0xAB, 0xCD, 0xEF, 0x01]) + bytes(12)
    assert part_of(digest, 32 - 8) == 0xAB
    assert part_of(digest, 32 - 16) == 0xABCD


def test_get_part_matches_hash(ring_file):
    ring = Ring(ring_file, secrets_pair=SECRETS)
    digest = hash_path_raw("a", "c", "o", SECRETS)
    assert ring.get_part("a", "c", "o") == struct.unpack(">I", digest[:4])[0] >> 24


def test_get_part_uses_conf_secrets(ring_file, objstore_conf):
    ring = Ring(ring_file)
    assert 0 <= ring.get_part("a") < 256


def test_get_nodes_shape(ring_file):
    ring = Ring(ring_file, secrets_pair=SECRETS)
    part, nodes = ring.get_nodes("AUTH_a", "c", "o")
    assert len(nodes) == 3
    assert [n["index"] for n in nodes] == [0, 1, 2]
    assert set(nodes[0]) == NODE_KEYS | {"index"}
    assert len({n["id"] for n in nodes}) == 3
    assert len({n["zone"] + 10 * n["region"] for n in nodes}) == 3
    nodes[0]["ip"] = "mutated"
    assert ring.get_part_nodes(part)[0]["ip"] != "mutated"


def test_attributes(ring_file):
    ring = Ring(ring_file, secrets_pair=SECRETS)
    assert ring.replica_count == 3.0
    assert ring.partition_count == 256 and ring.part_power == 8
    assert len(ring.devs) == 24 and set(ring.devs[0]) == NODE_KEYS
    with open(ring_file, "rb") as handle:
        import hashlib
        assert ring.md5 == hashlib.md5(handle.read()).hexdigest()


def test_part_out_of_range(ring_file):
    ring = Ring(ring_file, secrets_pair=SECRETS)
    with pytest.raises(RingError):
        ring.get_part_nodes(256)
    with pytest.raises(RingError):
        next(ring.get_more_nodes(-1))


def test_handoffs_prefer_regions_then_zones_then_hosts(ring_file):
    ring = Ring(ring_file, secrets_pair=SECRETS)
    for part in range(0, 256, 17):
        primaries = ring.get_part_nodes(part)
        handoffs = list(ring.get_more_nodes(part))
        assert [h["handoff_index"] for h in handoffs] == list(range(len(handoffs)))
        ids = [n["id"] for n in primaries + handoffs]
        assert sorted(ids) == list(range(24))  # every device, once
        seen_regions = {n["region"] for n in primaries}
        seen_zones = {(n["region"], n["zone"]) for n in primaries}
        seen_hosts = {(n["region"], n["zone"], n["ip"]) for n in primaries}
        stage = 0
        for node in handoffs:
            region, zone, host = node["region"], (node["region"], node["zone"]), (
                node["region"], node["zone"], node["ip"])
            new = 0 if region not in seen_regions else 1 if zone not in seen_zones else \
                2 if host not in seen_hosts else 3
            # a handoff never beats an earlier, better-spread one
            assert new >= stage
            if len(seen_zones) < 6:
                assert new <= 1
            stage = new
            seen_regions.add(region)
            seen_zones.add(zone)
            seen_hosts.add(host)


def test_handoffs_deterministic(tmp_path):
    one, two = tmp_path / "one.ring.gz", tmp_path / "two.ring.gz"
    build(one)
    build(two)
    a = [n["id"] for n in Ring(one, secrets_pair=SECRETS).get_more_nodes(9)]
    b = [n["id"] for n in Ring(two, secrets_pair=SECRETS).get_more_nodes(9)]
    assert a == b
    c = [n["id"] for n in Ring(one, secrets_pair=SECRETS).get_more_nodes(10)]
    assert a != c or len(a) < 2


def test_first_handoff_in_new_region(tmp_path):
    path = tmp_path / "r.ring.gz"
    build(path, regions=4, zones=1, hosts=1, disks=2)
    ring = Ring(path, secrets_pair=SECRETS)
    for part in range(32):
        regions = {n["region"] for n in ring.get_part_nodes(part)}
        first = next(ring.get_more_nodes(part))
        assert first["region"] not in regions


def test_fractional_replicas(tmp_path):
    path = tmp_path / "f.ring.gz"
    build(path, replicas=2.25)
    ring = Ring(path, secrets_pair=SECRETS)
    assert ring.replica_count == 2.25
    lengths = [len(ring.get_part_nodes(p)) for p in range(256)]
    assert lengths.count(3) == 64 and lengths.count(2) == 192
    assert len(ring.get_part_nodes(0)) == 3 and len(ring.get_part_nodes(255)) == 2


def test_reload_on_change(tmp_path):
    path = tmp_path / "object.ring.gz"
    build(path, seed=1)
    with mock.patch.object(ring_mod.time, "time", return_value=1000.0):
        ring = Ring(path, reload_time=15, secrets_pair=SECRETS)
        old_md5 = ring.md5
    b = RingBuilder(8, 3, 0)
    b.add_dev(zone=1, ip="1.1.1.1", port=1, device="a", weight=1)
    b.add_dev(zone=2, ip="1.1.1.2", port=1, device="b", weight=1)
    b.add_dev(zone=3, ip="1.1.1.3", port=1, device="c", weight=1)
    b.rebalance(seed=1)
    b.write_ring(str(path))
    os.utime(path, (2000, 2000))
    with mock.patch.object(ring_mod.time, "time", return_value=1010.0):
        assert len(ring.devs) == 24  # not yet: checked at most every 15 s
        assert ring.has_changed()
    with mock.patch.object(ring_mod.time, "time", return_value=1016.0):
        assert len(ring.devs) == 3
        assert ring.md5 != old_md5
        assert {n["ip"] for n in ring.get_part_nodes(0)} == {"1.1.1.1", "1.1.1.2", "1.1.1.3"}


def test_missing_file_keeps_current_ring(tmp_path):
    path = tmp_path / "object.ring.gz"
    build(path)
    with mock.patch.object(ring_mod.time, "time", return_value=0.0):
        ring = Ring(path, reload_time=1, secrets_pair=SECRETS)
    os.unlink(path)
    with mock.patch.object(ring_mod.time, "time", return_value=5.0):
        assert len(ring.get_part_nodes(0)) == 3


def test_missing_or_corrupt_file(tmp_path):
    with pytest.raises(RingError):
        Ring(tmp_path / "nope.ring.gz")
    bad = tmp_path / "bad.ring.gz"
    bad.write_bytes(b"not gzip")
    with pytest.raises(RingError):
        Ring(bad)


def test_local_devices(ring_file):
    ring = Ring(ring_file, secrets_pair=SECRETS)
    by_ip = ring.local_devices({"10.1.1.0"}, 6200)
    assert sorted(d["device"] for d in by_ip) == ["sd0", "sd1"]
    by_replication = ring.local_devices({"192.168.2.3"}, 6301)
    assert {(d["region"], d["zone"], d["ip"]) for d in by_replication} == {(2, 3, "10.2.3.1")}
    assert ring.local_devices({"10.1.1.0"}, 9999) == []


def test_load_time_sanity(tmp_path):
    # a larger ring loads and answers (no timing assertion)
    path = tmp_path / "big.ring.gz"
    build(path, part_power=14, regions=1, zones=4, hosts=2, disks=4)
    ring = Ring(path, secrets_pair=SECRETS)
    assert ring.partition_count == 1 << 14
    assert len(ring.get_nodes("a", "c", "o")[1]) == 3


def test_ring_without_tier_totals_still_walks(tmp_path):
    import gzip

    from objstore.common import encoding

    path = tmp_path / "old.ring.gz"
    build(path)
    _, body = encoding.unpack(gzip.decompress(path.read_bytes()))
    del body["tier_totals"]
    path.write_bytes(gzip.compress(encoding.pack(body, version=1)))
    ring = Ring(path, secrets_pair=SECRETS)
    assert len(ring.get_part_nodes(3) + list(ring.get_more_nodes(3))) == 24


def test_corrupt_new_file_keeps_current_ring(tmp_path):
    path = tmp_path / "object.ring.gz"
    build(path)
    with mock.patch.object(ring_mod.time, "time", return_value=0.0):
        ring = Ring(path, reload_time=1, secrets_pair=SECRETS)
        md5 = ring.md5
    path.write_bytes(b"half a ring")
    with mock.patch.object(ring_mod.time, "time", return_value=5.0):
        assert len(ring.get_part_nodes(0)) == 3 and ring.md5 == md5
