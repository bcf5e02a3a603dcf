"""The object auditor: re-reads every object slowly and quarantines what no
longer matches its metadata, so the replicator restores a good copy.

What lives here: :class:`ObjectAuditor` (one pass over the local devices),
the walk of object directories (:func:`object_dirs`) and the check of one
object (:func:`audit_object`). What does not: reading metadata (metadata.py),
moving a bad object away (``DiskFileManager.quarantine`` in diskfile.py),
which files of a directory matter (hashes.py).

Theory of operation:
- A pass walks ``<devices>/<dev>/objects/<part>/<suffix>/<hash>/`` of every
  device directory (the auditor checks the disks it finds; it does not need
  the ring). For each object directory it removes obsolete files, including
  tombstones older than ``reclaim_age`` (hashing a suffix does that too, but
  the replicator only rehashes changed suffixes, so without this an old
  tombstone in a quiet suffix would stay forever); the suffix is journalled
  as changed when something was removed.
- The newest ``.data`` is checked: readable metadata, body size equal to
  ``Content-Length``, md5 of the body equal to ``ETag``. A ``.meta`` must have
  readable metadata. A failure moves the whole object directory to
  ``quarantined/objects/`` and journals the suffix, so the replicator's next
  REPLICATE shows a difference and a peer pushes the object back.
- Rate limits: ``files_per_second`` and ``bytes_per_second`` for the full
  check; ``zero_byte_files_per_second`` for objects whose body is empty,
  which only need their metadata checked (the "zero-byte fast pass"; with
  ``zero_byte_only`` a pass checks nothing else, like Swift's ZBF auditor).
  Limits keep the disks available to clients; set 0 for no limit.
"""

import dataclasses
import hashlib
import os
import time

from objstore.common.config import option
from objstore.common.exceptions import DiskFileError, DiskFileXattrError
from objstore.common.fs import ismount, listdir
from objstore.daemon.runner import Daemon, DaemonConfig, RateLimiter, daemon_main
from objstore.obj import hashes
from objstore.obj.diskfile import DiskFileManager
from objstore.obj.metadata import read_metadata, read_metadata_path

EMPTY_MD5 = hashlib.md5(b"", usedforsecurity=False).hexdigest()
CHUNK = 65536


@dataclasses.dataclass(frozen=True)
class AuditorConfig(DaemonConfig):
    interval: float = option(1800.0, "seconds from the start of one pass to the start of the next")
    files_per_second: float = option(20.0, "objects fully checked per second (0: no limit)")
    bytes_per_second: float = option(10485760.0, "bytes read per second for md5 checks (0: no limit)")
    zero_byte_files_per_second: float = option(50.0, "empty objects checked per second (0: no limit)")
    zero_byte_only: bool = option(False, "check only objects with an empty body (the fast pass)")
    reclaim_age: int = option(604800, "seconds a tombstone is kept; older ones are removed while walking")


# --- the walk ------------------------------------------------------------------
def object_dirs(device_path, partitions=None):
    """Yield ``(part, suffix, hash_dir_path)`` for every object directory."""
    objects = os.path.join(device_path, "objects")
    wanted = set(partitions) if partitions else None
    for part in sorted(listdir(objects)):
        if not part.isdigit() or (wanted is not None and int(part) not in wanted):
            continue
        part_path = os.path.join(objects, part)
        for suffix in sorted(listdir(part_path)):
            if not hashes.is_suffix(suffix):
                continue
            suffix_path = os.path.join(part_path, suffix)
            for name_hash in sorted(listdir(suffix_path)):
                yield int(part), suffix, os.path.join(suffix_path, name_hash)


# --- one object ----------------------------------------------------------------
def audit_object(hash_path, info, zero_byte_only=False, byte_limiter=None):
    """Check the files that matter of one object directory.

    :param info: ``hashes.gather_files`` of the directory.
    :returns: ``(verdict, bytes_read, reason)``: verdict ``"ok"``,
        ``"skipped"`` (nothing to check, or a non-empty body in a zero-byte
        pass) or ``"bad"`` (with the reason).
    """
    if info["meta"]:
        try:
            read_metadata_path(os.path.join(hash_path, info["meta"]))
        except DiskFileXattrError as err:
            return "bad", 0, ".meta: %s" % err
        except DiskFileError:
            return "skipped", 0, None  # gone meanwhile
    if not info["data"]:
        return "skipped", 0, None
    try:
        fd = os.open(os.path.join(hash_path, info["data"]), os.O_RDONLY)
    except FileNotFoundError:
        return "skipped", 0, None  # replaced by a newer write meanwhile
    try:
        try:
            metadata, body_size = read_metadata(fd)
        except DiskFileXattrError as err:
            return "bad", 0, str(err)
        try:
            length = int(metadata["Content-Length"])
        except (KeyError, ValueError, TypeError):
            return "bad", 0, "no Content-Length in metadata"
        if body_size != length:
            return "bad", 0, "body is %d bytes, metadata says %d" % (body_size, length)
        if zero_byte_only and body_size:
            return "skipped", 0, None
        md5 = hashlib.md5(usedforsecurity=False)
        offset = 0
        while offset < body_size:
            chunk = os.pread(fd, min(CHUNK, body_size - offset), offset)
            if not chunk:
                return "bad", offset, "data ended at %d of %d bytes" % (offset, body_size)
            md5.update(chunk)
            offset += len(chunk)
            if byte_limiter is not None:
                byte_limiter.wait(len(chunk))
        etag = str(metadata.get("ETag", "")).strip('"')
        if md5.hexdigest() != etag:
            return "bad", offset, "md5 %s does not match ETag %s" % (md5.hexdigest(), etag)
        return "ok", offset, None
    finally:
        os.close(fd)


# --- the daemon ----------------------------------------------------------------
class ObjectAuditor(Daemon):
    """One pass: every object on every local device checked once."""

    name = "object-auditor"
    server_section = "object-server"
    config_cls = AuditorConfig

    def __init__(self, config, logger, clock=time.monotonic, sleep=None, now=time.time):
        super().__init__(config, logger)
        self.manager = DiskFileManager(config.devices, config.mount_check, logger, config.reclaim_age)
        self.files_limiter = RateLimiter(config.files_per_second, clock, sleep)
        self.bytes_limiter = RateLimiter(config.bytes_per_second, clock, sleep)
        self.zbf_limiter = RateLimiter(config.zero_byte_files_per_second, clock, sleep)
        self.now = now

    def device_paths(self, only=None):
        """``[(name, path)]`` of the usable device directories."""
        result = []
        for name in sorted(listdir(self.config.devices)):
            if only and name not in only:
                continue
            path = os.path.join(self.config.devices, name)
            if not os.path.isdir(path) or (self.config.mount_check and not ismount(path)):
                continue
            result.append((name, path))
        return result

    def run_pass(self, devices=None, partitions=None):
        stats = {"objects_checked": 0, "quarantined": 0, "errors": 0, "bytes_read": 0,
                 "tombstones_reclaimed": 0, "zero_byte_only": self.config.zero_byte_only}
        for _name, device_path in self.device_paths(devices):
            if self.stopping():
                break
            self.audit_device(device_path, partitions, stats)
        return stats

    def audit_device(self, device_path, partitions, stats):
        reclaim_before = self.now() - self.config.reclaim_age
        for _part, suffix, hash_path in object_dirs(device_path, partitions):
            if self.stopping():
                return
            try:
                names = listdir(hash_path)
                info = hashes.cleanup_dir(hash_path, reclaim_before, names)
                if info["obsolete"]:
                    stats["tombstones_reclaimed"] += sum(1 for n in info["obsolete"] if n.endswith(".ts"))
                    hashes.invalidate_suffix(os.path.dirname(os.path.dirname(hash_path)), suffix)
                verdict, read, reason = audit_object(
                    hash_path, info, self.config.zero_byte_only, self.bytes_limiter)
            except Exception:  # the daemon loop's catch-all, per object
                stats["errors"] += 1
                self.logger.exception("ERROR auditing %s", hash_path)
                continue
            stats["bytes_read"] += read
            if verdict == "skipped":
                continue
            stats["objects_checked"] += 1
            if verdict == "bad":
                stats["quarantined"] += 1
                self.manager.quarantine(device_path, hash_path, reason)
            if read:
                self.files_limiter.wait()
            else:
                self.zbf_limiter.wait()


def main(argv=None):
    """``objstore-object-auditor CONF [--once] [--devices ..] [--partitions ..]``."""
    return daemon_main(ObjectAuditor, argv)


if __name__ == "__main__":
    raise SystemExit(main())

