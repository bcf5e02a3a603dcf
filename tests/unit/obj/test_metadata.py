"""Metadata in xattrs and the trailer fallback, on the real filesystem the
tests run on (ext4 here: about 4 KiB of xattrs per inode) and on a tiny
loop-mounted ext4 with 1 KiB blocks."""

import os

import pytest

from objstore.common.exceptions import DiskFileXattrError
from objstore.obj import metadata as m


def test_split_chunks_and_keys():
    assert m.split_chunks(b"", 4) == [b""]
    assert m.split_chunks(b"abcdefghij", 4) == [b"abcd", b"efgh", b"ij"]
    assert [m.xattr_key(i) for i in range(3)] == [
        "user.objstore.metadata", "user.objstore.metadata1", "user.objstore.metadata2"]


def test_footer_round_trip():
    blob = b"x" * 40
    tail = m.footer_for(blob)[-m.FOOTER.size:]
    assert m.parse_footer(tail, 100) == 40
    assert m.parse_footer(tail, 50) is None  # blob cannot fit
    assert m.parse_footer(b"\0" * 16, 100) is None
    assert m.parse_footer(b"short", 100) is None


def test_encode_decode():
    meta = {"name": "/a/c/o", "X-Object-Meta-\u00e9": "\u2603"}
    assert m.decode(m.encode(meta)) == meta
    with pytest.raises(DiskFileXattrError):
        m.decode(b"garbage")


def _file(tmp_path, body=b"body"):
    path = tmp_path / "f"
    path.write_bytes(body)
    return os.open(path, os.O_RDWR)


def test_small_metadata_goes_to_one_xattr(tmp_path):
    fd = _file(tmp_path)
    meta = {"name": "/a/c/o", "Content-Length": "4"}
    assert m.write_metadata(fd, meta, 4) is True
    assert os.listxattr(fd) == ["user.objstore.metadata"]
    assert m.read_metadata(fd) == (meta, 4)
    os.close(fd)


def test_split_across_keys(tmp_path):
    fd = _file(tmp_path)
    meta = {"k": "v" * 300}
    assert m.write_metadata(fd, meta, 4, chunk=100) is True
    assert len(os.listxattr(fd)) == 4
    assert m.read_metadata(fd, chunk=100) == (meta, 4)
    os.close(fd)


def _largest_api_metadata():
    meta = {"name": "/" + "a" * 256 + "/" + "c" * 256 + "/" + "o" * 1024, "X-Timestamp": "1700000000.00000",
            "Content-Type": "t" * 256, "ETag": "e" * 32, "Content-Length": "123456789"}
    for i in range(90):
        meta["X-Object-Meta-%02d" % i + "n" * 10] = "v" * 33
    return meta


def test_largest_metadata_falls_back_to_trailer(tmp_path, big_xattrs_fit):
    body = b"0123456789"
    fd = _file(tmp_path, body)
    meta = _largest_api_metadata()
    assert len(m.encode(meta)) > 4096  # more than ext4 gives an inode
    # ext4 (where these tests run here): the trailer; XFS: xattrs
    assert m.write_metadata(fd, meta, len(body)) is big_xattrs_fit
    if not big_xattrs_fit:
        assert os.listxattr(fd) == []  # nothing half-written in xattrs
    assert m.read_metadata(fd) == (meta, len(body))
    assert os.pread(fd, len(body), 0) == body
    os.close(fd)
    assert m.read_metadata_path(str(tmp_path / "f")) == (meta, len(body))


def test_trailer_on_a_1k_block_filesystem(tiny_fs):
    path = os.path.join(tiny_fs, "f")
    with open(path, "wb") as handle:
        handle.write(b"abc")
    fd = os.open(path, os.O_RDWR)
    small = {"a": "b"}
    assert m.write_metadata(fd, small, 3) is True
    os.close(fd)
    path2 = os.path.join(tiny_fs, "g")
    with open(path2, "wb") as handle:
        handle.write(b"abc")
    fd = os.open(path2, os.O_RDWR)
    meta = {"k": "v" * 1500}  # fits ext4 with 4 KiB blocks, not with 1 KiB
    assert m.write_metadata(fd, meta, 3) is False
    assert m.read_metadata(fd) == (meta, 3)
    os.close(fd)


def test_no_metadata_is_corrupt(tmp_path):
    fd = _file(tmp_path, b"x" * 100)
    with pytest.raises(DiskFileXattrError):
        m.read_metadata(fd)
    os.setxattr(fd, m.XATTR_KEY, b"not msgpack of ours")
    with pytest.raises(DiskFileXattrError):
        m.read_metadata(fd)
    os.close(fd)
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    with pytest.raises(DiskFileXattrError):
        m.read_metadata_path(str(empty))
