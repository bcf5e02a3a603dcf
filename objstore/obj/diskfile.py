"""Objects on a local device: the on-disk layout, the durable writer, the
streaming reader with its integrity checks, quarantine, and async_pending
files for the object updater.

What does not live here: HTTP (server.py), metadata encoding and xattrs
(metadata.py), suffix hashes and which files matter (hashes.py).

Layout under ``devices/<dev>/``::

    objects/<part>/<suffix>/<hash>/<timestamp>.data | .ts | .meta
    objects/<part>/hashes.msgpack, hashes.invalid      (see hashes.py)
    tmp/                                               writes in flight
    quarantined/objects/<hash>[-<uuid>]/               what failed a check
    async_pending/<suffix>/<hash>-<timestamp>          container updates to retry

``hash`` = objstore.common.hashing.hash_path(a, c, o), ``suffix`` = its last
three hex digits.

Theory of operation (writes): a :class:`DiskFileWriter` creates a file in
``tmp/`` (same filesystem as ``objects/``), preallocates the announced size
(ENOSPC before reading the body), writes the chunks while computing the md5
(the ETag) and a CRC-32 of the body (``crc32`` in a .data's metadata),
attaches the metadata (metadata.py: xattrs, or a trailer), fsyncs once
(covering body, xattrs and trailer), renames the file into the object
directory, journals the suffix as changed, fsyncs the directory and removes
the older files of the object. A crash at any point before the rename leaves
only a temp file in ``tmp/`` (never served; the object replicator removes it
once it is reclaim_age old, :func:`remove_stale_temp`); after the rename the
file is complete with its metadata. On ext4 and XFS the directory fsync
commits the filesystem journal, which includes the creation of the suffix and
object directories. For the same reason, on XFS (common.fs.orders_metadata)
a file with no body bytes and its metadata in xattrs (a tombstone, a .meta,
an empty object) is not fsynced on its own: all of it is metadata, logged in
order before the rename, so the one directory fsync makes it durable; that
halves the journal commits of a DELETE or POST. Elsewhere, or with a
trailer (body bytes), the file is fsynced too. An XFS shutdown right after
the answer, a crash as far as the filesystem can tell, keeps it
(tests/unit/obj/test_durability.py). While a big body arrives,
the writer starts the kernel's writeback of every ``WRITEBACK_EVERY`` bytes
(posix_fadvise DONTNEED on the range just written: on Linux it queues the
dirty pages for writing without waiting, and drops none of them while they
are dirty), so the disk works while the rest of the body arrives and the one
fsync at the end waits for the last few MiB instead of the whole object.
Writeback to a device is not yet on the medium: a device with a volatile
cache, a loop-mounted image (its backing file's page cache) or a virtual
disk cached on its host holds it until a flush. So each time
``sync_every`` more bytes were written the writer also starts an fdatasync
in the background (the manager's ``run_background``, a thread: at most one
per writer at a time), and the fsync at the end flushes only what came
after the last one. The background fdatasync's error, if any, is raised by
the next write or by :meth:`DiskFileWriter.put`: Linux reports a writeback
error to one fsync of a file only, so an error swallowed there could
otherwise let the final fsync succeed over lost data.

Reads: :meth:`DiskFile.open` lists the object directory once, opens the data
file (the open fd keeps it readable even if a newer write replaces it), reads
its metadata and checks the body size against Content-Length. The reader
streams ``disk_chunk_size`` chunks; on a full read it keeps the last 64 KiB
back until the body's checksum matches, so a corrupt object's response
ends short (the proxy notices and resumes elsewhere). A mismatch moves the
object directory to quarantine; the next request answers 404. The checksum
is the CRC-32 the writer stored (zlib's runs at ~3.6 GB/s on this machine,
md5 at ~0.6: md5 capped one GET stream at ~520 MB/s while the socket could
take 2.6 GB/s); an object written without one is checked against its ETag
(md5). Either catches rot and truncation; the auditor keeps checking every
body against its ETag, end to end.
"""

import errno
import hashlib
import os
import time
import uuid
import zlib

from objstore.common import encoding
from objstore.common.exceptions import (
    DiskFileCollision,
    DiskFileDeleted,
    DiskFileError,
    DiskFileExpired,
    DiskFileNoSpace,
    DiskFileNotFound,
    DiskFileQuarantined,
    DiskFileXattrError,
)
from objstore.common.fs import check_device, fsync_dir, listdir, mkdirs, orders_metadata, remove_file, renamer
from objstore.common.hashing import hash_path, suffix_of
from objstore.common.timestamp import Timestamp
from objstore.obj import hashes as hashes_mod
from objstore.obj import metadata as meta_mod

ASYNC_VERSION = 1
DEFAULT_CHUNK = 65536
# A full read keeps this much of the body back until its checksum matches.
VERIFY_HOLD = 65536
# Bodies this big are preallocated: a full disk answers 507 before the body
# is read, and the file is less fragmented. Smaller ones are not (a syscall
# less per small PUT; a full disk still fails their write with ENOSPC -> 507).
PREALLOCATE_MIN = 1048576
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
# Start writeback each time this many bytes of a body are written (see the
# theory of operation). 8 MiB: a few chunks' worth, so the calls stay rare
# (one per 8 network chunks of 1 MiB) and the final fsync has little left.
WRITEBACK_EVERY = 8 * 1048576
# Files of at most this many bytes (small objects, tombstones, .meta) and
# directories are fsynced through the manager's ``run_short``.
SHORT_FSYNC = 65536
# The .data metadata key holding the body's CRC-32 (8 hex digits) that full
# reads check; never a response header (server.INTERNAL_KEYS), never copied
# from a request: each writer computes its own.
CRC_KEY = "crc32"
# Keys of a .data file's metadata that a .meta (POST) never replaces; all
# others (user metadata, Content-Encoding, X-Delete-At...) come from the
# newest .meta when there is one.
DATA_BOUND = frozenset(("name", "Content-Length", "ETag", "Content-Type", CRC_KEY))
SYSMETA_PREFIX = "X-Object-Sysmeta-"


def remove_stale_temp(device_path, older_than, now=None):
    """Remove the files in ``device_path/tmp`` not written to for
    ``older_than`` seconds: writes that never finished (a crash, a kill).
    The object replicator calls it each pass with its reclaim_age, so a slow
    upload still in flight keeps its file. Returns the count removed."""
    tmp = os.path.join(device_path, "tmp")
    cutoff = (now if now is not None else time.time()) - older_than
    removed = 0
    for name in listdir(tmp):
        path = os.path.join(tmp, name)
        try:
            if os.stat(path).st_mtime < cutoff:
                os.unlink(path)
                removed += 1
        except OSError:
            pass
    return removed


def parse_reserve(text):
    """``fallocate_reserve`` into ``(value, is_percent)``: ``'10%'`` or bytes.

    :raises ValueError: not a number.
    """
    text = str(text).strip()
    if text.endswith("%"):
        value = float(text[:-1])
        if not 0 <= value <= 100:
            raise ValueError("percent out of range")
        return value, True
    value = int(text or 0)
    if value < 0:
        raise ValueError("negative reserve")
    return value, False


def space_ok(avail_blocks, block_size, total_blocks, size, reserve, is_percent):
    """Whether writing ``size`` more bytes keeps the reserve free (pure)."""
    free = avail_blocks * block_size - (size or 0)
    if is_percent:
        total = total_blocks * block_size
        return total > 0 and free * 100.0 / total >= reserve
    return free >= reserve


def merge_metadata(data_meta, meta_meta):
    """The object's metadata: the .data's data-bound keys and sysmeta, then the .meta's."""
    if not meta_meta:
        return dict(data_meta)
    merged = {k: v for k, v in data_meta.items() if k in DATA_BOUND or k.startswith(SYSMETA_PREFIX)}
    merged.update(meta_meta)
    return merged


def _call(fn, *args):
    return fn(*args)


def async_pending_name(name_hash, timestamp):
    """``'<suffix>/<hash>-<timestamp>'`` under ``async_pending/``."""
    return "%s/%s-%s" % (suffix_of(name_hash), name_hash, Timestamp(timestamp).internal)


class DiskFileManager:
    """Gives DiskFiles for objects on the devices under ``devices``.

    :param devices: the directory holding one directory per device.
    :param mount_check: refuse (507) a device directory that is not a mount point.
    :param logger: for the rare warnings (quarantine).
    :param reclaim_age: seconds after which tombstones are removed.
    :param fallocate_reserve: bytes, or ``'N%'``, kept free; writes beyond it get 507.
    :param disk_chunk_size: read size when streaming from disk.
    :param keep_cache_size: objects up to this size stay in the page cache after a read.
    :param run_blocking: ``callable(fn, *args)`` that runs the fsyncs of a
        write and suffix hashing (REPLICATE); the server passes eventlet's
        thread pool so that one worker's greenthreads fsync concurrently (the
        filesystem then commits them together) and a long rehash does not
        stall other requests. None: call directly.
    :param run_short: the same for the fsyncs that are short (a directory,
        a file of at most ``SHORT_FSYNC`` bytes); the server passes
        ``web.blocking.InlineWhenFast`` (inline while the disk is fast: a
        thread hand-off costs as much CPU as such an fsync takes). None: as
        ``run_blocking``.
    :param run_background: ``callable(fn, *args) -> handle`` that starts
        ``fn(*args)`` without waiting; ``handle.wait()`` returns its result or
        raises its exception. The server passes ``green.spawn_blocking``.
        None: no background syncs (the final fsync does all).
    :param sync_every: bytes of a body between background fdatasyncs (see
        the theory of operation); 0: none.
    """

    def __init__(self, devices, mount_check, logger, reclaim_age=604800, fallocate_reserve="0",
                 disk_chunk_size=DEFAULT_CHUNK, keep_cache_size=5242880, run_blocking=None, run_short=None,
                 run_background=None, sync_every=0):
        self.devices = devices
        self.mount_check = mount_check
        self.logger = logger
        self.reclaim_age = reclaim_age
        self.reserve, self.reserve_is_percent = parse_reserve(fallocate_reserve)
        self.disk_chunk_size = disk_chunk_size
        self.keep_cache_size = keep_cache_size
        self.run_blocking = run_blocking or _call
        self.run_short = run_short or self.run_blocking
        self.run_background = run_background
        self.sync_every = sync_every if run_background is not None else 0
        self._tmp_made = set()

    # --- devices ---------------------------------------------------------------
    def device_path(self, device):
        """``devices/<device>``; raises 507 (DiskFileDeviceUnavailable's parent) when unusable."""
        return check_device(self.devices, device, self.mount_check)

    def tmp_dir(self, device_path):
        path = os.path.join(device_path, "tmp")
        if path not in self._tmp_made:
            mkdirs(path)
            self._tmp_made.add(path)
        return path

    def check_space(self, device_path, size=0):
        """:raises DiskFileNoSpace: writing ``size`` bytes would eat into the reserve."""
        if not self.reserve:
            return
        st = os.statvfs(device_path)
        if not space_ok(st.f_bavail, st.f_frsize, st.f_blocks, size, self.reserve, self.reserve_is_percent):
            raise DiskFileNoSpace("not enough free space on %s (reserve %s%s)" % (
                device_path, self.reserve, "%" if self.reserve_is_percent else " bytes"))

    def clean_tmp(self, device, older_than=86400, now=None):
        """Remove temp files of writes that never finished (crashes). Returns the count."""
        return remove_stale_temp(self.device_path(device), older_than, now)

    # --- objects -----------------------------------------------------------------
    def get_diskfile(self, device, partition, account, container, obj):
        """The DiskFile of ``/account/container/obj`` in ``partition`` of ``device``.

        :raises InsufficientStorage: (507) the device is missing or unmounted.
        """
        dev_path = self.device_path(device)
        name_hash = hash_path(account, container, obj)
        return DiskFile(self, dev_path, str(partition), name_hash, "/%s/%s/%s" % (account, container, obj))

    def get_diskfile_from_hash(self, device, partition, name_hash):
        """A DiskFile known only by its hash (replicator, auditor): no name check."""
        dev_path = self.device_path(device)
        return DiskFile(self, dev_path, str(partition), name_hash, None)

    def partition_path(self, device, partition):
        return os.path.join(self.device_path(device), "objects", str(partition))

    def get_hashes(self, device, partition, recalculate=()):
        """``{suffix: md5 hex}`` of a partition (see hashes.get_hashes)."""
        return self.run_blocking(hashes_mod.get_hashes, self.partition_path(device, partition),
                                 tuple(recalculate), self.reclaim_age)

    # --- async pendings ------------------------------------------------------------
    def write_async_pending(self, device, op, account, container, obj, timestamp, headers, container_nodes):
        """Durably leave a container update for the object updater.

        The file is ``async_pending/<suffix>/<hash>-<timestamp>`` holding
        ``encoding.pack({"op", "account", "container", "obj", "headers",
        "container_nodes": [{"ip", "port", "device", "partition"}]}, 1)``.
        A newer update of the same object does not remove an older file: the
        container merges rows by timestamp, so replaying both is harmless.

        :returns: the path written.
        """
        dev_path = self.device_path(device)
        name_hash = hash_path(account, container, obj)
        path = os.path.join(dev_path, "async_pending", async_pending_name(name_hash, timestamp))
        body = {
            "op": op, "account": account, "container": container, "obj": obj,
            "headers": dict(headers), "container_nodes": list(container_nodes),
        }
        data = encoding.pack(body, ASYNC_VERSION)
        tmp = os.path.join(self.tmp_dir(dev_path), "async.%s" % uuid.uuid4().hex)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            renamer(tmp, path)
        except OSError as err:
            remove_file(tmp)
            if err.errno in _NO_SPACE:
                raise DiskFileNoSpace("no space for async_pending") from None
            raise
        return path

    # --- quarantine ----------------------------------------------------------------
    def quarantine(self, device_path, hash_dir, reason):
        """Move an object directory to ``quarantined/objects/`` and journal its suffix.

        :returns: the new path (None when it was already gone).
        """
        name_hash = os.path.basename(hash_dir)
        target_dir = os.path.join(device_path, "quarantined", "objects")
        target = os.path.join(target_dir, name_hash)
        try:
            mkdirs(target_dir)
            try:
                os.rename(hash_dir, target)
            except OSError as err:
                if err.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
                target = "%s-%s" % (target, uuid.uuid4().hex)
                os.rename(hash_dir, target)
            fsync_dir(target_dir)
        except FileNotFoundError:
            return None
        partition_path = os.path.dirname(os.path.dirname(hash_dir))
        try:
            hashes_mod.invalidate_suffix(partition_path, suffix_of(name_hash))
        except DiskFileError:
            pass
        self.logger.warning("quarantined %s to %s: %s", hash_dir, target, reason)
        return target


class DiskFile:
    """One object (by name hash) on one device.

    After :meth:`open`: ``metadata`` (merged .data + .meta), ``data_metadata``,
    ``data_timestamp``, ``timestamp`` (newest of .data/.meta), ``content_length``.
    Use :meth:`reader` to stream it, :meth:`writer` / :meth:`delete` /
    :meth:`write_metadata` to change it. Also use :meth:`state` to learn the
    newest timestamp (data or tombstone) without opening data.
    """

    def __init__(self, manager, device_path, partition, name_hash, name):
        self.manager = manager
        self.device_path = device_path
        self.partition = partition
        self.name_hash = name_hash
        self.name = name
        self.partition_path = os.path.join(device_path, "objects", partition)
        self.hash_dir = os.path.join(self.partition_path, suffix_of(name_hash), name_hash)
        self.metadata = None
        self.data_metadata = None
        self.data_timestamp = None
        self.timestamp = None
        self.content_length = None
        self.body_size = None
        self._fd = None

    # --- reading -----------------------------------------------------------------
    def open(self, allow_expired=False, now=None):
        """Open the newest data and read the metadata.

        :returns: self.
        :raises DiskFileDeleted: the newest file is a tombstone (``.timestamp``).
        :raises DiskFileExpired: X-Delete-At passed (``.metadata``, ``.timestamp``).
        :raises DiskFileQuarantined: it failed a check and was moved away.
        :raises DiskFileNotFound: nothing there.
        :raises DiskFileCollision: another name hashes to the same directory.
        """
        for _attempt in range(3):
            info = hashes_mod.gather_files(listdir(self.hash_dir))
            if info["ts"]:
                stamp = Timestamp(hashes_mod.split_name(info["ts"])[0])
                raise DiskFileDeleted("deleted", timestamp=stamp, metadata={"X-Timestamp": stamp.internal})
            if not info["data"]:
                raise DiskFileNotFound("not found")
            try:
                fd = os.open(os.path.join(self.hash_dir, info["data"]), os.O_RDONLY)
            except FileNotFoundError:
                continue  # a newer write removed it between listdir and open
            break
        else:
            raise DiskFileNotFound("object directory keeps changing")
        try:
            self._load(fd, info, allow_expired, now)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return self

    def _load(self, fd, info, allow_expired, now):
        size = os.fstat(fd).st_size
        try:
            data_meta, body_size = meta_mod.read_metadata(fd, size)
        except DiskFileXattrError as err:
            self._quarantine(str(err))
        if self.name is not None and data_meta.get("name") != self.name:
            raise DiskFileCollision("%s holds %r, not %r" % (self.hash_dir, data_meta.get("name"), self.name))
        try:
            length = int(data_meta["Content-Length"])
        except (KeyError, ValueError):
            self._quarantine("no Content-Length in metadata")
        if body_size != length:
            self._quarantine("body is %d bytes, metadata says %d" % (body_size, length))
        meta_meta = None
        if info["meta"]:
            try:
                meta_meta, _ = meta_mod.read_metadata_path(os.path.join(self.hash_dir, info["meta"]))
            except DiskFileNotFound:
                meta_meta = None
            except DiskFileXattrError as err:
                self._quarantine("bad .meta: %s" % err)
        self.data_metadata = data_meta
        self.metadata = merge_metadata(data_meta, meta_meta)
        self.data_timestamp = Timestamp(data_meta["X-Timestamp"])
        self.timestamp = Timestamp(self.metadata["X-Timestamp"])
        self.content_length = length
        self.body_size = body_size
        delete_at = self.metadata.get("X-Delete-At")
        if delete_at and not allow_expired:
            try:
                expired = int(delete_at) <= (now if now is not None else time.time())
            except ValueError:
                expired = False
            if expired:
                err = DiskFileExpired("expired", metadata=self.metadata)
                err.timestamp = self.timestamp
                raise err

    def _quarantine(self, reason):
        self.manager.quarantine(self.device_path, self.hash_dir, reason)
        raise DiskFileQuarantined(reason)

    def state(self):
        """``(newest timestamp of .data or .ts or None, is_tombstone)`` from names alone."""
        info = hashes_mod.gather_files(listdir(self.hash_dir))
        name = info["ts"] or info["data"]
        if not name:
            return None, False
        return Timestamp(hashes_mod.split_name(name)[0]), bool(info["ts"])

    def reader(self, keep_cache=None):
        """A :class:`DiskFileReader` over the opened data (it takes the fd)."""
        if self._fd is None:
            raise DiskFileError("reader() before open()")
        if keep_cache is None:
            keep_cache = self.content_length <= self.manager.keep_cache_size
        fd, self._fd = self._fd, None
        return DiskFileReader(fd, self, keep_cache)

    def close(self):
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- writing -----------------------------------------------------------------
    def writer(self, size=None, md5=True):
        """A :class:`DiskFileWriter` for a new .data of ``size`` bytes (None: unknown).

        :param md5: compute the body's md5 (``etag``); False when the sender
            gives it (a body footer, see server.py) and only the CRC-32 is needed.
        :raises DiskFileNoSpace: below the reserve, or preallocation failed.
        """
        return DiskFileWriter(self, size, md5=md5)

    def delete(self, timestamp, metadata=None):
        """Write a tombstone at ``timestamp`` (older files are removed)."""
        meta = dict(metadata or {})
        meta["X-Timestamp"] = Timestamp(timestamp).internal
        with DiskFileWriter(self, 0, reserve=False) as writer:
            writer.put(meta, ".ts")

    def write_metadata(self, metadata):
        """Write a .meta at ``metadata['X-Timestamp']`` (POST): it replaces user metadata."""
        with DiskFileWriter(self, 0) as writer:
            writer.put(metadata, ".meta")


class DiskFileWriter:
    """Writes one file of an object durably (see the module's theory of operation).

    Use as a context manager: leaving it without :meth:`put` removes the
    temp file. ``etag`` and ``bytes_written`` are available before put.
    """

    def __init__(self, diskfile, size=None, reserve=True, md5=True):
        self.diskfile = diskfile
        self.size = size
        self.bytes_written = 0
        self._written_back = 0  # bytes whose writeback was started
        self._synced = 0  # bytes covered by the last background fdatasync started
        self._behind = None  # that fdatasync while it may run (_SyncBehind)
        self._md5 = hashlib.md5(usedforsecurity=False) if md5 else None
        self._crc = 0
        self._done = False
        manager = diskfile.manager
        if reserve:
            manager.check_space(diskfile.device_path, size or 0)
        tmp_dir = manager.tmp_dir(diskfile.device_path)
        self.tmp_path = os.path.join(tmp_dir, "%s.%s" % (diskfile.name_hash, uuid.uuid4().hex))
        try:
            self._fd = os.open(self.tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except OSError as err:
            if err.errno in _NO_SPACE:
                raise DiskFileNoSpace("no space to create a temp file") from None
            raise
        if size and size >= PREALLOCATE_MIN:
            try:
                os.posix_fallocate(self._fd, 0, size)
            except OSError as err:
                self.close()
                if err.errno in _NO_SPACE:
                    raise DiskFileNoSpace("cannot preallocate %d bytes" % size) from None
                if err.errno not in (errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
                    raise

    def write(self, chunk):
        """Append ``chunk`` to the body.

        :raises DiskFileNoSpace: the disk filled up (close() removes the temp file).
        """
        if self._md5 is not None:
            self._md5.update(chunk)
        self._crc = zlib.crc32(chunk, self._crc)
        view = memoryview(chunk)
        try:
            while view:
                count = os.write(self._fd, view)
                view = view[count:]
        except OSError as err:
            if err.errno in _NO_SPACE:
                raise DiskFileNoSpace("disk full while writing") from None
            raise
        self.bytes_written += len(chunk)
        if self.bytes_written - self._written_back >= WRITEBACK_EVERY:
            self._start_writeback()
            sync_every = self.diskfile.manager.sync_every
            if sync_every and self.bytes_written - self._synced >= sync_every:
                self._sync_behind()

    def _start_writeback(self):
        """Queue what was written since the last call for writing to disk
        (durability still comes from the fsync in :meth:`put`)."""
        start, self._written_back = self._written_back, self.bytes_written
        try:
            os.posix_fadvise(self._fd, start, self.bytes_written - start, os.POSIX_FADV_DONTNEED)
        except OSError:
            pass  # only a hint

    def _sync_behind(self):
        """Start an fdatasync of what was written so far, unless the last one
        still runs (then the next call tries again)."""
        if self._behind is not None:
            if not self._behind.done:
                return
            self._finish_behind()
        self._synced = self.bytes_written
        self._behind = _SyncBehind(self.diskfile.manager.run_background, self._fd)

    def _finish_behind(self):
        """Wait for the background fdatasync, if one was started; raise its error.

        :raises DiskFileNoSpace: it failed for lack of space.
        """
        behind, self._behind = self._behind, None
        if behind is not None:
            try:
                behind.handle.wait()
            except OSError as err:
                if err.errno in _NO_SPACE:
                    raise DiskFileNoSpace("disk full at fdatasync") from None
                raise

    @property
    def etag(self):
        """md5 hex of what was written so far (None when made with ``md5=False``)."""
        return self._md5.hexdigest() if self._md5 is not None else None

    @property
    def crc(self):
        """CRC-32 of what was written so far, as 8 hex digits (as stored)."""
        return "%08x" % self._crc

    def put(self, metadata, ext=".data"):
        """Attach ``metadata``, fsync, rename into place, journal the suffix, clean up.

        ``metadata['X-Timestamp']`` names the file. For a ``.data`` the caller
        gives Content-Length and ETag (normally ``bytes_written``/``etag``).
        """
        df = self.diskfile
        timestamp = Timestamp(metadata["X-Timestamp"])
        if df.name is not None and "name" not in metadata:
            metadata = dict(metadata, name=df.name)
        if ext == ".data":
            metadata = dict(metadata, **{CRC_KEY: self.crc})
        else:
            metadata = {key: value for key, value in metadata.items() if key != CRC_KEY}
        if self.size and self.bytes_written < self.size:
            # preallocated beyond what was written (a .ts or .meta never is)
            os.ftruncate(self._fd, self.bytes_written)
        self._finish_behind()
        in_xattrs = meta_mod.write_metadata(self._fd, metadata, self.bytes_written)
        manager = df.manager
        run_blocking = manager.run_short if self.bytes_written <= SHORT_FSYNC else manager.run_blocking
        try:
            if self.bytes_written or not in_xattrs or not orders_metadata(self._fd):
                run_blocking(os.fsync, self._fd)
            # else a file of metadata only (a .ts, a .meta, an empty object)
            # on XFS: the directory fsync below makes it durable with its rename
        except OSError as err:
            if err.errno in _NO_SPACE:
                raise DiskFileNoSpace("disk full at fsync") from None
            raise
        target = os.path.join(df.hash_dir, timestamp.internal + ext)
        try:
            os.rename(self.tmp_path, target)
        except FileNotFoundError:
            try:  # a new object: its directory, usually in an existing suffix
                os.mkdir(df.hash_dir)
            except FileNotFoundError:
                mkdirs(df.hash_dir)
            except FileExistsError:
                pass
            os.rename(self.tmp_path, target)
        self._done = True
        # Journal the suffix after the rename (a concurrent rehash sees the
        # file or the line) and before the directory fsync, which then makes
        # both durable in one filesystem journal commit (see hashes.py).
        suffix = suffix_of(df.name_hash)
        try:
            hashes_mod.journal_suffix(df.partition_path, suffix)
        except OSError:
            # (a full disk refuses even 4 bytes) the object is in place;
            # dropping the hashes file makes the next get_hashes rehash all
            try:
                hashes_mod.clear_hashes(df.partition_path)
            except OSError:
                pass
        manager.run_short(fsync_dir, df.hash_dir)
        os.close(self._fd)
        self._fd = None
        hashes_mod.cleanup_dir(df.hash_dir)

    def close(self):
        behind, self._behind = self._behind, None
        if behind is not None:  # never close the fd under a running fdatasync
            try:
                behind.handle.wait()
            except OSError:
                pass  # the write is abandoned anyway
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if not self._done:
            remove_file(self.tmp_path)
            self._done = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _SyncBehind:
    """One background fdatasync of a writer's file: ``done`` once it returned."""

    def __init__(self, run_background, fd):
        self.done = False
        self.handle = run_background(self._run, fd)

    def _run(self, fd):
        try:
            os.fdatasync(fd)
        finally:
            self.done = True


class _BodyCheck:
    """The checksum of a full read: the stored CRC-32 when the .data has one,
    else the md5 against the ETag."""

    def __init__(self, crc, etag):
        self.crc = crc
        self.etag = etag
        if crc is not None:
            self.value = 0
        else:
            self.md5 = hashlib.md5(usedforsecurity=False)

    def update(self, data):
        if self.crc is not None:
            self.value = zlib.crc32(data, self.value)
        else:
            self.md5.update(data)

    def mismatch(self):
        """None when the body is intact, else why not (a quarantine reason)."""
        if self.crc is not None:
            got = "%08x" % self.value
            return None if got == self.crc else "crc32 %s does not match the stored %s" % (got, self.crc)
        got = self.md5.hexdigest()
        return None if got == self.etag else "md5 %s does not match ETag %s" % (got, self.etag)


class DiskFileReader:
    """Iterates an object's body from disk (see the module's theory of operation).

    Iterating gives the whole body; :meth:`app_iter_range` a byte range.
    Always :meth:`close` (the WSGI server does).
    """

    def __init__(self, fd, diskfile, keep_cache):
        self._fd = fd
        self.diskfile = diskfile
        self.keep_cache = keep_cache
        self.chunk = diskfile.manager.disk_chunk_size
        self.length = diskfile.content_length
        self.etag = diskfile.metadata.get("ETag")
        self.crc = (diskfile.data_metadata or {}).get(CRC_KEY)
        self.quarantined = False

    def __iter__(self):
        return self._read(0, self.length, verify=True)

    def app_iter_range(self, start, stop):
        """Bytes ``[start, stop)``; a range covering everything is verified too."""
        return self._read(start, stop, verify=(start == 0 and stop >= self.length))

    def _read(self, start, stop, verify):
        check = _BodyCheck(self.crc, self.etag) if verify else None
        offset = start
        pending = None
        while offset < stop:
            data = os.pread(self._fd, min(self.chunk, stop - offset), offset)
            if not data:
                self._quarantine("data ended at %d of %d bytes" % (offset, stop))
                raise DiskFileQuarantined("short data")
            offset += len(data)
            if check is None:
                yield data
                continue
            check.update(data)
            if pending is not None:
                yield pending
            if offset >= stop and len(data) > VERIFY_HOLD:
                # the last chunk: send all but its tail now, so that with big
                # chunks a corrupt object still has begun its (short) response
                yield data[:-VERIFY_HOLD]
                data = data[-VERIFY_HOLD:]
            pending = data
        if check is not None:
            problem = check.mismatch()
            if problem:
                self._quarantine(problem)
                raise DiskFileQuarantined(problem.split(" ", 1)[0] + " mismatch")
            if pending is not None:
                yield pending

    def _quarantine(self, reason):
        if not self.quarantined:
            self.quarantined = True
            df = self.diskfile
            df.manager.quarantine(df.device_path, df.hash_dir, reason)

    def close(self):
        if self._fd is not None:
            if not self.keep_cache:
                try:
                    os.posix_fadvise(self._fd, 0, 0, os.POSIX_FADV_DONTNEED)
                except OSError:
                    pass
            os.close(self._fd)
            self._fd = None
