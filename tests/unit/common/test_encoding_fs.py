import os

import pytest

from objstore.common import encoding, fs
from objstore.common.exceptions import InsufficientStorage


def test_pack_round_trip_and_versions():
    data = encoding.pack({"a": [1, b"x"]}, version=2)
    assert encoding.unpack(data, versions=(1, 2)) == (2, {"a": [1, b"x"]})
    with pytest.raises(encoding.EncodingError, match="version"):
        encoding.unpack(data, versions=(1,))
    with pytest.raises(encoding.EncodingError):
        encoding.unpack(b"\xc1garbage")
    with pytest.raises(encoding.EncodingError, match="not an objstore"):
        encoding.unpack(encoding.packb(["xx", 1, {}]))


def test_atomic_write_replaces_whole_file(tmp_path):
    path = str(tmp_path / "d" / "f")
    fs.atomic_write(path, b"one")
    fs.atomic_write(path, b"two")
    assert open(path, "rb").read() == b"two"
    assert os.listdir(tmp_path / "d") == ["f"]  # no temp files left


def test_check_device(tmp_path):
    (tmp_path / "sda").mkdir()
    assert fs.check_device(str(tmp_path), "sda", False) == str(tmp_path / "sda")
    for bad in ("", "..", "a/b", "missing"):
        with pytest.raises(InsufficientStorage):
            fs.check_device(str(tmp_path), bad, False)
    with pytest.raises(InsufficientStorage, match="not mounted"):
        fs.check_device(str(tmp_path), "sda", True)


def test_renamer_creates_parent(tmp_path):
    src = tmp_path / "a"
    src.write_bytes(b"x")
    dst = tmp_path / "x" / "y" / "b"
    fs.renamer(str(src), str(dst))
    assert dst.read_bytes() == b"x"


def test_orders_metadata_knows_the_filesystem_of_an_fd(tmp_path):
    """tmpfs and procfs are not XFS; a closed fd is not known. (XFS itself,
    and what it makes durable, is tested on a real loop mount in
    tests/unit/obj/test_durability.py.)"""
    for path in ("/dev/shm", "/proc"):
        fd = os.open(path, os.O_RDONLY)
        try:
            assert fs._statfs_type(fd) not in (None, 0)
            assert not fs.orders_metadata(fd)
        finally:
            os.close(fd)
    fd = os.open(str(tmp_path), os.O_RDONLY)
    os.close(fd)
    assert fs._statfs_type(fd) is None and not fs.orders_metadata(fd)
