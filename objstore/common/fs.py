"""Filesystem helpers: fsync, atomic writes and renames, directory creation,
mount checks. Nothing here knows about objects, databases or HTTP.
"""

import errno
import os
import tempfile

from objstore.common.exceptions import DiskFileNoSpace, InsufficientStorage


def fsync_dir(path):
    """fsync a directory so that a rename or create in it is durable."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as err:
        if err.errno in (errno.ENOENT, errno.ENOTDIR):
            return
        raise
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# Filesystems, by statfs magic, that journal every metadata change in order:
# once an fsync of a directory returns, every metadata change made before it
# (a file's creation, its xattrs, a rename into the directory, a new
# directory) is durable too, since it forces the log up to the directory's
# last change and the log commits in order. XFS always has its log. ext3/4
# journal the same way, but share their magic with ext2, which has no
# journal (as has an ext4 made without one), so they are not listed.
ORDERED_METADATA_MAGIC = frozenset({0x58465342})  # XFS_SUPER_MAGIC
_libc = None


def _statfs_type(fd):
    """``f_type`` of fstatfs(2) on ``fd`` (the filesystem's magic), or None."""
    import ctypes  # stdlib (os has no fstatfs); imported here, as few processes need it

    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    buf = ctypes.create_string_buffer(256)  # struct statfs is 120 bytes on 64-bit Linux
    if _libc.fstatfs(fd, buf) != 0:
        return None
    return ctypes.c_long.from_buffer(buf).value  # f_type comes first on every Linux ABI


def orders_metadata(fd):
    """Whether a directory fsync on ``fd``'s filesystem also makes the earlier
    metadata changes durable (see ORDERED_METADATA_MAGIC). Asked anew each
    time: a device's filesystem can be replaced while a server runs."""
    return _statfs_type(fd) in ORDERED_METADATA_MAGIC


def mkdirs(path):
    """``os.makedirs(path, exist_ok=True)`` that tolerates races."""
    try:
        os.makedirs(path, exist_ok=True)
    except FileExistsError:
        if not os.path.isdir(path):
            raise


def renamer(src, dst, fsync=True):
    """Rename ``src`` to ``dst``, creating ``dst``'s directory, then fsync it."""
    parent = os.path.dirname(dst)
    mkdirs(parent)
    os.rename(src, dst)
    if fsync:
        fsync_dir(parent)


def atomic_write(path, data, mode=0o644, fsync=True):
    """Write ``data`` (bytes) to ``path`` atomically: temp + fsync + rename.

    :raises DiskFileNoSpace: when the disk is full (the temp file is removed).
    """
    parent = os.path.dirname(os.path.abspath(path))
    mkdirs(parent)
    fd, tmp = tempfile.mkstemp(dir=parent, prefix=".tmp.", suffix="." + os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if fsync:
                os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.rename(tmp, path)
        if fsync:
            fsync_dir(parent)
    except OSError as err:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if err.errno in (errno.ENOSPC, errno.EDQUOT):
            raise DiskFileNoSpace("no space left writing %s" % path) from None
        raise
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def ismount(path):
    """True when ``path`` is a mount point (a device directory that is really mounted)."""
    try:
        return os.path.ismount(path)
    except OSError:
        return False


def check_device(devices, device, mount_check):
    """The path of ``device`` under ``devices``, or raise 507 when unusable.

    :raises InsufficientStorage: the device name is invalid, missing, or not
        mounted while ``mount_check`` is on.
    """
    if not device or "/" in device or device in (".", ".."):
        raise InsufficientStorage("invalid device %r" % (device,))
    path = os.path.join(devices, device)
    if mount_check:
        if not ismount(path):
            raise InsufficientStorage("%s is not mounted" % device)
    elif not os.path.isdir(path):
        raise InsufficientStorage("%s does not exist" % device)
    return path


def free_bytes(path):
    """Free bytes available to unprivileged users on the filesystem of ``path``."""
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def remove_file(path):
    """Unlink, ignoring a file that is already gone."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def listdir(path):
    """``os.listdir`` that answers ``[]`` for a missing or non-directory path."""
    try:
        return os.listdir(path)
    except (FileNotFoundError, NotADirectoryError):
        return []
