"""The configs the harness writes for Swift, worker counts read back from
objstore-aio's configs, and memory figures of a real process."""

import configparser
import os

from benchmarks import memory, objstore_aio, swift_aio


def _parse(text):
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text)
    return parser


def test_swift_proxy_conf_declares_every_filter_of_its_pipeline():
    for pipeline in swift_aio.PIPELINES:
        conf = _parse(swift_aio.proxy_conf("/etc/x", 8080, 11211, 514, pipeline, workers=1))
        names = conf.get("pipeline:main", "pipeline").split()
        assert names[-1] == "proxy-server" and "tempauth" in names
        for name in names[:-1]:
            assert conf.has_section("filter:%s" % name), name
        assert conf.get("DEFAULT", "workers") == "1"
        assert conf.get("filter:cache", "memcache_servers") == "127.0.0.1:11211"
        assert conf.get("filter:tempauth", "user_test_tester") == "testing .admin"


def test_swift_storage_conf_workers_and_devices():
    conf = _parse(swift_aio.storage_conf("object", "/etc/x", "/srv/node1", 6200, 514, workers=0))
    assert conf.get("DEFAULT", "workers") == "0"
    assert conf.get("DEFAULT", "devices") == "/srv/node1"
    assert conf.get("DEFAULT", "mount_check") == "false"
    assert conf.get("app:object-server", "use") == "egg:swift#object"


def test_worker_counts_read_back(tmp_path):
    os.makedirs(tmp_path / "etc" / "node1")
    (tmp_path / "etc" / "proxy-server.conf").write_text("[proxy-server]\nworkers = 2\n")
    (tmp_path / "etc" / "node1" / "object-server.conf").write_text("[object-server]\nworkers = 0\n")
    (tmp_path / "etc" / "node1" / "container-server.conf").write_text("[container-server]\nbind_port = 1\n")
    counts = objstore_aio.read_worker_counts(str(tmp_path))
    assert counts == {"proxy": 2, "object": 0, "container": 1, "account": 1}


def test_cluster_memory_of_this_process():
    figures = memory.cluster_memory([os.getpid(), 2 ** 22 + 12345])  # the second pid does not exist
    assert figures["processes"] == 1
    assert figures["rss_mib"] > 0 and 0 < figures["pss_mib"] <= figures["rss_mib"]


def test_cpu_meter_counts_this_process():
    from benchmarks import cpu

    with cpu.CpuMeter(lambda: [os.getpid()]) as meter:
        total = 0
        while cpu.process_cpu_seconds(os.getpid()) < meter._start + 0.05:
            total += sum(range(1000))
    assert meter.seconds >= 0.05 - 1e-9  # clock ticks summed as floats
    assert cpu.process_cpu_seconds(2 ** 22 + 12345) == 0.0
