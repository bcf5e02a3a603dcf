"""The shared DB replicator: keeps every container (or account) database on
all its primaries. ``container/replicator.py`` and ``account/replicator.py``
are subclasses made of class attributes only.

What lives here: the pass over local DB files, the per-DB sync with each
peer (the client side of the REPLICATE protocol of ``db/server.py``), reclaim
of old tombstone rows and of long-deleted DBs, and removal of handoff copies.
What does not: the rows and merges (brokers), the server side of the protocol
(``db/server.py``), looping and signals (``daemon/runner.py``).

Theory of operation:
- A pass walks ``<devices>/<dev>/<kind>s/<part>/<suffix>/<hash>/<hash>.db``
  of every local ring device. Per DB: reclaim rows older than
  ``reclaim_age``; a DB deleted longer ago than that is removed (its
  replicas do the same, so it cannot come back). Otherwise sync with the
  partition's other primaries (with all of them for a handoff copy).
- Per peer: ``sync`` sends our id, ``max_row`` and timestamps/metadata; the
  answer's ``point`` is the last of our rows the peer has merged. Rows after
  it go in ``merge_items`` batches of ``per_diff``; more than ``max_diffs``
  batches behind (or a 404: the peer has no such DB) sends the whole DB
  instead: a consistent copy from SQLite's backup API is written to the
  device's ``tmp`` dir and streamed from there as the raw body of a
  ``put_db`` (64 KiB at a time, with its ``Content-Length``), so neither end
  ever holds the DB in memory (a peer still on the release before this
  reads that body as msgpack and answers 400: a failure, retried each pass
  until it is upgraded; row batches to it work as before). Then
  ``merge_syncs`` tells the peer what we hold from third replicas, and we
  take the peer's timestamps and metadata from its answer, so both ends
  converge even before the peer's own replicator runs.
- Merges are newest-wins and idempotent on the receiver, so a row that
  travels back to where it came from changes nothing, and a race with a
  client write is harmless.
- A handoff copy is removed once every primary has synced successfully and
  no row arrived while it was being sent.
"""

import dataclasses
import os
import shutil
import tempfile
import time

from objstore.common import encoding
from objstore.common.config import option
from objstore.common.exceptions import ObjstoreError
from objstore.common.fs import listdir
from objstore.daemon import local
from objstore.daemon.runner import Daemon, DaemonConfig
from objstore.db.broker import remove_temp_db
from objstore.db.server import REPLICATE_VERSION, put_db_headers
from objstore.ring import Ring
from objstore.web.backend import ConnectionPool, quote_path


@dataclasses.dataclass(frozen=True)
class DBReplicatorConfig(DaemonConfig):
    reclaim_age: int = option(604800, "seconds deleted rows and deleted databases are kept")
    conn_timeout: float = option(0.5, "seconds to connect to a peer")
    node_timeout: float = option(10.0, "seconds to wait on any one read or write with a peer")
    per_diff: int = option(1000, "rows per merge_items request")
    max_diffs: int = option(100, "merge_items requests per DB per pass before sending the whole DB")
    handoff_delete: bool = option(True, "remove a handoff DB once all its primaries have it")


def db_files(kind_path, partitions=None):
    """``[(part, db_path)]`` of every DB file under ``<dev>/<kind>s``."""
    wanted = set(partitions) if partitions else None
    found = []
    for part_name in sorted(listdir(kind_path), key=lambda n: (len(n), n)):
        if not part_name.isdigit() or (wanted is not None and int(part_name) not in wanted):
            continue
        part_path = os.path.join(kind_path, part_name)
        for suffix in sorted(listdir(part_path)):
            suffix_path = os.path.join(part_path, suffix)
            for name_hash in sorted(listdir(suffix_path)):
                path = os.path.join(suffix_path, name_hash, name_hash + ".db")
                if os.path.exists(path):
                    found.append((int(part_name), path))
    return found


def peers_for(device, primaries):
    """``(is_primary, peers)``: the other primaries, or all of them for a handoff."""
    if any(node["id"] == device["id"] for node in primaries):
        return True, [node for node in primaries if node["id"] != device["id"]]
    return False, list(primaries)


class DBReplicator(Daemon):
    """One pass: every local DB synced with its peers (see the module docstring).

    Subclasses set ``name``, ``server_section``, ``db_type``, ``broker_class``
    and ``ring_name``.

    :param ring: the Ring of this kind (loaded from ``ring_dir`` when None).
    :param pool: the ConnectionPool to peers (made from the config when None).
    :param now: a clock for tests (``time.time`` when None).
    """

    config_cls = DBReplicatorConfig
    db_type = None
    broker_class = None
    ring_name = None

    def __init__(self, config, logger, ring=None, pool=None, now=None):
        super().__init__(config, logger)
        self._ring = ring
        self.pool = pool or ConnectionPool(config.conn_timeout, config.node_timeout)
        self.now = now or time.time

    @property
    def ring(self):
        if self._ring is None:
            self._ring = Ring(os.path.join(self.config.ring_dir, self.ring_name))
        return self._ring

    def run_pass(self, devices=None, partitions=None):
        stats = {"checked": 0, "no_change": 0, "rows_sent": 0, "whole_sent": 0, "failures": 0,
                 "removed": 0, "reclaimed_rows": 0, "devices_skipped": 0}
        jobs = []
        for device in local.local_devices(self.ring.devs, self.config.bind_ip, self.config.bind_port, devices):
            dev_path = os.path.join(self.config.devices, device["device"])
            if (self.config.mount_check and not os.path.ismount(dev_path)) or not os.path.isdir(dev_path):
                stats["devices_skipped"] += 1
                self.logger.warning("skipping %s: not mounted or missing", device["device"])
                continue
            for part, path in db_files(os.path.join(dev_path, self.db_type + "s"), partitions):
                if part < self.ring.partition_count:
                    jobs.append((device, part, path))
        for result in self.run_concurrently(self.replicate_db, jobs):
            stats["checked"] += 1
            if result is None:
                stats["failures"] += 1
                continue
            for key, value in result.items():
                stats[key] = stats.get(key, 0) + value
        return stats

    def replicate_db(self, job):
        """Reclaim, then sync one DB with its peers; returns per-DB counts."""
        device, part, path = job
        result = {"rows_sent": 0, "whole_sent": 0, "failures": 0, "removed": 0, "reclaimed_rows": 0,
                  "no_change": 0}
        if self.stopping():
            return result
        broker = self.broker_class(path, logger=self.logger)
        try:
            now = self.now()
            result["reclaimed_rows"] = broker.reclaim(now - self.config.reclaim_age)
            if broker.is_reclaimable(now, self.config.reclaim_age):
                broker.close()
                self._remove(path)
                result["removed"] = 1
                return result
            before = broker.get_info()["max_row"]
            primary, peers = peers_for(device, self.ring.get_part_nodes(part))
            all_ok = bool(peers)
            for peer in peers:
                if self.stopping():
                    all_ok = False
                    break
                try:
                    sent = self.sync_with(broker, peer, part)
                except (ObjstoreError, OSError) as err:
                    self.logger.warning("replication of %s with %s:%s/%s failed: %s",
                                        path, peer["ip"], peer["port"], peer["device"], err)
                    result["failures"] += 1
                    all_ok = False
                    continue
                result["rows_sent"] += sent["rows"]
                result["whole_sent"] += sent["whole"]
                if not sent["rows"] and not sent["whole"]:
                    result["no_change"] += 1
            # a write that reached this handoff copy during the sync keeps it
            # for the next pass (get_info merges the pending file first)
            if not primary and all_ok and self.config.handoff_delete \
                    and broker.get_info()["max_row"] == before:
                broker.close()
                self._remove(path)
                result["removed"] = 1
        finally:
            broker.close()
        return result

    # --- the client side of the REPLICATE protocol -----------------------------------------
    def _replicate(self, peer, part, name_hash, headers, body):
        """One REPLICATE request to ``peer``'s replication address; a BackendResponse."""
        return self.pool.request(peer.get("replication_ip") or peer["ip"],
                                 peer.get("replication_port") or peer["port"],
                                 "REPLICATE", quote_path(peer["device"], str(part), name_hash), headers, body)

    def call(self, peer, part, name_hash, op, **args):
        """One msgpack REPLICATE op; ``(status, decoded answer or None)``."""
        args["op"] = op
        resp = self._replicate(peer, part, name_hash, {"Content-Type": "application/octet-stream"},
                               encoding.pack(args, REPLICATE_VERSION))
        answer = None
        if 200 <= resp.status < 300 and resp.body:
            answer = encoding.unpack(resp.body, (REPLICATE_VERSION,))[1]
        return resp.status, answer

    def sync_with(self, broker, peer, part):
        """Bring ``peer`` up to date with ``broker``; returns ``{"rows", "whole"}``.

        :raises ObjstoreError: the peer answered badly or not at all.
        """
        name_hash = os.path.basename(broker.db_dir)
        info = broker.get_replication_info()
        public = {key: info[key] for key in ("created_at", "put_timestamp", "delete_timestamp", "metadata")}
        status, answer = self.call(peer, part, name_hash, "sync", id=info["id"], max_row=info["max_row"],
                                   info=public)
        if status == 404:
            self.send_whole(broker, peer, part, name_hash, info["id"])
            return {"rows": 0, "whole": 1}
        if status != 200:
            raise ObjstoreError("sync answered %s" % status)
        remote = answer["info"]
        broker.merge_timestamps(remote["created_at"], remote["put_timestamp"], remote["delete_timestamp"])
        broker.update_metadata({key: tuple(value) for key, value in remote["metadata"].items()})
        point = answer["point"]
        if info["max_row"] - point > self.config.per_diff * self.config.max_diffs:
            self.send_whole(broker, peer, part, name_hash, info["id"])
            broker.merge_syncs([{"remote_id": answer["id"], "sync_point": info["max_row"]}], incoming=False)
            return {"rows": 0, "whole": 1}
        sent = 0
        while point < info["max_row"]:
            rows = broker.get_items_since(point, self.config.per_diff)
            if not rows:
                break
            status, _ = self.call(peer, part, name_hash, "merge_items", items=rows, source=info["id"])
            if status != 202:
                raise ObjstoreError("merge_items answered %s" % status)
            point = rows[-1]["ROWID"]
            sent += len(rows)
        status, _ = self.call(peer, part, name_hash, "merge_syncs", sync_points=broker.get_syncs(incoming=True))
        if status != 202:
            raise ObjstoreError("merge_syncs answered %s" % status)
        broker.merge_syncs([{"remote_id": answer["id"], "sync_point": point}], incoming=False)
        return {"rows": sent, "whole": 0}

    def send_whole(self, broker, peer, part, name_hash, storage_id):
        """Send a consistent copy of the whole DB: a streamed ``put_db``
        whose body is read from a temp copy a chunk at a time.

        :raises ObjstoreError: the peer refused it or did not answer.
        """
        tmp_dir = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
            broker.db_dir)))), "tmp")
        os.makedirs(tmp_dir, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=tmp_dir, suffix=".db")
        os.close(fd)
        try:
            broker.backup_to(tmp)
            with open(tmp, "rb") as handle:
                headers = put_db_headers(storage_id, os.fstat(handle.fileno()).st_size)
                resp = self._replicate(peer, part, name_hash, headers, handle)
        finally:
            remove_temp_db(tmp)
        if resp.status not in (201, 202):
            raise ObjstoreError("put_db answered %s" % resp.status)

    def _remove(self, path):
        """Remove a DB's hash directory, then its suffix and partition dirs if empty."""
        hash_dir = os.path.dirname(path)
        shutil.rmtree(hash_dir, ignore_errors=True)
        for parent in (os.path.dirname(hash_dir), os.path.dirname(os.path.dirname(hash_dir))):
            try:
                os.rmdir(parent)
            except OSError:
                break
        self.logger.info("removed %s", hash_dir)
