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
def loop_fs(tmp_path):
    """``loop_fs(kind, mib)``: a ``kind`` filesystem (``mkfs.<kind>``) of
    ``mib`` MiB loop-mounted under ``tmp_path``; returns an object with
    ``path`` (the mount point), ``crash()`` (an XFS shutdown that does not
    flush the log: what a power cut leaves, as far as the filesystem knows)
    and ``remount()``. Skipped or failed like tiny_fs."""
    mounted = []

    class LoopFs:
        def __init__(self, kind, mib):
            self.image = tmp_path / ("%s.img" % kind)
            self.path = str(tmp_path / kind)
            os.makedirs(self.path)
            if os.geteuid() != 0:
                _skip_or_fail("loop-mounting a filesystem needs root")
            with open(self.image, "wb") as handle:
                handle.truncate(mib * 1024 * 1024)
            made = subprocess.run(["mkfs.%s" % kind, "-q", "-F" if kind.startswith("ext") else "-f",
                                   str(self.image)], capture_output=True)
            if made.returncode != 0:
                _skip_or_fail("mkfs.%s failed (apt-get install xfsprogs e2fsprogs): %s"
                              % (kind, made.stderr.decode(errors="replace")))
            self.mount()

        def mount(self):
            done = subprocess.run(["mount", "-o", "loop", str(self.image), self.path], capture_output=True)
            if done.returncode != 0:
                _skip_or_fail("cannot loop-mount %s: %s" % (self.image, done.stderr.decode(errors="replace")))
            mounted.append(self.path)

        def crash(self):
            subprocess.run(["xfs_io", "-x", "-c", "shutdown", self.path], check=True, capture_output=True)

        def remount(self):
            subprocess.run(["umount", self.path], check=True, capture_output=True)
            mounted.remove(self.path)
            self.mount()

    yield LoopFs
    for path in mounted:
        subprocess.run(["umount", "-l", path], capture_output=True)


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
    """Skip only on a developer's machine without root. As root (CI runs as
    root, and `make test` installs xfsprogs and e2fsprogs) or with CI set,
    the real loop-mount tests must run, so there they fail loudly instead."""
    if os.environ.get("CI") or os.geteuid() == 0:
        pytest.fail("loop-mounted filesystem: %s (as root, and in CI, this test must run)" % reason, pytrace=False)
    pytest.skip(reason)
