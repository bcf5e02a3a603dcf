"""The local side of images: a base cache that fetches each image once from
the object store (checksum verified), and the qemu-img calls that make an
instance's copy-on-write overlay and flatten a disk into a snapshot.

Layout under the state dir (as Nova's ``_base``): ``_base/<sha1(image id)>``,
written to a temporary name, checked, then renamed, so a crash never leaves a
half image that looks complete. A lock file per image keeps two boots from
fetching it twice at once.

What does not live here: image records and the object store (images.py),
libvirt (driver.py).
"""

import fcntl
import hashlib
import json
import os
import shutil
import subprocess

from objstore.common.exceptions import HypervisorError, InvalidImage
from objstore.common.fs import fsync_dir

GIB = 1 << 30


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

    def path_for(self, image_id):
        return os.path.join(self.dir, cache_name(image_id))

    def cached(self, image_id):
        return os.path.exists(self.path_for(image_id))

    def fetch(self, store, image):
        """The local path of ``image``, downloading it on first use.

        :param store: an :class:`objstore.compute.images.ImageStore`.
        :raises InvalidImage: the downloaded bytes do not match the image's
            checksum (nothing is kept).
        """
        os.makedirs(self.dir, exist_ok=True)
        path = self.path_for(image.id)
        if os.path.exists(path) and os.path.getsize(path) == image.size:
            return path
        with open(path + ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if os.path.exists(path) and os.path.getsize(path) == image.size:
                return path  # another boot fetched it while we waited
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
        return path

    def evict(self, image_id):
        for suffix in ("", ".lock"):
            try:
                os.unlink(self.path_for(image_id) + suffix)
            except FileNotFoundError:
                pass


class _Hashing:
    """A file wrapper that hashes what is written through it."""

    def __init__(self, handle, md5):
        self.handle = handle
        self.md5 = md5

    def write(self, data):
        self.md5.update(data)
        return self.handle.write(data)
