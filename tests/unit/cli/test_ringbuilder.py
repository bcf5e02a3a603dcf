"""objstore-ring-builder end to end, through real subprocesses."""

import os
import subprocess
import sys
import xml.dom.minidom

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
ENV = dict(os.environ, PYTHONPATH=REPO)


def rb(builder, *args, shim=False):
    cmd = [sys.executable]
    cmd += [os.path.join(REPO, "ring-tools", "objstore-ring-builder")] if shim else [
        "-m", "objstore.cli.ringbuilder"]
    proc = subprocess.run(cmd + [str(builder)] + [str(a) for a in args],
                          capture_output=True, text=True, env=ENV, timeout=120)
    return proc.returncode, proc.stdout, proc.stderr


def assert_error(result):
    code, out, err = result
    assert code == 2, (code, out, err)
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err


def make_builder(path):
    """In-process setup (the CLI path is covered by test_create_add_rebalance)."""
    from objstore.ring.builder import RingBuilder, ring_path_for

    b = RingBuilder(6, 3, 1)
    b.add_dev(region=1, zone=1, ip="127.0.0.1", port=6200, device="sdb1", weight=100)
    b.add_dev(region=1, zone=2, ip="127.0.0.1", port=6201, device="sdb2", weight=100)
    b.add_dev(region=1, zone=3, ip="127.0.0.1", port=6202, replication_ip="127.0.0.2",
              replication_port=6302, device="sdb3", weight=100, meta="fast")
    b.add_dev(region=1, zone=4, ip="127.0.0.1", port=6203, device="sdb4", weight=100)
    b.rebalance(seed=1)
    b.save(str(path))
    b.write_ring(ring_path_for(str(path)))
    return path


@pytest.fixture
def builder(tmp_path):
    """A builder with 4 devices in 4 zones, rebalanced once (min_part_hours 1)."""
    return make_builder(tmp_path / "object.builder")


def test_create_add_rebalance(tmp_path):
    path = tmp_path / "object.builder"
    assert rb(path, "create", 6, 3, 1)[0] == 0
    code, out, _ = rb(path, "add", "r1z1-127.0.0.1:6200/sdb1", 100, "r1z2-127.0.0.1:6201/sdb2", 100,
                      "r1z3-127.0.0.1:6202R127.0.0.2:6302/sdb3_fast", 100)
    assert code == 0 and "got id 2" in out
    code, out, _ = rb(path, "add", "--region", 1, "--zone", 4, "--ip", "127.0.0.1", "--port", 6203,
                      "--device", "sdb4", "--weight", 100)
    assert code == 0 and "got id 3" in out
    code, out, _ = rb(path, "rebalance", "--seed", 1)
    assert code == 0 and "Reassigned 64 (100.00%) partitions" in out
    assert (tmp_path / "object.ring.gz").exists()
    # the same as the in-process fixture builds
    make_builder(tmp_path / "other.builder")
    assert (tmp_path / "object.ring.gz").read_bytes() == (tmp_path / "other.ring.gz").read_bytes()


def test_shim_runs_main(tmp_path):
    path = tmp_path / "x.builder"
    assert rb(path, "create", 4, 1, 0, shim=True)[0] == 0
    code, out, _ = rb(path, shim=True)
    assert code == 0 and "16 partitions" in out


def test_default_view(builder):
    code, out, _ = rb(builder)
    assert code == 0
    assert "64 partitions, 3.000000 replicas, 1 regions, 4 zones, 4 devices, 0.00 balance" in out
    assert "Ring file object.ring.gz is up-to-date" in out
    assert "127.0.0.2:6302" in out and "fast" in out
    assert out.count("     48 ") >= 0 and "sdb4" in out


def test_rebalance_nothing_to_do_warns(builder):
    before = builder.read_bytes()
    code, out, _ = rb(builder, "rebalance")
    assert code == 1 and "No partitions could be reassigned" in out
    assert builder.read_bytes() == before


def test_weight_change_flow(builder):
    assert rb(builder, "set_weight", "d0", 50)[0] == 0
    code, out, _ = rb(builder)
    assert "Ring file object.ring.gz is obsolete" in out
    # within min_part_hours: nothing may move yet
    assert rb(builder, "rebalance")[0] == 1
    assert rb(builder, "pretend_min_part_hours_passed")[0] == 0
    code, out, _ = rb(builder, "rebalance", "--seed", 2)
    assert code in (0, 1) and "Reassigned" in out
    assert rb(builder, "validate")[0] == 0
    code, out, _ = rb(builder, "search", "d0")
    assert code == 0 and "50.00" in out


def test_search_list_parts_dispersion(builder):
    code, out, _ = rb(builder, "search", "/sdb3")
    assert code == 0 and "sdb3" in out and "sdb1" not in out
    code, out, _ = rb(builder, "search", "r1z2-127.0.0.1:6201/sdb2")
    assert code == 0 and "sdb2" in out
    code, out, _ = rb(builder, "list_parts", "d0", "d1")
    lines = out.strip().splitlines()
    assert code == 0 and lines[0].split() == ["Partition", "Matches"]
    assert sum(int(line.split()[1]) for line in lines[1:]) == 96
    code, out, _ = rb(builder, "dispersion", "--verbose")
    assert code == 0 and "Dispersion is 0.000000" in out and "r1z1" in out


def test_set_info_remove_replicas_overload(builder):
    code, out, _ = rb(builder, "set_info", "d0", "127.0.0.5:6300/sdc1_new")
    assert code == 0 and "127.0.0.5:6300" in out
    assert rb(builder, "set_overload", "10%")[0] == 0
    assert rb(builder, "set_replicas", 2.5)[0] == 0
    code, out, _ = rb(builder, "remove", "/sdb4")
    assert code == 0 and "marked for removal" in out
    code, out, _ = rb(builder, "rebalance")
    assert code in (0, 1) and "Reassigned" in out
    code, out, _ = rb(builder)
    assert "2.500000 replicas" in out and "3 devices" in out and "10.00%" in out
    assert "sdc1" in out and "sdb4" not in out
    assert rb(builder, "validate")[0] == 0


def test_write_ring_and_visualize(builder, tmp_path):
    ring = tmp_path / "object.ring.gz"
    ring.unlink()
    assert rb(builder, "write_ring")[0] == 0 and ring.exists()
    svg = tmp_path / "out.svg"
    code, out, _ = rb(builder, "visualize", "--svg", svg)
    assert code == 0 and "#" in out and "|" in out and "sdb1" in out
    doc = xml.dom.minidom.parse(str(svg))
    assert doc.documentElement.tagName == "svg"
    assert len(doc.getElementsByTagName("rect")) == 5  # background + one bar per device


@pytest.mark.parametrize("args", [
    ("add", "r1z1-127.0.0.1/sdb9", 100),             # malformed device string
    ("add", "bogus", 100),
    ("add", "r1z1-127.0.0.1:6210/sdb9"),              # missing weight
    ("add", "r1z1-127.0.0.1:6210/sdb9", 0),          # weight <= 0
    ("add", "r1z1-127.0.0.1:6210/sdb9", -3),
    ("add", "r1z1-127.0.0.1:6210/sdb9", "heavy"),
    ("add", "r1z1-127.0.0.1:6210/sdb9", 10, "r1z1-127.0.0.1:6211/x", 0),  # second one bad
    ("add", "r1z1-127.0.0.1:6200/sdb1", 100),        # duplicate
    ("add", "--zone", 1, "--ip", "127.0.0.1", "--device", "x", "--weight", 1),  # no port
    ("set_weight", "d99", 10),                        # unknown device id
    ("set_weight", "d0", -1),
    ("set_weight", "d0"),
    ("set_info", "d99", "/x"),
    ("set_info", "d0", ""),
    ("remove", "d99"),
    ("search", "d99"),
    ("search", "???"),
    ("list_parts", "d42"),
    ("set_overload", "lots"),
    ("set_overload", "-5%"),
    ("set_replicas", 0),
    ("set_min_part_hours", "soon"),
    ("rebalance", "--seed", "x"),
    ("frobnicate",),                                  # unknown command
    ("create", 8, 3, 1),                              # already exists
])
def test_bad_input_is_one_line_exit_2_and_untouched(builder, args):
    before = builder.read_bytes()
    assert_error(rb(builder, *args))
    assert builder.read_bytes() == before


def test_fewer_devices_than_replicas(tmp_path):
    path = tmp_path / "small.builder"
    assert rb(path, "create", 4, 3, 1)[0] == 0
    assert rb(path, "add", "r1z1-127.0.0.1:6200/sdb1", 1, "r1z2-127.0.0.1:6200/sdb2", 1)[0] == 0
    before = path.read_bytes()
    assert_error(rb(path, "rebalance"))
    assert path.read_bytes() == before
    assert not (tmp_path / "small.ring.gz").exists()
    assert_error(rb(path, "write_ring"))
    assert_error(rb(path, "validate"))
    assert path.read_bytes() == before


def test_missing_builder(tmp_path):
    path = tmp_path / "missing.builder"
    for args in ((), ("add", "r1z1-127.0.0.1:6200/sdb1", 1), ("rebalance",)):
        assert_error(rb(path, *args))
    assert not path.exists()


def test_corrupt_builder(tmp_path):
    path = tmp_path / "corrupt.builder"
    path.write_bytes(b"\x93\xa3os1\x01\xc1 definitely not a builder")
    before = path.read_bytes()
    for args in ((), ("add", "r1z1-127.0.0.1:6200/sdb1", 1), ("rebalance",), ("validate",)):
        assert_error(rb(path, *args))
    assert path.read_bytes() == before


@pytest.mark.parametrize("args", [("create", 8, 3), ("create", "x", 3, 1), ("create", 8, 3, -1),
                                  ("create", 40, 3, 1)])
def test_bad_create(tmp_path, args):
    path = tmp_path / "new.builder"
    assert_error(rb(path, *args))
    assert not path.exists()


def test_usage(tmp_path):
    code, out, _ = rb("--help")
    assert code == 0 and "rebalance" in out


def test_fewer_replicas_takes_effect(builder):
    assert rb(builder, "set_replicas", 2)[0] == 0
    code, out, _ = rb(builder, "rebalance")
    assert code in (0, 1) and "Reassigned 0 " in out  # 1: balance waits for min_part_hours
    code, out, _ = rb(builder)
    assert "2.000000 replicas" in out and "up-to-date" in out
