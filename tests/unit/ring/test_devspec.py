"""Device strings, search values and change values."""

import pytest

from objstore.common.exceptions import RingBuilderError
from objstore.ring import devspec


def test_parse_add_value_full():
    assert devspec.parse_add_value("r2z3-10.0.0.1:6200R10.0.1.1:6300/sdb1_ssd fast") == {
        "region": 2, "zone": 3, "ip": "10.0.0.1", "port": 6200, "replication_ip": "10.0.1.1",
        "replication_port": 6300, "device": "sdb1", "meta": "ssd fast"}


def test_parse_add_value_defaults_and_ipv6():
    dev = devspec.parse_add_value("z1-[::1]:6200/sdb1")
    assert dev == {"region": 1, "zone": 1, "ip": "::1", "port": 6200, "replication_ip": "::1",
                   "replication_port": 6200, "device": "sdb1", "meta": ""}


@pytest.mark.parametrize("text", [
    "r1z1-127.0.0.1/sdb1", "r1z1-127.0.0.1:6200", "r1-127.0.0.1:6200/sdb1", "garbage", "",
    "r1z1-127.0.0.1:port/sdb1",
])
def test_parse_add_value_rejects(text):
    with pytest.raises(RingBuilderError):
        devspec.parse_add_value(text)


@pytest.mark.parametrize("text,expected", [
    ("d3", {"id": 3}),
    ("r1z2", {"region": 1, "zone": 2}),
    ("127.0.0.1", {"ip": "127.0.0.1"}),
    ("/sdb1", {"device": "sdb1"}),
    (":6200", {"port": 6200}),
    ("_meta", {"meta": "meta"}),
    ("r1z1-127.0.0.1:6200/sdb1", {"region": 1, "zone": 1, "ip": "127.0.0.1", "port": 6200,
                                  "device": "sdb1"}),
    ("d1r1z1-127.0.0.1:6200R127.0.0.2:6300/sdb1_m", {
        "id": 1, "region": 1, "zone": 1, "ip": "127.0.0.1", "port": 6200,
        "replication_ip": "127.0.0.2", "replication_port": 6300, "device": "sdb1", "meta": "m"}),
    ("-storage1.example.com", {"ip": "storage1.example.com"}),
])
def test_parse_search_value(text, expected):
    assert devspec.parse_search_value(text) == expected


@pytest.mark.parametrize("text", ["", "x y", "d"])
def test_parse_search_value_rejects(text):
    with pytest.raises(RingBuilderError):
        devspec.parse_search_value(text)


def test_parse_change_value():
    assert devspec.parse_change_value("10.0.0.2:6201R10.0.1.2:6301/sdc_new") == {
        "ip": "10.0.0.2", "port": 6201, "replication_ip": "10.0.1.2", "replication_port": 6301,
        "device": "sdc", "meta": "new"}
    assert devspec.parse_change_value("/sdd") == {"device": "sdd"}
    with pytest.raises(RingBuilderError):
        devspec.parse_change_value("")


def test_matches_and_format():
    dev = {"id": 1, "region": 1, "zone": 2, "ip": "::1", "port": 6200, "replication_ip": "::1",
           "replication_port": 6200, "device": "sdb", "meta": ""}
    assert devspec.matches(dev, {"zone": 2, "device": "sdb"})
    assert not devspec.matches(dev, {"zone": 3})
    assert devspec.format_dev(dev) == "d1 r1z2-[::1]:6200/sdb"
    text = devspec.format_dev(dict(dev, replication_port=6300, meta="x")).split(" ", 1)[1]
    assert devspec.parse_add_value(text)["replication_port"] == 6300
