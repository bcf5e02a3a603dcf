"""Fixtures for the object server's tests: a devices dir with one device, a
DiskFileManager over it, and the app."""

import os
import subprocess

import pytest

from objstore.obj.diskfile import DiskFileManager
from objstore.obj.server import ObjectServer, ObjectServerConfig


@pytest.fixture
def devices(tmp_path, objstore_conf):
    """``tmp_path/devices`` holding the device ``sda`` (mount_check off)."""
    path = tmp_path / "devices"
    os.makedirs(path / "sda")
    return str(path)


@pytest.fixture
def manager(devices, capture):
    return DiskFileManager(devices, False, capture[0], reclaim_age=604800)


@pytest.fixture
def make_app(devices, capture):
    def make(**overrides):
        options = dict(devices=devices, mount_check=False, container_update_timeout=2.0,
                       conn_timeout=0.5, node_timeout=2.0)
        options.update(overrides)
        config = ObjectServerConfig(**options)
        manager = DiskFileManager(config.devices, config.mount_check, capture[0], config.reclaim_age,
                                  config.fallocate_reserve, config.disk_chunk_size, config.keep_cache_size)
        return ObjectServer(config, capture[0], manager)

    return make


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def tiny_fs(tmp_path):
    """A 16 MiB ext4 (1 KiB blocks) loop-mounted at ``tmp_path/tiny``: a real full disk.

    Needs root and loop devices; where they are missing the test is skipped
    with the reason (but fails under CI=true, where they must be there) (test_diskfile.py also injects ENOSPC at the write call,
    which runs everywhere).
    """
    image = tmp_path / "tiny.img"
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    if os.geteuid() != 0:
        _skip_or_fail("loop-mounting a tiny filesystem needs root")
    with open(image, "wb") as handle:
        handle.truncate(16 * 1024 * 1024)
    made = subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], capture_output=True)
    mounted = made.returncode == 0 and subprocess.run(
        ["mount", "-o", "loop", str(image), str(mount_point)], capture_output=True).returncode == 0
    if not mounted:
        _skip_or_fail("cannot loop-mount an ext4 image here: %s" % made.stderr.decode(errors="replace"))
    try:
        yield str(mount_point)
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)


@pytest.fixture
def big_xattrs_fit(tmp_path):
    """Whether the tests' filesystem takes an 8 KiB xattr value (XFS yes, ext4 no)."""
    probe = tmp_path / "xattr-probe"
    probe.write_bytes(b"")
    try:
        os.setxattr(str(probe), "user.probe", b"x" * 8192)
    except OSError:
        return False
    finally:
        probe.unlink()
    return True


def _skip_or_fail(reason):
    """Skip on a developer's machine without root; in CI (root, CI=true) the
    real full-disk test must run, so there it fails loudly instead."""
    if os.environ.get("CI"):
        pytest.fail("tiny_fs: %s (CI runs as root and must run this test)" % reason, pytrace=False)
    pytest.skip(reason)
