"""The replicated-write reference (benchmarks/fanout.py) on real processes,
real sockets on 127.0.0.1 and real fsyncs in a temp dir."""

import os
import socket

import pytest

from benchmarks import fanout, host


def test_measure_sends_bodies_through_the_relay_to_three_fsynced_writers(tmp_path):
    devices, work = tmp_path / "devices", tmp_path / "work"
    devices.mkdir()
    work.mkdir()
    mb_per_s = fanout.measure(str(devices), str(work), mib=4, rounds=2)
    assert mb_per_s > 0
    assert os.listdir(devices) == []  # the writers' directories are removed afterwards


def test_a_relay_without_a_quorum_of_writers_fails_the_put(tmp_path):
    base = host.free_port_block(4, start=29300)
    ports = list(range(base, base + 4))
    log = str(tmp_path / "log")
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    env = dict(os.environ, PYTHONPATH=repo)
    import sys

    pids = [host.launch([sys.executable, "-m", "benchmarks.fanout", "writer", str(tmp_path), str(ports[1])], log, env),
            host.launch([sys.executable, "-m", "benchmarks.fanout", "relay", str(ports[0]), str(ports[1]),
                         str(ports[2]), str(ports[3])], log, env)]  # writers 2 and 3 never started
    try:
        host.wait_tcp(ports[0])
        host.wait_tcp(ports[1])
        with pytest.raises(host.BenchSetupError):
            fanout.put_once(ports[0], b"x" * 1000)
        assert [name for name in os.listdir(tmp_path) if name.startswith("body-")] == []
        # the writer that was reached still serves: a 3-writer relay on it alone fails again
        with pytest.raises(host.BenchSetupError):
            fanout.put_once(ports[0], b"y" * 10)
    finally:
        host.stop_pids(pids)


def test_the_port_probe_does_not_stop_a_writer(tmp_path):
    base = host.free_port_block(1, start=29400)
    import sys

    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    pid = host.launch([sys.executable, "-m", "benchmarks.fanout", "writer", str(tmp_path), str(base)],
                      str(tmp_path / "log"), dict(os.environ, PYTHONPATH=repo))
    try:
        host.wait_tcp(base)  # connects and closes at once
        sock = socket.create_connection(("127.0.0.1", base))
        sock.sendall(fanout.HEADER.pack(5) + b"hello")
        assert sock.recv(1) == b"1"
        sock.close()
    finally:
        host.stop_pids([pid])


def test_add_fanout_round_keeps_every_round_and_their_median(tmp_path):
    from benchmarks import references

    devices, work = tmp_path / "devices", tmp_path / "work"
    devices.mkdir()
    work.mkdir()
    refs = {"dd_fsync_mb_per_s": 500.0}
    first = references.add_fanout_round(refs, str(devices), str(work), 2)
    assert refs["fanout_rounds"] == [first] and refs["fanout_put_mb_per_s"] == first
    references.add_fanout_round(refs, str(devices), str(work), 2)
    references.add_fanout_round(refs, str(devices), str(work), 2)
    assert len(refs["fanout_rounds"]) == 3
    assert refs["fanout_put_mb_per_s"] == sorted(refs["fanout_rounds"])[1]
    assert refs["dd_fsync_mb_per_s"] == 500.0
