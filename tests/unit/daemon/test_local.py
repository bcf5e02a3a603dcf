"""Which ring devices are this node's."""

from objstore.daemon import local

DEVS = [
    {"id": 0, "ip": "127.0.0.1", "port": 6010, "device": "sdb1"},
    {"id": 1, "ip": "127.0.0.1", "port": 6020, "device": "sdb2"},
    None,
    {"id": 3, "ip": "10.0.0.5", "port": 6010, "device": "sdb3"},
    {"id": 4, "ip": "10.9.9.9", "port": 6000, "device": "sdb4",
     "replication_ip": "127.0.0.1", "replication_port": 6010},
]


def test_port_separates_nodes_on_one_machine():
    found = local.local_devices(DEVS, bind_port=6010, addresses={"127.0.0.1"})
    assert [dev["id"] for dev in found] == [0, 4]


def test_any_port_and_device_filter():
    found = local.local_devices(DEVS, addresses={"127.0.0.1", "10.0.0.5"})
    assert [dev["id"] for dev in found] == [0, 1, 3, 4]
    found = local.local_devices(DEVS, addresses={"127.0.0.1", "10.0.0.5"}, only=["sdb3"])
    assert [dev["id"] for dev in found] == [3]


def test_bind_ip_narrows_the_addresses():
    assert local.my_addresses("10.0.0.5") == {"10.0.0.5"}
    assert "127.0.0.1" in local.my_addresses("0.0.0.0")
    found = local.local_devices(DEVS, bind_ip="10.0.0.5", bind_port=6010)
    assert [dev["id"] for dev in found] == [3]


def test_ambiguous_devices_are_refused():
    import pytest

    from objstore.common.exceptions import ConfigError

    devs = [{"id": 0, "ip": "127.0.0.1", "port": 6010, "device": "d1"},
            {"id": 1, "ip": "127.0.0.1", "port": 6020, "device": "d1"}]
    with pytest.raises(ConfigError, match="bind_port"):
        local.local_devices(devs, addresses={"127.0.0.1"})
    assert [d["id"] for d in local.local_devices(devs, bind_port=6020, addresses={"127.0.0.1"})] == [1]
