"""The local side of images: a base cache that fetches each image once from
the object store (checksum verified), and the qemu-img calls that make an
instance's copy-on-write overlay and flatten a disk into a snapshot.

Layout under the state dir (as Nova's ``_base``): ``_base/<sha1(image id)>``,
written to a temporary name (``<name>.part``), checked, then renamed, so a
crash never leaves a half image that looks complete. A lock file per image
(``<name>.lock``, flock) keeps two boots from fetching it twice at once and
keeps a prune away from an image being fetched or booted.

Pruning (as Nova's image cache manager): a base's mtime is its "last used"
time; every fetch or boot that uses it touches it, and so does every prune
pass for the bases instances still back onto. :meth:`ImageCache.prune`
removes a base that no instance uses and whose last use is at least
``max_age`` old, and the temp files of fetches that died midway. It takes
the image's lock without waiting and skips an image whose lock is held; it
re-reads the mtime under the lock, so a boot that used the image after the
caller listed the instances keeps it. Lock files are unlinked only by their
holder, and :func:`_flocked` re-opens a lock file that was unlinked while it
waited, so two holders never hold two different inodes of one lock.

What does not live here: image records and the object store (images.py),
libvirt (driver.py).
"""

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import threading
import time

from objstore.common.exceptions import HypervisorError, InvalidImage
from objstore.common.fs import fsync_dir

GIB = 1 << 30
QCOW2_MAGIC = b"QFI\xfb"
CACHE_FILE = re.compile(r"^([0-9a-f]{40})(\.part|\.lock)?$")


class CacheBusy(Exception):
    """The image's lock is held (a fetch or a boot is using it); internal to prune."""


def cache_name(image_id):
    """The base file's name: sha1 hex of the image id (Nova's convention)."""
    return hashlib.sha1(image_id.encode("utf-8")).hexdigest()


def qemu_img(*args, timeout=600):
    """Run ``qemu-img`` and return its stdout.

    :raises HypervisorError: qemu-img is missing (says what to install) or failed
        (its first line of stderr).
    """
    exe = shutil.which("qemu-img")
    if exe is None:
        raise HypervisorError("qemu-img not found: install qemu-utils (apt-get install qemu-utils)")
    try:
        done = subprocess.run([exe, *args], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise HypervisorError("qemu-img %s timed out" % args[0]) from None
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        raise HypervisorError("qemu-img %s failed: %s" % (args[0], lines[-1] if lines else done.returncode))
    return done.stdout


def virtual_size(path, fmt):
    """The disk size a guest sees, in bytes."""
    info = json.loads(qemu_img("info", "--output=json", "-f", fmt, path))
    return int(info["virtual-size"])


def create_overlay(base, base_format, path, size_bytes=0):
    """A qcow2 at ``path`` backed by ``base`` (``-F`` names the backing format,
    so qemu never probes it: probing a raw base is a known security hole).

    :param size_bytes: grow the disk to this when larger than the base.
    """
    args = ["create", "-q", "-f", "qcow2", "-b", base, "-F", base_format, path]
    if size_bytes and size_bytes > virtual_size(base, base_format):
        args.append(str(size_bytes))
    qemu_img(*args)


def backing_file(path):
    """The absolute path of the file the qcow2 ``path`` is backed by; None
    when it has none or is not a qcow2.

    Read from the qcow2 header (backing file offset and length at bytes
    8-19, big-endian), not with ``qemu-img info``: a prune pass looks at every
    instance's disk, and a subprocess each would make that pass slow on a
    host with many instances. A plain read needs no lock of a running QEMU.

    :raises OSError: the file cannot be read.
    """
    with open(path, "rb") as handle:
        head = handle.read(20)
        if len(head) < 20 or head[:4] != QCOW2_MAGIC:
            return None
        offset, size = struct.unpack(">QI", head[8:20])
        if not offset or not size or size > 1023:  # 1023: QEMU's limit on the name
            return None
        handle.seek(offset)
        name = handle.read(size).decode("utf-8", "surrogateescape")
    return os.path.join(os.path.dirname(os.path.abspath(path)), name)


def create_blank(path, size_bytes):
    qemu_img("create", "-q", "-f", "qcow2", path, str(size_bytes))


def flatten(src, dst, share=True):
    """Copy the disk chain ending at ``src`` into one standalone qcow2 ``dst``.

    :param share: open ``src`` even though a running QEMU holds its lock
        (``-U``); callers pause the guest first so the copy is consistent.
    """
    args = ["convert", "-q", "-O", "qcow2"]
    if share:
        args.append("-U")
    qemu_img(*args, src, dst)


class ImageCache:
    """Images fetched once into ``<state_dir>/_base``."""

    def __init__(self, state_dir):
        self.dir = os.path.join(state_dir, "_base")
        self._held = {}  # lock path -> threading.Lock, see _locked
        self._held_guard = threading.Lock()

    @contextlib.contextmanager
    def _locked(self, lock_path, blocking=True):
        """The image's lock: first this process's own lock for it, then the
        flock. flock does not order two callers of one process (each opens
        its own file, and a blocked flock would stall every greenthread of
        the API server while the holder waits on I/O); the thread lock
        (green under eventlet) does, and the flock orders processes."""
        with self._held_guard:
            held = self._held.setdefault(lock_path, threading.Lock())
        if not held.acquire(blocking):
            raise CacheBusy(lock_path)
        try:
            with _flocked(lock_path, blocking):
                yield
        finally:
            held.release()

    def path_for(self, image_id):
        return os.path.join(self.dir, cache_name(image_id))

    def cached(self, image_id):
        return os.path.exists(self.path_for(image_id))

    def fetch(self, store, image):
        """The local path of ``image``, downloading it on first use; marks it
        used (mtime now). A caller that must keep the base from a prune until
        it made its overlay uses :meth:`using` instead.

        :param store: an :class:`objstore.compute.images.ImageStore`.
        :raises InvalidImage: the downloaded bytes do not match the image's
            checksum (nothing is kept).
        """
        with self.using(store, image) as path:
            return path

    @contextlib.contextmanager
    def using(self, store, image):
        """Fetch ``image`` if needed and yield its path while holding its lock
        (no prune can remove it meanwhile); marks it used."""
        os.makedirs(self.dir, exist_ok=True)
        path = self.path_for(image.id)
        with self._locked(path + ".lock"):
            if not (os.path.exists(path) and os.path.getsize(path) == image.size):
                self._download(store, image, path)
            touch(path)
            yield path

    def _download(self, store, image, path):
        tmp = path + ".part"
        try:
            md5 = hashlib.md5()
            with open(tmp, "wb") as handle:
                store.download(image, _Hashing(handle, md5))
                handle.flush()
                os.fsync(handle.fileno())
            if image.checksum and md5.hexdigest() != image.checksum:
                raise InvalidImage(
                    "image %s: downloaded checksum %s != recorded %s" % (image.id, md5.hexdigest(), image.checksum)
                )
            os.rename(tmp, path)
            fsync_dir(self.dir)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def mark_used(self, names):
        """Touch the bases named ``names`` (cache names) that exist."""
        for name in names:
            touch(os.path.join(self.dir, name))

    def evict(self, image_id):
        path = self.path_for(image_id)
        if not os.path.exists(path + ".lock") and not os.path.exists(path):
            return
        with self._locked(path + ".lock"):
            for suffix in ("", ".part", ".lock"):
                _unlink(path + suffix)

    def entries(self):
        """The cache's files by image: ``{name: {"base", "part", "lock"}
        subset}``; files whose names are not ours are left out."""
        found = {}
        try:
            names = os.listdir(self.dir)
        except FileNotFoundError:
            return found
        for filename in names:
            match = CACHE_FILE.match(filename)
            if match:
                kind = (match.group(2) or ".base")[1:]
                found.setdefault(match.group(1), set()).add(kind)
        return found

    def prune(self, in_use, max_age, now=None, dry_run=False):
        """Remove unused old bases and the leftovers of interrupted fetches.

        A base is removed when its name is not in ``in_use`` and its mtime
        (last use) is at least ``max_age`` seconds before ``now``. A
        ``.part`` is removed when no fetch holds its image's lock (a fetch
        that died left it); a ``.lock`` goes with its base, or alone when
        nothing else of the image is left. An image whose lock is held is
        skipped whole. Bases in use are touched (their last use is now).

        :param in_use: cache names (:func:`cache_name`) some instance uses.
        :param max_age: seconds; 0 or less disables pruning (nothing happens).
        :param now: the time (``time.time()`` when None).
        :param dry_run: report what would go, remove and touch nothing.
        :returns: ``{"dry_run", "max_age", "removed": [{"file", "kind"
            ("base" | "temp" | "lock"), "bytes", "last_used"}], "kept":
            [{"file", "reason"}], "bytes_freed"}``; ``bytes`` is the disk
            space the file takes (allocated blocks), ``last_used`` the epoch
            seconds of its mtime; files are relative to the cache dir.
        """
        result = {"dry_run": bool(dry_run), "max_age": max_age, "removed": [], "kept": [], "bytes_freed": 0}
        if max_age <= 0:
            return result
        now = time.time() if now is None else now
        in_use = set(in_use)
        for name, kinds in sorted(self.entries().items()):
            if "base" in kinds and name in in_use:
                if not dry_run:
                    touch(os.path.join(self.dir, name))
                result["kept"].append({"file": name, "reason": "in use by an instance"})
                continue
            try:
                removed, kept = self._prune_one(name, max_age, now, dry_run)
            except CacheBusy:
                result["kept"].append({"file": name, "reason": "locked: a fetch or boot is using it"})
                continue
            result["removed"] += removed
            result["kept"] += kept
        result["bytes_freed"] = sum(entry["bytes"] for entry in result["removed"])
        return result

    def _prune_one(self, name, max_age, now, dry_run):
        path = os.path.join(self.dir, name)
        removed, kept = [], []
        had_lock = os.path.exists(path + ".lock")
        with self._locked(path + ".lock", blocking=False):
            base = _stat(path)
            if base is not None:
                unused_for = now - base.st_mtime
                if unused_for < max_age:
                    why = "used %d s ago (kept for %d s)" % (max(0, unused_for), max_age)
                    kept.append({"file": name, "reason": why})
                else:
                    removed.append(_removal(name, "base", base))
            part = _stat(path + ".part")
            if part is not None:
                removed.append(_removal(name + ".part", "temp", part))
            drop_lock = base is None or bool(removed) and removed[0]["kind"] == "base"
            if drop_lock and had_lock:
                removed.append(_removal(name + ".lock", "lock", _stat(path + ".lock")))
            if not dry_run:
                for entry in removed:
                    _unlink(os.path.join(self.dir, entry["file"]))
            if not had_lock or drop_lock and not dry_run:
                _unlink(path + ".lock")  # leave no lock file this pass made (safe: we hold it)
            if removed and not dry_run:
                fsync_dir(self.dir)
        return removed, kept


def touch(path):
    """Set ``path``'s mtime (and atime) to now: it was used. Missing: nothing.

    A base libvirt chowned to its QEMU user cannot be touched by another
    non-root user: that is ignored, since what protects a base in use is the
    instance list, not its mtime (the mtime only delays removal after use).
    """
    try:
        os.utime(path)
    except (FileNotFoundError, PermissionError):
        pass


def _stat(path):
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None


def _unlink(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _removal(filename, kind, st):
    return {
        "file": filename,
        "kind": kind,
        "bytes": st.st_blocks * 512 if st is not None else 0,
        "last_used": int(st.st_mtime) if st is not None else 0,
    }


@contextlib.contextmanager
def _flocked(lock_path, blocking=True):
    """Hold the flock of ``lock_path`` (created when missing).

    A holder may unlink the lock file; whoever was waiting on the old inode
    then sees it is no longer the file at ``lock_path`` and opens it anew.

    :raises CacheBusy: ``blocking`` is False and someone holds it.
    """
    while True:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            raise CacheBusy(lock_path) from None
        held = os.fstat(fd)
        now_there = _stat(lock_path)
        if now_there is not None and (now_there.st_ino, now_there.st_dev) == (held.st_ino, held.st_dev):
            break
        os.close(fd)  # unlinked (or replaced) while we waited: lock the current file
    try:
        yield fd
    finally:
        os.close(fd)


class _Hashing:
    """A file wrapper that hashes what is written through it."""

    def __init__(self, handle, md5):
        self.handle = handle
        self.md5 = md5

    def write(self, data):
        self.md5.update(data)
        return self.handle.write(data)
