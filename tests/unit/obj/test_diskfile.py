"""DiskFileManager / DiskFile / writer / reader on real temp dirs, real
xattrs, and a real full disk (loop-mounted) or an injected ENOSPC."""

import errno
import io
import os
import zlib

import pytest

from objstore.common import encoding
from objstore.common.exceptions import (
    DiskFileCollision,
    DiskFileDeleted,
    DiskFileExpired,
    DiskFileNoSpace,
    DiskFileNotFound,
    DiskFileQuarantined,
    InsufficientStorage,
)
from objstore.common.timestamp import Timestamp
from objstore.obj import diskfile as d
from objstore.web.app import Request

T1, T2, T3 = (Timestamp(1700000000 + i) for i in range(1, 4))


def test_parse_reserve_and_space_ok():
    assert d.parse_reserve("0") == (0, False)
    assert d.parse_reserve("1048576") == (1048576, False)
    assert d.parse_reserve(" 2.5% ") == (2.5, True)
    for bad in ("x", "-1", "101%"):
        with pytest.raises(ValueError):
            d.parse_reserve(bad)
    # 100 blocks of 10 bytes, 50 free
    assert d.space_ok(50, 10, 100, 0, 400, False)
    assert not d.space_ok(50, 10, 100, 200, 400, False)
    assert d.space_ok(50, 10, 100, 0, 50, True)
    assert not d.space_ok(50, 10, 100, 10, 50, True)


def test_merge_metadata():
    data = {"name": "/a/c/o", "ETag": "e", "Content-Length": "1", "Content-Type": "t", "X-Timestamp": "1",
            "X-Object-Meta-A": "a", "Content-Encoding": "gzip", "X-Object-Sysmeta-S": "s"}
    assert d.merge_metadata(data, None) == data
    assert d.merge_metadata(data, {"X-Timestamp": "2", "X-Object-Meta-B": "b"}) == {
        "name": "/a/c/o", "ETag": "e", "Content-Length": "1", "Content-Type": "t", "X-Timestamp": "2",
        "X-Object-Sysmeta-S": "s", "X-Object-Meta-B": "b"}


def test_async_pending_name():
    assert d.async_pending_name("f" * 29 + "abc", "1700000000.5") == "abc/%s-1700000000.50000" % ("f" * 29 + "abc")


def _write(df, body, timestamp, **extra):
    with df.writer(len(body)) as writer:
        writer.write(body)
        meta = {"X-Timestamp": timestamp.internal, "Content-Length": str(writer.bytes_written),
                "ETag": writer.etag, "Content-Type": "text/plain"}
        meta.update(extra)
        writer.put(meta)


def test_write_open_read(manager, devices):
    df = manager.get_diskfile("sda", 3, "a", "c", "o")
    with pytest.raises(DiskFileNotFound):
        df.open()
    assert df.state() == (None, False)
    _write(df, b"x" * 150000, T1)
    df = manager.get_diskfile("sda", 3, "a", "c", "o").open()
    assert df.data_timestamp == T1 and df.timestamp == T1 and df.content_length == 150000
    assert df.metadata["name"] == "/a/c/o"
    reader = df.reader()
    assert b"".join(reader) == b"x" * 150000
    reader.close()
    assert df.state() == (T1, False)
    # by hash, as the replicator and auditor see it
    by_hash = manager.get_diskfile_from_hash("sda", 3, df.name_hash).open()
    assert by_hash.metadata == df.metadata
    by_hash.close()


def test_big_body_with_writeback_and_big_chunks(devices, capture):
    # more than WRITEBACK_EVERY in uneven chunks: the writer starts writeback on
    # the way; a 1 MiB-chunk reader gives the body back whole and verified
    manager = d.DiskFileManager(devices, False, capture[0], disk_chunk_size=1048576)
    body = os.urandom(d.WRITEBACK_EVERY + 3 * 1048576 + 500000)
    df = manager.get_diskfile("sda", 3, "a", "c", "big")
    with df.writer(len(body)) as writer:
        for start in range(0, len(body), 700001):
            writer.write(body[start:start + 700001])
        assert writer._written_back >= d.WRITEBACK_EVERY
        writer.put({"X-Timestamp": T1.internal, "Content-Length": str(writer.bytes_written),
                    "ETag": writer.etag, "Content-Type": "text/plain"})
    reader = manager.get_diskfile("sda", 3, "a", "c", "big").open().reader()
    chunks = list(reader)
    reader.close()
    assert b"".join(chunks) == body
    assert len(chunks[-1]) == d.VERIFY_HOLD  # only the tail waited for the md5


def test_corrupt_single_chunk_object_sends_all_but_the_tail(devices, capture):
    manager = d.DiskFileManager(devices, False, capture[0], disk_chunk_size=1048576)
    body = os.urandom(500000)
    _write(manager.get_diskfile("sda", 3, "a", "c", "o"), body, T1)
    df = manager.get_diskfile("sda", 3, "a", "c", "o").open()
    (data_name,) = [name for name in os.listdir(df.hash_dir) if name.endswith(".data")]
    with open(os.path.join(df.hash_dir, data_name), "r+b") as handle:
        handle.seek(7)
        handle.write(bytes([body[7] ^ 1]))
    reader = df.reader()
    got = []
    with pytest.raises(DiskFileQuarantined):
        for chunk in reader:
            got.append(chunk)
    reader.close()
    assert len(b"".join(got)) == len(body) - d.VERIFY_HOLD


def _flip_byte(df, offset):
    (data_name,) = [name for name in os.listdir(df.hash_dir) if name.endswith(".data")]
    with open(os.path.join(df.hash_dir, data_name), "r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)
        handle.seek(offset)
        handle.write(bytes([byte[0] ^ 1]))


def _read_all(df):
    reader = df.reader()
    try:
        return b"".join(reader)
    finally:
        reader.close()


def test_full_reads_check_the_stored_crc32(manager, devices):
    body = os.urandom(300000)
    _write(manager.get_diskfile("sda", 3, "a", "c", "o"), body, T1)
    df = manager.get_diskfile("sda", 3, "a", "c", "o").open()
    assert df.data_metadata[d.CRC_KEY] == "%08x" % zlib.crc32(body)
    assert _read_all(df) == body
    _flip_byte(df, 123456)  # same length: only a checksum can tell
    df = manager.get_diskfile("sda", 3, "a", "c", "o").open()
    with pytest.raises(DiskFileQuarantined) as info:
        _read_all(df)
    assert "crc32" in str(info.value)
    (moved,) = os.listdir(os.path.join(devices, "sda", "quarantined", "objects"))
    assert moved.startswith(df.name_hash)
    with pytest.raises(DiskFileNotFound):
        manager.get_diskfile("sda", 3, "a", "c", "o").open()


def test_an_object_without_a_crc_is_checked_against_its_etag(manager):
    """Objects written before the CRC existed (or by another writer) still get
    the md5 check."""
    body = os.urandom(200000)
    df = manager.get_diskfile("sda", 3, "a", "c", "old")
    _write(df, body, T1)
    df = manager.get_diskfile("sda", 3, "a", "c", "old").open()
    (data_name,) = [name for name in os.listdir(df.hash_dir) if name.endswith(".data")]
    path = os.path.join(df.hash_dir, data_name)
    meta = dict(df.data_metadata)
    del meta[d.CRC_KEY]
    fd = os.open(path, os.O_RDWR)
    try:
        d.meta_mod.write_metadata(fd, meta, len(body))
    finally:
        os.close(fd)
    df = manager.get_diskfile("sda", 3, "a", "c", "old").open()
    assert d.CRC_KEY not in df.data_metadata
    assert _read_all(df) == body
    _flip_byte(df, 5)
    df = manager.get_diskfile("sda", 3, "a", "c", "old").open()
    with pytest.raises(DiskFileQuarantined) as info:
        _read_all(df)
    assert "md5" in str(info.value)


def test_the_crc_stays_with_the_data_file(manager):
    df = manager.get_diskfile("sda", 3, "a", "c", "o")
    _write(df, b"abc", T1, **{d.CRC_KEY: "deadbeef"})  # a caller's value is not trusted
    df.write_metadata({"X-Timestamp": T2.internal, "X-Object-Meta-B": "2", d.CRC_KEY: "00000000"})
    opened = manager.get_diskfile("sda", 3, "a", "c", "o").open()
    assert opened.metadata[d.CRC_KEY] == "%08x" % zlib.crc32(b"abc")  # a .meta neither holds nor replaces it
    assert _read_all(opened) == b"abc"


def test_reader_keeps_working_after_overwrite_and_delete(manager):
    df = manager.get_diskfile("sda", 3, "a", "c", "o")
    _write(df, b"old" * 1000, T1)
    opened = manager.get_diskfile("sda", 3, "a", "c", "o").open()
    reader = opened.reader()
    _write(manager.get_diskfile("sda", 3, "a", "c", "o"), b"new", T2)
    manager.get_diskfile("sda", 3, "a", "c", "o").delete(T3)
    assert b"".join(reader) == b"old" * 1000
    reader.close()
    with pytest.raises(DiskFileDeleted) as info:
        manager.get_diskfile("sda", 3, "a", "c", "o").open()
    assert info.value.timestamp == T3


def test_unfinished_write_is_invisible_and_cleaned(manager, devices):
    df = manager.get_diskfile("sda", 3, "a", "c", "o")
    writer = df.writer(10)
    writer.write(b"12345")  # the process "dies" here: no put, no close
    with pytest.raises(DiskFileNotFound):
        manager.get_diskfile("sda", 3, "a", "c", "o").open()
    tmp = os.path.join(devices, "sda", "tmp")
    assert len(os.listdir(tmp)) == 1
    assert manager.clean_tmp("sda", older_than=3600) == 0
    assert manager.clean_tmp("sda", older_than=3600, now=os.stat(tmp).st_mtime + 7200) == 1
    assert os.listdir(tmp) == []
    writer.close()


def test_writer_close_without_put_removes_temp(manager, devices):
    df = manager.get_diskfile("sda", 3, "a", "c", "o")
    with df.writer() as writer:
        writer.write(b"abc")
    assert os.listdir(os.path.join(devices, "sda", "tmp")) == []


def test_collision_and_missing_metadata(manager, devices):
    df = manager.get_diskfile("sda", 3, "a", "c", "o")
    _write(df, b"abc", T1, name="/other/c/o")
    with pytest.raises(DiskFileCollision):
        manager.get_diskfile("sda", 3, "a", "c", "o").open()
    # a .data without metadata (never produced by the writer) is quarantined
    with open(os.path.join(df.hash_dir, T2.internal + ".data"), "wb") as handle:
        handle.write(b"orphan")
    with pytest.raises(DiskFileQuarantined):
        manager.get_diskfile("sda", 3, "a", "c", "o").open()
    assert os.listdir(os.path.join(devices, "sda", "quarantined", "objects")) == [df.name_hash]


def test_quarantine_twice_keeps_both(manager, devices):
    for ts in (T1, T2):
        df = manager.get_diskfile("sda", 3, "a", "c", "o")
        _write(df, b"abc", ts)
        os.truncate(os.path.join(df.hash_dir, ts.internal + ".data"), 1)
        with pytest.raises(DiskFileQuarantined):
            manager.get_diskfile("sda", 3, "a", "c", "o").open()
    assert len(os.listdir(os.path.join(devices, "sda", "quarantined", "objects"))) == 2


def test_expired(manager):
    df = manager.get_diskfile("sda", 3, "a", "c", "o")
    _write(df, b"abc", T1, **{"X-Delete-At": "1700000100"})
    with pytest.raises(DiskFileExpired):
        manager.get_diskfile("sda", 3, "a", "c", "o").open()
    assert manager.get_diskfile("sda", 3, "a", "c", "o").open(now=1700000050).content_length == 3
    assert manager.get_diskfile("sda", 3, "a", "c", "o").open(allow_expired=True).content_length == 3


def test_write_metadata_and_delete(manager):
    df = manager.get_diskfile("sda", 3, "a", "c", "o")
    _write(df, b"abc", T1, **{"X-Object-Meta-A": "1"})
    df.write_metadata({"X-Timestamp": T2.internal, "X-Object-Meta-B": "2"})
    opened = manager.get_diskfile("sda", 3, "a", "c", "o").open()
    assert opened.timestamp == T2 and opened.data_timestamp == T1
    assert opened.metadata["X-Object-Meta-B"] == "2" and "X-Object-Meta-A" not in opened.metadata
    opened.close()
    df.delete(T3)
    assert sorted(os.listdir(df.hash_dir)) == [T3.internal + ".ts"]


def test_get_hashes_sees_writes(manager):
    df = manager.get_diskfile("sda", 3, "a", "c", "o")
    assert manager.get_hashes("sda", 3) == {}
    _write(df, b"abc", T1)
    first = manager.get_hashes("sda", 3)
    assert list(first) == [df.name_hash[-3:]]
    df.delete(T2)
    assert manager.get_hashes("sda", 3) != first


def test_async_pending_file(manager, devices):
    path = manager.write_async_pending("sda", "PUT", "a", "c", "o", T1, {"X-Size": "3"},
                                       [{"ip": "1.2.3.4", "port": 5, "device": "sdb", "partition": "9"}])
    assert path.startswith(os.path.join(devices, "sda", "async_pending") + os.sep)
    with open(path, "rb") as handle:
        assert encoding.unpack(handle.read()) == (1, {
            "op": "PUT", "account": "a", "container": "c", "obj": "o", "headers": {"X-Size": "3"},
            "container_nodes": [{"ip": "1.2.3.4", "port": 5, "device": "sdb", "partition": "9"}]})
    assert os.listdir(os.path.join(devices, "sda", "tmp")) == []


def test_missing_device(manager):
    with pytest.raises(InsufficientStorage):
        manager.get_diskfile("nope", 1, "a", "c", "o")
    with pytest.raises(InsufficientStorage):
        manager.get_diskfile("..", 1, "a", "c", "o")


class _FullDiskOs:
    """The os module with write() failing as a full disk would (an injected fault)."""

    def __init__(self, after):
        self.after = after

    def __getattr__(self, name):
        return getattr(os, name)

    def write(self, fd, data):
        if self.after <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.after -= len(data)
        return os.write(fd, data)


def test_injected_enospc_mid_write(manager, devices, monkeypatch):
    df = manager.get_diskfile("sda", 3, "a", "c", "o")
    monkeypatch.setattr(d, "os", _FullDiskOs(after=65536))
    with pytest.raises(DiskFileNoSpace):
        with df.writer() as writer:
            writer.write(b"x" * 65536)
            writer.write(b"x" * 65536)
    monkeypatch.undo()
    assert os.listdir(os.path.join(devices, "sda", "tmp")) == []
    with pytest.raises(DiskFileNotFound):
        df.open()


def _tiny_app(make_app, tiny_fs, capture):
    os.makedirs(os.path.join(tiny_fs, "sda"))
    return make_app(devices=tiny_fs)


def test_full_disk_is_507_and_leaves_nothing(make_app, tiny_fs):
    app = _tiny_app(make_app, tiny_fs, None)
    body = b"z" * (20 * 1024 * 1024)
    headers = {"X-Timestamp": T1.internal}
    # known length: refused at preallocation, before the body is read
    req = Request.blank("/sda/1/a/c/big", environ={"REQUEST_METHOD": "PUT", "wsgi.input": io.BytesIO(body)},
                        headers=dict(headers, **{"Content-Length": str(len(body))}))
    assert req.get_response(app).status_int == 507
    # chunked: the disk fills mid-write
    req = Request.blank("/sda/1/a/c/big", environ={"REQUEST_METHOD": "PUT", "wsgi.input": io.BytesIO(body)},
                        headers=dict(headers, **{"Transfer-Encoding": "chunked"}))
    req.environ.pop("CONTENT_LENGTH", None)
    assert req.get_response(app).status_int == 507
    assert os.listdir(os.path.join(tiny_fs, "sda", "tmp")) == []
    assert Request.blank("/sda/1/a/c/big").get_response(app).status_int == 404
    # the space is back: a small object still goes in, with its metadata
    req = Request.blank("/sda/1/a/c/small", environ={"REQUEST_METHOD": "PUT"},
                        headers=dict(headers, **{"X-Object-Meta-M": "v" * 200}), body=b"ok")
    assert req.get_response(app).status_int == 201
    resp = Request.blank("/sda/1/a/c/small").get_response(app)
    assert resp.body == b"ok" and resp.headers["X-Object-Meta-M"] == "v" * 200


def test_fsyncs_through_a_thread_pool(devices, capture):
    from objstore.common import green
    calls = []

    def run_blocking(fn, *args):
        calls.append(fn.__name__)
        return green.tpool_execute(fn, *args)

    manager = d.DiskFileManager(devices, False, capture[0], run_blocking=run_blocking)
    _write(manager.get_diskfile("sda", 3, "a", "c", "o"), b"abc", T1)
    assert calls == ["fsync", "fsync_dir"]
    assert manager.get_diskfile("sda", 3, "a", "c", "o").open().content_length == 3


def test_mount_check_accepts_a_real_mount_point(make_app, tiny_fs):
    app = make_app(devices=os.path.dirname(tiny_fs), mount_check=True)
    dev = os.path.basename(tiny_fs)
    req = Request.blank("/%s/1/a/c/o" % dev, environ={"REQUEST_METHOD": "PUT"},
                        headers={"X-Timestamp": T1.internal}, body=b"mounted")
    assert req.get_response(app).status_int == 201
    assert Request.blank("/%s/1/a/c/o" % dev).get_response(app).body == b"mounted"
    os.makedirs(os.path.join(os.path.dirname(tiny_fs), "plain"))
    req = Request.blank("/plain/1/a/c/o", environ={"REQUEST_METHOD": "PUT"},
                        headers={"X-Timestamp": T1.internal}, body=b"x")
    assert req.get_response(app).status_int == 507
