"""The all-in-one's plan: settings, ports, process names, config files that
the real programs load, tempauth users, secrets kept, rings built once."""

import os

import pytest

from objstore.cli import catalog, layout
from objstore.common.config import read_ini
from objstore.common.exceptions import ConfigError
from objstore.ring import Ring


def test_default_data_dir(tmp_path):
    assert layout.default_data_dir({"XDG_DATA_HOME": "/xdg"}) == "/xdg/objstore"
    assert layout.default_data_dir({}).endswith(os.path.join(".local", "share", "objstore"))


def test_storage_ports_are_one_contiguous_range():
    settings = layout.Settings("/d", base_port=7000, nodes=4)
    ports = sorted(layout.storage_port(settings, kind, node)
                   for kind in layout.STORAGE_KINDS for node in range(1, 5))
    assert ports == list(range(7000, 7012))
    assert layout.storage_port(settings, "object", 1) == 7000
    assert layout.storage_port(settings, "account", 4) == 7011


@pytest.mark.parametrize("changes,words", [
    ({"replicas": 5}, "--replicas"),
    ({"nodes": 0}, "--nodes"),
    ({"port": 70000}, "--port"),
    ({"port": 7003, "base_port": 7000}, "falls in the storage ports 7000-7011"),
    ({"base_port": 65530}, "no room"),
])
def test_impossible_settings(changes, words):
    with pytest.raises(ConfigError) as err:
        layout.Settings("/d", **changes).validate()
    assert words in str(err.value)


def test_settings_round_trip(tmp_path):
    assert layout.load_settings(str(tmp_path)) is None
    settings = layout.Settings(str(tmp_path), port=9, base_port=7000, nodes=2, replicas=2)
    layout.save_settings(settings)
    assert layout.load_settings(str(tmp_path)) == settings
    (tmp_path / layout.STATE_FILE).write_text("{not json")
    with pytest.raises(ConfigError):
        layout.load_settings(str(tmp_path))


def test_process_names_and_order():
    programs = [catalog.BY_NAME[name] for name in ("object-server", "proxy-server", "object-replicator")]
    procs = layout.processes(layout.Settings("/d", nodes=2), programs)
    assert [p.name for p in procs] == ["object-server-1", "object-server-2", "proxy-server",
                                       "node-daemons-1", "node-daemons-2"]  # one process runs a node's daemons
    assert procs[1].port == 6203 and procs[2].port == 8080 and procs[3].port is None
    assert procs[1].conf_file == "/d/etc/node2/object-server.conf"
    assert procs[4].conf_file == "/d/etc/node2"  # the node's config files, each daemon's section in its kind's
    replicators = layout.node_procs(layout.Settings("/d", nodes=2), catalog.BY_NAME["object-replicator"])
    assert [p.conf_file for p in replicators] == ["/d/etc/node1/object-server.conf", "/d/etc/node2/object-server.conf"]
    assert [p.name for p in replicators] == ["object-replicator-1", "object-replicator-2"]
    no_daemons = layout.processes(layout.Settings("/d", nodes=2), programs[:2])
    assert [p.name for p in no_daemons] == ["object-server-1", "object-server-2", "proxy-server"]
    assert procs[2].pid_file == "/d/run/proxy-server.pid" and procs[2].log_file == "/d/logs/proxy-server.log"


def test_tempauth_users_are_the_swift_aio_ones():
    users = layout.tempauth_users()
    assert users["user_test_tester"] == "testing .admin"
    assert users["user_test_tester3"] == "testing3"
    assert users["user_test2_tester2"] == "testing2 .admin"
    assert users["user_test5_tester5"] == "testing5"
    assert users["user_admin_admin"] == "admin .reseller_admin"
    assert len(users) == 6


def test_generated_configs_load_in_every_program_of_this_build(tmp_path):
    settings = layout.Settings(str(tmp_path), nodes=2, replicas=2)
    available = catalog.available()
    layout.write_configs(settings, available)
    for program, module in available:
        for node in ((None,) if program.kind == "proxy" else (1, 2)):
            path = layout.conf_file(str(tmp_path), program, node)
            config = catalog.load_config(program, module, path)
            if program.kind != "proxy" and hasattr(config, "devices"):
                assert config.devices == layout.devices_dir(str(tmp_path), node)
                assert config.mount_check is False
            if hasattr(config, "bind_port") and program.server:
                assert config.bind_port == (8080 if node is None else layout.storage_port(settings, program.kind, node))
    assert os.path.isdir(os.path.join(layout.devices_dir(str(tmp_path), 2), layout.DEVICE))
    proxy = read_ini(str(tmp_path / "etc" / "proxy-server.conf"))
    assert proxy["proxy-server"]["account_autocreate"] == "true"
    assert proxy["pipeline:main"]["pipeline"].split()[-1] == "proxy-server"
    assert "tempauth" in proxy["pipeline:main"]["pipeline"]
    assert proxy["filter:tempauth"]["user_test_tester"] == "testing .admin"


def test_server_section_is_written_even_before_its_server_lands(tmp_path):
    settings = layout.Settings(str(tmp_path), nodes=1, replicas=1)
    text = layout.storage_conf_text(settings, "object", 1, [])
    section = dict(line.split(" = ") for line in text.split("[object-server]")[1].strip().splitlines())
    assert section["devices"] == layout.devices_dir(str(tmp_path), 1) and section["bind_port"] == "6200"


def test_secrets_are_generated_once(tmp_path):
    path = layout.ensure_secrets(str(tmp_path))
    first = read_ini(path)["objstore-hash"]
    assert len(first["hash_path_prefix"]) == 32 and first["hash_path_prefix"] != first["hash_path_suffix"]
    layout.ensure_secrets(str(tmp_path))
    assert read_ini(path)["objstore-hash"] == first


def test_rings_are_built_once_with_a_zone_per_node(tmp_path, objstore_conf):
    settings = layout.Settings(str(tmp_path), nodes=4, replicas=3)
    assert layout.build_rings(settings) == ["account", "container", "object"]
    ring = Ring(os.path.join(layout.ring_dir(str(tmp_path)), "object.ring.gz"))
    assert ring.replica_count == 3 and ring.partition_count == 1024
    assert sorted((d["zone"], d["port"], d["device"]) for d in ring.devs) == [
        (1, 6200, "d1"), (2, 6203, "d1"), (3, 6206, "d1"), (4, 6209, "d1")]
    _part, nodes = ring.get_nodes("AUTH_test", "c", "o")
    assert len({node["zone"] for node in nodes}) == 3
    before = os.stat(os.path.join(layout.ring_dir(str(tmp_path)), "object.ring.gz")).st_mtime_ns
    assert layout.build_rings(settings) == []
    assert os.stat(os.path.join(layout.ring_dir(str(tmp_path)), "object.ring.gz")).st_mtime_ns == before
    os.unlink(os.path.join(layout.ring_dir(str(tmp_path)), "account.ring.gz"))
    assert layout.build_rings(settings) == ["account"]  # rewritten from its builder


def test_the_process_table_is_recorded(tmp_path):
    settings = layout.Settings(str(tmp_path), nodes=1, replicas=1)
    table = layout.processes(settings, [catalog.BY_NAME["object-server"], catalog.BY_NAME["object-auditor"]])
    assert layout.load_processes(str(tmp_path)) is None
    layout.save_settings(settings, table)
    assert layout.load_processes(str(tmp_path)) == table
