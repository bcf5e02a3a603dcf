"""The object replicator: keeps every partition's objects on all its primaries.

What lives here: :class:`ObjectReplicator` (one pass over this node's object
partitions), the pure job planning (:func:`plan_job`) and the sender side of
our sync protocol (:class:`SuffixSender`). What does not: suffix hashing and
the hashes file (hashes.py), object files and metadata (diskfile.py,
metadata.py), the receiving side (the object server's ordinary verbs).

Theory of operation:
- A pass visits each partition directory under ``<devices>/<dev>/objects/``
  of each local device (ring devices whose ip/port are this node's,
  daemon/local.py). If the device is one of the partition's primaries the job
  is a *primary* job: its peers are the other primaries. Otherwise it is a
  *handoff* job: its peers are all primaries, and the partition is removed
  locally once every one of them has everything.
- Per peer: ``REPLICATE /<dev>/<part>`` answers the peer's ``{suffix: md5}``.
  Our own hashes come from ``hashes.get_hashes`` (cached in the partition's
  hashes file, so a pass with nothing to do reads one small file per partition
  and sends one request per peer; it never walks the objects).
  ``hashes.diff_hashes`` gives the suffixes whose hash differs.
- Sync protocol (per differing suffix, per object in it): ``HEAD`` the object
  on the peer with ``X-Backend-Replication: true``; its ``X-Backend-Timestamp``
  (newest file, also on the 404 of a tombstone) and
  ``X-Backend-Data-Timestamp`` say what it has. Then, only when ours is newer:
  ``PUT`` the .data with its exact ``X-Timestamp`` and all its metadata,
  ``POST`` the .meta with its timestamp, or ``DELETE`` with the tombstone's
  timestamp. Every request carries ``X-Backend-Replication: true``, so the
  peer stores the timestamps given and sends no container updates (the
  listing was already updated when the object was first written). Newest
  timestamp wins on the receiver, so a race with a client write is harmless.
- Re-check: ``REPLICATE /<dev>/<part>/<suf>-<suf>`` makes the peer recompute
  those suffixes; a suffix still differing is logged (the peer may simply hold
  a newer version, which its own replicator will push to us).
- Tombstones older than ``reclaim_age`` are never pushed; hashing a suffix
  (hashes.get_hashes) removes them, on both sides.
- A primary that cannot be reached (connection refused, timeout, 507) is
  replaced for this pass by the next handoff in ring order, so an object
  keeps its replica count while a node is away; that handoff's own
  replicator gives the partition back once the primary returns.
- A handoff partition is removed object by object: only objects whose files
  were confirmed on every primary, and only if they did not change since they
  were sent, so a write that lands during the sync is not lost.
"""

import dataclasses
import os
import shutil

from objstore.common import encoding
from objstore.common.config import option
from objstore.common.exceptions import BackendError, ConnectionTimeout, ObjstoreError
from objstore.common.fs import listdir
from objstore.common.timestamp import Timestamp
from objstore.daemon import local
from objstore.daemon.runner import Daemon, DaemonConfig, daemon_main
from objstore.obj import hashes
from objstore.obj.diskfile import CRC_KEY, remove_stale_temp
from objstore.obj.metadata import read_metadata
from objstore.ring import Ring
from objstore.web.backend import ConnectionPool, quote_path

REPLICATION_HEADER = "X-Backend-Replication"
# Metadata keys that are not request headers to copy on a replicated PUT/POST.
NOT_HEADERS = frozenset(("name", "x-timestamp", "content-length", CRC_KEY))  # the receiver computes its own CRC


@dataclasses.dataclass(frozen=True)
class ReplicatorConfig(DaemonConfig):
    interval: float = option(30.0, "seconds from the start of one pass to the start of the next")
    reclaim_age: int = option(604800, "seconds a tombstone is kept before it is removed everywhere")
    conn_timeout: float = option(0.5, "seconds to connect to a peer")
    node_timeout: float = option(10.0, "seconds to wait on any one read or write with a peer")
    handoff_delete: bool = option(True, "remove a handoff partition once all its primaries have it")
    sync_to_handoffs: bool = option(True, "while a primary is unreachable, sync its partitions to a handoff instead")


# --- pure planning -------------------------------------------------------------
def plan_job(device, part, primaries):
    """What to do with a local partition.

    :param device: the local ring device dict (``id``).
    :param part: the partition number.
    :param primaries: the partition's primary node dicts.
    :returns: ``{"part", "primary": bool, "peers": [node dicts]}``; a primary
        job syncs with the other primaries, a handoff job with all of them.
    """
    ids = [node["id"] for node in primaries]
    if device["id"] in ids:
        peers = [node for node in primaries if node["id"] != device["id"]]
        return {"part": part, "primary": True, "peers": peers}
    return {"part": part, "primary": False, "peers": list(primaries)}


def partition_dirs(objects_path, only=None):
    """``[(part, path)]`` of the partition directories, sorted by number."""
    wanted = set(only) if only else None
    result = []
    for name in listdir(objects_path):
        if not name.isdigit():
            continue
        part = int(name)
        if wanted is not None and part not in wanted:
            continue
        path = os.path.join(objects_path, name)
        if os.path.isdir(path):
            result.append((part, path))
    return sorted(result)


def needs_push(local, remote):
    """Which requests bring a peer up to our state of one object.

    :param local: ``{"data": ts, "meta": ts, "ts": ts}`` (Timestamps or None).
    :param remote: ``{"newest": ts or None, "data": ts or None}`` from its HEAD.
    :returns: a list among ``"PUT"``, ``"POST"``, ``"DELETE"``, in order.
    """
    newest = remote.get("newest")
    if local.get("ts") is not None:
        return ["DELETE"] if newest is None or newest < local["ts"] else []
    ops = []
    data = local.get("data")
    if data is None:
        return ops
    remote_data = remote.get("data")
    if newest is not None and newest > data and remote_data is None:
        return ops  # a newer tombstone over there
    if remote_data is None or remote_data < data:
        ops.append("PUT")
    meta = local.get("meta")
    if meta is not None and (newest is None or newest < meta or "PUT" in ops):
        ops.append("POST")
    return ops


def _stamp(name):
    return Timestamp(name.rpartition(".")[0]) if name else None


def _header_stamp(headers, key):
    value = headers.get(key)
    if not value:
        return None
    try:
        return Timestamp(value)
    except ObjstoreError:
        return None


# --- the sender ----------------------------------------------------------------
class _BodyReader:
    """A file object that stops at ``size`` bytes (the metadata trailer, when
    there is one, follows the body in the same file)."""

    def __init__(self, handle, size):
        self.handle = handle
        self.left = size

    def read(self, amount=65536):
        if self.left <= 0:
            return b""
        want = min(self.left, 65536) if amount is None or amount < 0 else min(amount, self.left, 65536)
        chunk = self.handle.read(want)
        self.left -= len(chunk)
        return chunk


class SuffixSender:
    """Pushes the objects of some suffixes of one partition to one peer.

    :param pool: a ConnectionPool (or anything with ``request``).
    :param node: the peer's node dict (replication_ip/port preferred).
    :param part: the partition number.
    :param part_path: the local partition directory.
    :param reclaim_before: POSIX time; older tombstones are not pushed.
    """

    def __init__(self, pool, node, part, part_path, reclaim_before, logger):
        self.pool = pool
        self.node = node
        self.part = part
        self.part_path = part_path
        self.reclaim_before = reclaim_before
        self.logger = logger
        self.ip = node.get("replication_ip") or node["ip"]
        self.port = node.get("replication_port") or node["port"]
        self.pushed = 0
        self.failures = 0

    def request(self, method, path, headers=None, body=None):
        headers = dict(headers or {})
        headers[REPLICATION_HEADER] = "true"
        return self.pool.request(self.ip, self.port, method, path, headers, body)

    def sync_suffixes(self, suffixes):
        """Push every object of ``suffixes``.

        :returns: ``{hash_dir_path: kept file names}`` of the objects the peer
            now has (for handoff removal); objects that failed are absent.
        """
        confirmed = {}
        for suffix in suffixes:
            suffix_path = os.path.join(self.part_path, suffix)
            for name_hash in sorted(listdir(suffix_path)):
                hash_path = os.path.join(suffix_path, name_hash)
                try:
                    kept = self.sync_object(hash_path)
                except (ObjstoreError, OSError) as err:
                    self.failures += 1
                    self.logger.warning("sync of %s to %s:%s/%s failed: %s",
                                        hash_path, self.ip, self.port, self.node["device"], err)
                    continue
                if kept is not None:
                    confirmed[hash_path] = kept
        return confirmed

    def sync_object(self, hash_path):
        """Bring the peer up to date with one object directory.

        :returns: the names of the files that matter (now on the peer), or
            None when a request failed.
        """
        info = hashes.cleanup_dir(hash_path, self.reclaim_before)
        if not info["kept"]:
            return []
        newest_name = info["ts"] or info["data"]
        meta_name = info["meta"]
        metadata = self._read(os.path.join(hash_path, newest_name))[0]
        obj_path = metadata.get("name")
        if not obj_path:
            raise ObjstoreError("no object name in the metadata of %s" % newest_name)
        path = quote_path(self.node["device"], str(self.part)) + quote_path(*obj_path.lstrip("/").split("/", 2))
        head = self.request("HEAD", path)
        if head.status >= 500 or head.status in (400, 401, 403):
            raise ObjstoreError("HEAD answered %d" % head.status)
        remote = {
            "newest": _header_stamp(head.headers, "x-backend-timestamp"),
            "data": _header_stamp(head.headers, "x-backend-data-timestamp") if head.status < 300 else None,
        }
        if head.status < 300 and remote["data"] is None:
            remote["data"] = _header_stamp(head.headers, "x-timestamp")
        if head.status < 300 and remote["newest"] is None:
            remote["newest"] = remote["data"]
        local_state = {"ts": _stamp(info["ts"]), "data": _stamp(info["data"]), "meta": _stamp(meta_name)}
        for op in needs_push(local_state, remote):
            if op == "DELETE":
                resp = self.request("DELETE", path, {"X-Timestamp": local_state["ts"].internal})
                ok = resp.status in (204, 404, 409) or 200 <= resp.status < 300
            elif op == "PUT":
                resp = self._put(path, os.path.join(hash_path, info["data"]))
                ok = 200 <= resp.status < 300 or resp.status == 409
            else:
                meta = self._read(os.path.join(hash_path, meta_name))[0]
                headers = _headers_of(meta)
                headers["X-Timestamp"] = local_state["meta"].internal
                resp = self.request("POST", path, headers)
                ok = 200 <= resp.status < 300 or resp.status in (404, 409)
            if not ok:
                raise ObjstoreError("%s answered %d" % (op, resp.status))
            self.pushed += 1
        return info["kept"]

    def _read(self, file_path):
        fd = os.open(file_path, os.O_RDONLY)
        try:
            return read_metadata(fd)
        finally:
            os.close(fd)

    def _put(self, path, data_path):
        with open(data_path, "rb") as handle:
            metadata, body_size = read_metadata(handle.fileno())
            headers = _headers_of(metadata)
            headers["X-Timestamp"] = Timestamp(metadata.get("X-Timestamp") or _stamp(os.path.basename(data_path))).internal
            headers["Content-Length"] = str(body_size)
            return self.request("PUT", path, headers, _BodyReader(handle, body_size))

    def remote_hashes(self, suffixes=()):
        """The peer's ``{suffix: md5}`` (recomputing ``suffixes`` first).

        :raises ObjstoreError: the peer failed or answered badly (507 when
            its device is unmounted).
        """
        path = quote_path(self.node["device"], str(self.part))
        if suffixes:
            path += "/" + "-".join(suffixes)
        resp = self.request("REPLICATE", path)
        if resp.status != 200:
            raise ObjstoreError("REPLICATE answered %d" % resp.status, status=resp.status)
        _version, body = encoding.unpack(resp.body)
        if not isinstance(body, dict):
            raise ObjstoreError("REPLICATE answered a %s" % type(body).__name__)
        return body


def _headers_of(metadata):
    """Request headers that recreate ``metadata`` on a peer."""
    return {
        key: str(value)
        for key, value in metadata.items()
        if key.lower() not in NOT_HEADERS and key.isascii() and " " not in key and value is not None
    }


# --- the daemon ----------------------------------------------------------------
class ObjectReplicator(Daemon):
    """One pass: every local object partition synced with its peers.

    :param ring: the object Ring (loaded from ``ring_dir`` when None).
    :param pool: the ConnectionPool to peers (made from the config when None).
    """

    name = "object-replicator"
    server_section = "object-server"
    config_cls = ReplicatorConfig

    def __init__(self, config, logger, ring=None, pool=None, now=None):
        super().__init__(config, logger)
        self._ring = ring
        self.pool = pool or ConnectionPool(config.conn_timeout, config.node_timeout)
        self.now = now  # injected clock for tests; time.time when None

    @property
    def ring(self):
        if self._ring is None:
            self._ring = Ring(os.path.join(self.config.ring_dir, "object.ring.gz"))
        return self._ring

    def _time(self):
        import time

        return self.now() if self.now else time.time()

    def local_devices(self, only=None):
        return local.local_devices(self.ring.devs, self.config.bind_ip, self.config.bind_port, only)

    def run_pass(self, devices=None, partitions=None):
        stats = {
            "partitions_checked": 0, "partitions_synced": 0, "partitions_failed": 0,
            "suffixes_checked": 0, "suffixes_synced": 0, "objects_pushed": 0,
            "handoffs_removed": 0, "devices_skipped": 0, "temp_files_removed": 0,
        }
        jobs = []
        for device in self.local_devices(devices):
            dev_path = os.path.join(self.config.devices, device["device"])
            if self.config.mount_check and not os.path.ismount(dev_path) or not os.path.isdir(dev_path):
                stats["devices_skipped"] += 1
                self.logger.warning("skipping %s: not mounted or missing", device["device"])
                continue
            stats["temp_files_removed"] += remove_stale_temp(dev_path, self.config.reclaim_age, self._time())
            for part, part_path in partition_dirs(os.path.join(dev_path, "objects"), partitions):
                if part >= self.ring.partition_count:
                    continue
                job = plan_job(device, part, self.ring.get_part_nodes(part))
                job["device"] = device
                job["path"] = part_path
                jobs.append(job)
        for result in self.run_concurrently(self.replicate_job, jobs):
            stats["partitions_checked"] += 1
            if result is None:
                stats["partitions_failed"] += 1
                continue
            for key in ("suffixes_checked", "suffixes_synced", "objects_pushed", "handoffs_removed"):
                stats[key] += result.get(key, 0)
            if result.get("failed"):
                stats["partitions_failed"] += 1
            elif result.get("suffixes_synced"):
                stats["partitions_synced"] += 1
        return stats

    def replicate_job(self, job):
        """Sync one partition with its peers; returns per-job counts."""
        result = {"suffixes_checked": 0, "suffixes_synced": 0, "objects_pushed": 0,
                  "handoffs_removed": 0, "failed": False}
        if self.stopping():
            return result
        now = self._time()
        reclaim_before = now - self.config.reclaim_age
        local_hashes = hashes.get_hashes(job["path"], reclaim_age=self.config.reclaim_age, now=now)
        result["suffixes_checked"] = len(local_hashes)
        confirmed_by_all = None
        peers = list(job["peers"])
        stand_ins = self.stand_ins(job) if job["primary"] and self.config.sync_to_handoffs else iter(())
        while peers:
            peer = peers.pop(0)
            if self.stopping():
                result["failed"] = True
                break
            sender = SuffixSender(self.pool, peer, job["part"], job["path"], reclaim_before, self.logger)
            try:
                remote = sender.remote_hashes()
                suffixes = hashes.diff_hashes(local_hashes, remote)
                confirmed = {}
                if suffixes:
                    confirmed = sender.sync_suffixes(suffixes)
                    after = sender.remote_hashes(suffixes)
                    left = [s for s in suffixes if after.get(s) != local_hashes.get(s)]
                    if left:
                        self.logger.debug("partition %s suffixes %s still differ on %s", job["part"], left, peer["device"])
                    result["suffixes_synced"] += len(suffixes)
                    result["objects_pushed"] += sender.pushed
            except (ObjstoreError, OSError) as err:
                self.logger.warning("replication of %s/%s with %s:%s/%s failed: %s", job["device"]["device"],
                                    job["part"], sender.ip, sender.port, peer["device"], err)
                result["failed"] = True
                if isinstance(err, (BackendError, ConnectionTimeout)) or getattr(err, "status", None) == 507:
                    stand_in = next(stand_ins, None)  # keep the replica count while a primary is away
                    if stand_in is not None:
                        peers.append(stand_in)
                continue
            if sender.failures:
                result["failed"] = True
            if not job["primary"]:
                in_sync = set(local_hashes) - set(suffixes)
                confirmed_by_all = _intersect(confirmed_by_all, confirmed, in_sync, job["path"])
        if not job["primary"] and not result["failed"] and self.config.handoff_delete and job["peers"]:
            result["handoffs_removed"] = self.remove_handoff(job, confirmed_by_all or {})
        return result

    def stand_ins(self, job):
        """Handoff nodes, in ring order, to sync with in place of unreachable
        primaries (a primary job only; never this device or a primary)."""
        taken = {node["id"] for node in job["peers"]} | {job["device"]["id"]}
        for node in self.ring.get_more_nodes(job["part"]):
            if node["id"] not in taken:
                taken.add(node["id"])
                yield node

    def remove_handoff(self, job, confirmed):
        """Remove the objects every primary has, then the partition if empty.

        :param confirmed: ``{hash_dir_path: kept names}`` as sent; a directory
            whose files changed since is kept for the next pass.
        :returns: 1 when the partition directory is gone, else 0.
        """
        for hash_path, kept in confirmed.items():
            now_kept = hashes.gather_files(listdir(hash_path))["kept"]
            if sorted(now_kept) == sorted(kept):
                shutil.rmtree(hash_path, ignore_errors=True)
        for suffix in listdir(job["path"]):
            suffix_path = os.path.join(job["path"], suffix)
            if hashes.is_suffix(suffix) and not listdir(suffix_path):
                try:
                    os.rmdir(suffix_path)
                except OSError:
                    pass
        if any(hashes.is_suffix(name) for name in listdir(job["path"])):
            hashes.clear_hashes(job["path"])
            return 0
        shutil.rmtree(job["path"], ignore_errors=True)
        self.logger.info("removed handoff partition %s", job["path"])
        return 1


def _intersect(so_far, confirmed, in_sync_suffixes, part_path):
    """Objects every peer seen so far has: those sent and confirmed, plus all
    objects of suffixes that were already equal on the peer."""
    have = dict(confirmed)
    for suffix in in_sync_suffixes:
        suffix_path = os.path.join(part_path, suffix)
        for name_hash in listdir(suffix_path):
            hash_path = os.path.join(suffix_path, name_hash)
            have.setdefault(hash_path, hashes.gather_files(listdir(hash_path))["kept"])
    if so_far is None:
        return have
    return {path: kept for path, kept in so_far.items() if path in have and have[path] == kept}


def main(argv=None):
    """``objstore-object-replicator CONF [--once] [--devices ..] [--partitions ..]``."""
    return daemon_main(ObjectReplicator, argv)


if __name__ == "__main__":
    raise SystemExit(main())
