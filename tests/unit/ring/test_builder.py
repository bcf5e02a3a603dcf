"""RingBuilder: devices, rebalance rules, validation, files."""

import os

import mock
import pytest

from objstore.common.exceptions import RingBuilderError, RingError, RingValidationError
from objstore.ring import builder as builder_mod
from objstore.ring.builder import RingBuilder, ring_path_for


def add_grid(builder, regions=1, zones=4, disks=2, weight=100.0):
    for r in range(1, regions + 1):
        for z in range(1, zones + 1):
            for d in range(disks):
                builder.add_dev(region=r, zone=z, ip="10.%d.%d.1" % (r, z), port=6200,
                                device="sd%d" % d, weight=weight)


def parts_of(builder):
    return builder.parts_by_dev()


def test_add_dev_defaults_and_ids():
    b = RingBuilder(4, 3, 1)
    first = b.add_dev(zone=1, ip="127.0.0.1", port=6200, device="sdb1", weight=1)
    second = b.add_dev({"region": 2, "zone": 1, "ip": "127.0.0.2", "port": 6201,
                        "replication_ip": "10.0.0.2", "replication_port": 6301,
                        "device": "sdb2", "weight": 2.5, "meta": "fast"})
    assert (first, second) == (0, 1)
    assert b.devs[0] == {"id": 0, "region": 1, "zone": 1, "ip": "127.0.0.1", "port": 6200,
                         "replication_ip": "127.0.0.1", "replication_port": 6200,
                         "device": "sdb1", "weight": 1.0, "meta": ""}
    assert b.devs[1]["replication_ip"] == "10.0.0.2" and b.devs[1]["meta"] == "fast"


@pytest.mark.parametrize("fields", [
    {"zone": 1, "ip": "h", "port": 6200, "device": "d", "weight": 0},
    {"zone": 1, "ip": "h", "port": 6200, "device": "d", "weight": -1},
    {"zone": 1, "ip": "h", "port": 6200, "device": "d", "weight": "x"},
    {"zone": 1, "ip": "h", "port": 70000, "device": "d", "weight": 1},
    {"zone": 1, "ip": "h", "port": 6200, "device": "a/b", "weight": 1},
    {"ip": "h", "port": 6200, "device": "d", "weight": 1},
])
def test_add_dev_rejects_bad_fields(fields):
    b = RingBuilder(4, 3, 1)
    with pytest.raises(RingBuilderError):
        b.add_dev(**fields)
    assert b.devs == []


def test_add_dev_rejects_duplicates():
    b = RingBuilder(4, 3, 1)
    b.add_dev(zone=1, ip="h", port=6200, device="d", weight=1)
    with pytest.raises(RingBuilderError):
        b.add_dev(zone=2, ip="h", port=6200, device="d", weight=1)


@pytest.mark.parametrize("args", [(0, 3, 1), (25, 3, 1), (4, 0.5, 1), (4, 3, -1), (4, 3, 256)])
def test_create_rejects_bad_parameters(args):
    with pytest.raises(RingBuilderError):
        RingBuilder(*args)


def test_rebalance_needs_enough_devices():
    b = RingBuilder(4, 3, 1)
    b.add_dev(zone=1, ip="h", port=6200, device="a", weight=1)
    b.add_dev(zone=2, ip="h", port=6200, device="b", weight=1)
    with pytest.raises(RingBuilderError):
        b.rebalance()


def test_first_rebalance_balanced_and_valid():
    b = RingBuilder(8, 3, 1)
    add_grid(b)
    result = b.rebalance(seed=1)
    assert result.parts_moved == 256 and result.balance < 1.0 and result.dispersion == 0.0
    b.validate()
    assert sum(parts_of(b)) == 3 * 256


def test_rebalance_is_reproducible_with_a_seed():
    one, two = RingBuilder(8, 3, 1), RingBuilder(8, 3, 1)
    add_grid(one)
    add_grid(two)
    one.rebalance(seed=7)
    two.rebalance(seed=7)
    assert one.ring_bytes() == two.ring_bytes()


def test_min_part_hours_respected_across_two_rebalances():
    b = RingBuilder(8, 3, 24)
    add_grid(b)
    b.rebalance(seed=1)
    before = [row[:] for row in b._rows]
    b.add_dev(region=1, zone=1, ip="10.1.1.9", port=6200, device="new", weight=100)
    result = b.rebalance(seed=2)
    assert result.parts_moved == 0 and b._rows == before
    # a day later partitions may move, but at most one replica of each
    with mock.patch.object(builder_mod.time, "time", return_value=b._last_part_moves_epoch + 25 * 3600):
        result = b.rebalance(seed=3)
    assert result.parts_moved > 0
    for part in range(256):
        changed = sum(1 for r, row in enumerate(b._rows) if row[part] != before[r][part])
        assert changed <= 1
    assert parts_of(b)[8] > 0
    b.validate()


def test_pretend_min_part_hours_passed_unlocks_moves():
    b = RingBuilder(8, 3, 24)
    add_grid(b)
    b.rebalance(seed=1)
    b.set_dev_weight(0, 50)
    assert b.rebalance(seed=2).parts_moved == 0
    b.pretend_min_part_hours_passed()
    result = b.rebalance(seed=2)
    assert result.parts_moved > 0 and result.balance < 2.0


def test_remove_dev_reassigns_even_within_min_part_hours():
    b = RingBuilder(8, 3, 24)
    add_grid(b)
    b.rebalance(seed=1)
    b.remove_dev(3)
    result = b.rebalance(seed=2)
    assert result.removed_devs == (3,)
    assert b.devs[3] is None
    b.validate()
    assert all(3 not in (row[p] for row in b._rows) for p in range(256))


def test_remove_then_add_reuses_the_hole_only_after_rebalance():
    b = RingBuilder(6, 3, 0)
    add_grid(b)
    b.rebalance(seed=1)
    b.remove_dev(0)
    assert b.add_dev(zone=1, ip="x", port=1, device="n", weight=1) == 8
    b.rebalance(seed=1)
    assert b.add_dev(zone=2, ip="y", port=1, device="n", weight=1) == 0


def test_weights_honoured_proportionally():
    b = RingBuilder(10, 3, 0)
    for zone, weight in ((1, 100), (2, 200), (3, 300), (4, 400), (5, 500)):
        b.add_dev(zone=zone, ip="10.0.0.%d" % zone, port=6200, device="sda", weight=weight)
    b.rebalance(seed=1)
    counts = parts_of(b)
    total = 3 * 1024
    # zone 5 would want 1.0 replica per partition: capped at exactly P
    for dev in b.devs[:4]:
        assert counts[dev["id"]] > 0
    assert counts[4] == 1024
    assert counts[0] < counts[1] < counts[2] < counts[3]
    assert sum(counts) == total


def test_set_replicas_fractional_and_back():
    b = RingBuilder(8, 3, 0)
    add_grid(b)
    b.rebalance(seed=1)
    b.set_replicas(2.5)
    b.rebalance(seed=2)
    assert [len(r) for r in b._rows] == [256, 256, 128]
    b.validate()
    b.set_replicas(4)
    b.rebalance(seed=3)
    assert [len(r) for r in b._rows] == [256] * 4
    b.validate()


def test_overload_improves_dispersion():
    b = RingBuilder(8, 3, 0)
    b.add_dev(region=1, zone=1, ip="a", port=1, device="d", weight=300)
    b.add_dev(region=1, zone=2, ip="b", port=1, device="d", weight=300)
    b.add_dev(region=1, zone=3, ip="c", port=1, device="d", weight=300)
    b.add_dev(region=2, zone=1, ip="e", port=1, device="d", weight=100)
    low = b.rebalance(seed=1)
    b.set_overload(10.0)
    b.pretend_min_part_hours_passed()
    high = b.rebalance(seed=1)
    counts = parts_of(b)
    assert counts[3] > 0.3 * 256 * 1.5
    assert high.dispersion <= low.dispersion


def test_set_dev_info_and_search():
    b = RingBuilder(4, 1, 0)
    b.add_dev(zone=1, ip="1.2.3.4", port=6200, device="sdb", weight=1)
    b.add_dev(zone=2, ip="1.2.3.5", port=6200, device="sdc", weight=1)
    b.set_dev_info(0, ip="9.9.9.9", meta="moved")
    assert [d["id"] for d in b.search_devs({"ip": "9.9.9.9"})] == [0]
    assert b.devs[0]["meta"] == "moved"
    with pytest.raises(RingBuilderError):
        b.set_dev_info(1, ip="9.9.9.9", device="sdb")
    with pytest.raises(RingBuilderError):
        b.set_dev_info(0, zone=3)
    with pytest.raises(RingBuilderError):
        b.set_dev_weight(7, 1)


def test_validate_catches_double_placement():
    b = RingBuilder(4, 3, 0)
    add_grid(b)
    b.rebalance(seed=1)
    b._rows[1][5] = b._rows[0][5]
    with pytest.raises(RingValidationError):
        b.validate()


def test_list_parts_and_dispersion_report():
    b = RingBuilder(6, 3, 0)
    add_grid(b)
    b.rebalance(seed=1)
    listed = b.list_parts({0, 1})
    assert sum(n for _, n in listed) == parts_of(b)[0] + parts_of(b)[1]
    report = b.dispersion_report()
    zones = [t for t in report["tiers"] if t["level"] == "zone"]
    assert len(zones) == 4 and all(t["max"] == 1 and t["over"] == 0 for t in zones)
    assert all(sum(t["replicas"]) == 64 for t in report["tiers"])


def test_save_load_round_trip(tmp_path):
    b = RingBuilder(6, 2.5, 3)
    add_grid(b)
    b.set_overload(0.1)
    b.rebalance(seed=4)
    b.remove_dev(2)
    path = str(tmp_path / "object.builder")
    b.save(path)
    again = RingBuilder.load(path)
    assert again.to_state()["devs"] == b.to_state()["devs"]
    assert again._rows == b._rows and again._remove_devs == {2}
    assert (again.part_power, again.replicas, again.min_part_hours, again.overload) == (6, 2.5, 3, 0.1)
    assert again._last_part_moves == b._last_part_moves


def test_load_errors(tmp_path):
    with pytest.raises(RingError):
        RingBuilder.load(str(tmp_path / "missing.builder"))
    bad = tmp_path / "bad.builder"
    bad.write_bytes(b"\x93garbage")
    with pytest.raises(RingError):
        RingBuilder.load(str(bad))


def test_ring_path_for():
    assert ring_path_for("/etc/objstore/object.builder") == "/etc/objstore/object.ring.gz"
    assert ring_path_for("odd") == "odd.ring.gz"


def test_write_ring_needs_rebalance(tmp_path):
    b = RingBuilder(4, 3, 0)
    add_grid(b)
    with pytest.raises(RingBuilderError):
        b.write_ring(str(tmp_path / "x.ring.gz"))
    b.rebalance(seed=1)
    b.set_replicas(2)
    with pytest.raises(RingBuilderError):
        b.write_ring(str(tmp_path / "x.ring.gz"))
    assert not os.path.exists(tmp_path / "x.ring.gz")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_distinct_zones_survive_changes(seed):
    b = RingBuilder(9, 3, 0)
    add_grid(b, zones=4, disks=2)
    b.rebalance(seed=seed)
    steps = [
        lambda: b.add_dev(region=1, zone=5, ip="10.1.5.1", port=6200, device="sd0", weight=100),
        lambda: b.set_dev_weight(0, 150),  # no zone above 1/3 of the weight
        lambda: b.remove_dev(3),
        lambda: b.add_dev(region=1, zone=2, ip="10.1.2.7", port=6200, device="sd9", weight=50),
    ]
    for step in steps:
        step()
        b.rebalance(seed=seed)
        b.validate()
        zone_of = {d["id"]: d["zone"] for d in b.devs if d is not None}
        for part in range(512):
            zones = [zone_of[row[part]] for row in b._rows]
            assert len(set(zones)) == 3, (part, zones)
    assert b.get_balance() < 5.0


def test_fewer_replicas_is_a_change():
    b = RingBuilder(6, 3, 24)
    add_grid(b)
    b.rebalance(seed=1)
    b.set_replicas(2)
    result = b.rebalance(seed=1)
    assert result.rows_resized and result.parts_moved == 0
    assert [len(row) for row in b._rows] == [64, 64]
    b.validate()
