"""The object auditor on real temp devices: good objects pass, corrupt ones
are quarantined, old tombstones are reclaimed, rate limits are honoured."""

import hashlib
import os

import pytest

from objstore.common.timestamp import Timestamp
from objstore.obj import hashes
from objstore.obj.auditor import AuditorConfig, ObjectAuditor, audit_object, object_dirs
from objstore.obj.diskfile import DiskFileManager


def put(manager, name, body, timestamp=None, device="sdb1", part=0):
    df = manager.get_diskfile(device, part, "a", "c", name)
    timestamp = timestamp or Timestamp.now()
    with df.writer(len(body)) as writer:
        writer.write(body)
        writer.put({"name": "/a/c/%s" % name, "X-Timestamp": timestamp.internal, "Content-Length": str(len(body)),
                    "ETag": hashlib.md5(body).hexdigest(), "Content-Type": "text/plain"})
    return df


@pytest.fixture
def node(tmp_path, objstore_conf, capture):
    devices = tmp_path / "devices"
    (devices / "sdb1").mkdir(parents=True)
    logger, handler = capture
    manager = DiskFileManager(str(devices), False, logger)
    return devices, manager, logger, handler


def _auditor(devices, logger, **kw):
    config = AuditorConfig(devices=str(devices), mount_check=False, files_per_second=0, bytes_per_second=0,
                           zero_byte_files_per_second=0, **kw)
    return ObjectAuditor(config, logger)


def _data_file(df):
    return os.path.join(df.hash_dir, [n for n in os.listdir(df.hash_dir) if n.endswith(".data")][0])


def test_good_objects_pass(node):
    devices, manager, logger, _ = node
    put(manager, "o1", b"hello")
    put(manager, "o2", b"")
    stats = _auditor(devices, logger).run_pass()
    assert stats["objects_checked"] == 2
    assert stats["quarantined"] == 0
    assert stats["bytes_read"] == 5


def test_flipped_byte_is_quarantined(node):
    devices, manager, logger, handler = node
    df = put(manager, "o1", b"hello world")
    path = _data_file(df)
    with open(path, "r+b") as handle:
        handle.seek(3)
        handle.write(b"X")
    part_path = df.partition_path
    before = hashes.get_hashes(part_path)
    stats = _auditor(devices, logger).run_pass()
    assert stats["quarantined"] == 1
    assert not os.path.exists(df.hash_dir)
    quarantined = devices / "sdb1" / "quarantined" / "objects"
    assert os.listdir(quarantined) == [df.name_hash]
    assert hashes.get_hashes(part_path) != before  # the replicator will notice
    assert any("quarantined" in line for line in handler.lines())


def test_truncated_data_is_quarantined(node):
    devices, manager, logger, _ = node
    df = put(manager, "o1", b"0123456789")
    path = _data_file(df)
    with open(path, "r+b") as handle:
        handle.truncate(4)
    assert _auditor(devices, logger).run_pass()["quarantined"] == 1


def test_zero_byte_pass_skips_bodies(node):
    devices, manager, logger, _ = node
    df = put(manager, "big", b"abc")
    with open(_data_file(df), "r+b") as handle:
        handle.write(b"X")
    put(manager, "empty", b"")
    stats = _auditor(devices, logger, zero_byte_only=True).run_pass()
    assert stats["objects_checked"] == 1
    assert stats["quarantined"] == 0
    assert stats["bytes_read"] == 0


def test_old_tombstones_are_reclaimed(node):
    devices, manager, logger, _ = node
    df = manager.get_diskfile("sdb1", 0, "a", "c", "gone")
    df.delete(Timestamp(1000000000))
    df2 = manager.get_diskfile("sdb1", 0, "a", "c", "recent")
    df2.delete(Timestamp.now())
    stats = _auditor(devices, logger).run_pass()
    assert stats["tombstones_reclaimed"] == 1
    assert not os.path.exists(df.hash_dir)
    assert os.listdir(df2.hash_dir)


def test_walk_and_partition_filter(node):
    devices, manager, logger, _ = node
    put(manager, "o1", b"x", part=1)
    put(manager, "o2", b"y", part=2)
    found = list(object_dirs(str(devices / "sdb1"), [2]))
    assert [part for part, _s, _h in found] == [2]
    assert _auditor(devices, logger).run_pass(partitions=[1])["objects_checked"] == 1


def test_audit_object_reports_missing_metadata(node):
    devices, manager, logger, _ = node
    df = put(manager, "o1", b"data")
    path = _data_file(df)
    for key in os.listxattr(path):
        os.removexattr(path, key)
    info = hashes.gather_files(os.listdir(df.hash_dir))
    verdict, _read, reason = audit_object(df.hash_dir, info)
    assert verdict == "bad" and "metadata" in reason


def test_rate_limits_sleep(node):
    devices, manager, logger, _ = node
    for index in range(5):
        put(manager, "o%d" % index, b"z" * 100)
    slept = []
    clock = [0.0]

    def sleep(seconds):
        slept.append(seconds)
        clock[0] += seconds

    config = AuditorConfig(devices=str(devices), mount_check=False, files_per_second=2, bytes_per_second=0)
    auditor = ObjectAuditor(config, logger, clock=lambda: clock[0], sleep=sleep)
    auditor.run_pass()
    assert sum(slept) == pytest.approx(2.5, abs=0.01)  # 5 objects at 2/s
