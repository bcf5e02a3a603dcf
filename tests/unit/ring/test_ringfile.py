"""Ring and builder file encodings: round trips, compact tables, corruption."""

import array
import gzip

import pytest

from objstore.common import encoding
from objstore.common.exceptions import RingError
from objstore.ring import ringfile

DEVS = [
    {"id": 0, "region": 1, "zone": 1, "ip": "127.0.0.1", "port": 6200, "replication_ip": "127.0.0.1",
     "replication_port": 6200, "device": "sdb1", "weight": 1.0, "meta": ""},
    None,
    {"id": 2, "region": 1, "zone": 2, "ip": "::1", "port": 6201, "replication_ip": "::1",
     "replication_port": 6201, "device": "sdb2", "weight": 2.0, "meta": "m"},
]


def test_ring_round_trip_compact():
    rows = [array.array("i", [0, 2, 0, 2]), array.array("i", [2, 0, 2, 0]), array.array("i", [0, 2])]
    data = ringfile.encode_ring(2, 2.5, DEVS, rows, version=7)
    body, back = ringfile.decode_ring(data)
    assert [r.typecode for r in back] == ["H", "H", "H"]
    assert [list(r) for r in back] == [[0, 2, 0, 2], [2, 0, 2, 0], [0, 2]]
    assert body["devs"] == DEVS and body["replica_count"] == 2.5 and body["version"] == 7
    assert ringfile.encode_ring(2, 2.5, DEVS, rows, version=7) == data  # deterministic


def test_ring_wide_ids_use_four_bytes():
    devs = [None] * 70000
    devs[69999] = dict(DEVS[0], id=69999)
    body, back = ringfile.decode_ring(ringfile.encode_ring(1, 1, devs, [array.array("i", [69999, 69999])]))
    assert back[0].typecode == "I" and list(back[0]) == [69999, 69999]


def test_ring_refuses_unassigned():
    with pytest.raises(RingError):
        ringfile.encode_ring(1, 1, DEVS, [array.array("i", [0, -1])])


@pytest.mark.parametrize("data", [
    b"junk",
    gzip.compress(b"junk"),
    gzip.compress(encoding.pack({"part_power": 1}, version=1)),
    gzip.compress(encoding.pack({"x": 1}, version=9)),
])
def test_ring_corrupt(data):
    with pytest.raises(RingError):
        ringfile.decode_ring(data)


def test_ring_unknown_device_in_table():
    body = {"part_power": 1, "replica_count": 1.0, "devs": DEVS[:1], "itemsize": 2,
            "rows": [array.array("H", [0, 5]).tobytes()]}
    with pytest.raises(RingError):
        ringfile.decode_ring(gzip.compress(encoding.pack(body, version=1)))


def test_builder_round_trip():
    state = {"part_power": 2, "replicas": 3.0, "min_part_hours": 1, "overload": 0.0,
             "version": 2, "devs": DEVS, "remove_devs": [], "seed": 3,
             "rows": [array.array("i", [0, 2, -1, 0])], "dispersion": 0.0,
             "last_part_moves": bytearray([0, 1, 2, 255]), "last_part_moves_epoch": 100}
    back = ringfile.decode_builder(ringfile.encode_builder(state))
    assert back["rows"] == state["rows"] and back["last_part_moves"] == state["last_part_moves"]
    assert back["devs"] == DEVS


@pytest.mark.parametrize("data", [
    b"",
    b"\x00\x01",
    encoding.pack([1, 2, 3]),
    encoding.pack({"part_power": 2, "replicas": 3, "min_part_hours": 1, "devs": [],
                   "last_part_moves": b"\x00"}),
])
def test_builder_corrupt(data):
    with pytest.raises(RingError):
        ringfile.decode_builder(data)
