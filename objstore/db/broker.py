"""The shared SQLite broker: one database file per container or per account.

What lives here: the file layout and creation, the connection settings, the
schema-version and migration machinery, the stat row (timestamps, metadata
with per-key timestamps, the database id), the ``.pending`` file that batches
concurrent updates, sync points for replication, reclaim, and the generic
row operations (``merge_items``, ``get_items_since``), the live-row count
and deleted state, and the listing query over ``listing_fields``. What a row
*is* (an object row, a container row), how two rows of one name combine, the
schema and what a kind adds to the stat row live in ``container/broker.py``
and ``account/broker.py``. No HTTP here.

Theory of operation
-------------------
- **Rows never change in place.** A newer version of a name deletes the old
  row and inserts a new one, so every change gets a fresh, larger ROWID
  (``AUTOINCREMENT``: ROWIDs are never reused). ``get_items_since(n)`` is then
  "everything that changed after row n", which is what a replicator sends.
  Merging is idempotent and newest-wins: a row older than (or equal to) the
  one stored changes nothing and does not get a new ROWID, so two replicas
  that exchange rows converge instead of ping-ponging.
- **Deleted rows** (tombstones) keep their timestamp so that an older write
  arriving late still loses; ``reclaim`` removes tombstones older than
  ``reclaim_age``.
- **Counts** (object count, bytes) are kept by SQLite triggers on insert and
  delete of rows, inside the same transaction, so they cannot drift.
- **Metadata** is a JSON object ``{key: [value, timestamp]}`` in the stat row.
  Updates merge per key, newest timestamp wins; an empty value is a deletion
  that is kept (so it beats older values arriving by replication) until
  reclaim. Readers see only non-empty values.
- **Batching (the pending file).** An update from an object server (or a
  container's stats report to its account) is appended to ``<hash>.db.pending``
  as one record (``:`` + base64 of a versioned msgpack list), under an
  exclusive ``flock`` and fsynced before the 2xx goes out: the lock is held
  for one small append, never for a SQLite transaction. A server passes a
  ``GroupCommit`` (groupcommit.py): the fsync then runs after the lock is
  released, in a thread, shared by the updates of one DB that arrive
  meanwhile (one fsync for many records, and the event loop never waits on
  the disk). When the file
  passes ``pending_cap`` bytes, or before any read that must be current
  (HEAD, GET, DELETE, replication), the records are merged into SQLite in one
  transaction and the file is truncated. So 200 simultaneous updates cost 200
  appends and a handful of transactions. A crash mid-append leaves a torn
  record, which fails to decode and is skipped; ``:`` never occurs inside
  base64, so later records stay readable.
- **Durability.** WAL journal with ``synchronous=FULL``: a commit returns only
  after the WAL is fsynced, so a 2xx that follows a commit means the change
  survives power loss (``NORMAL`` in WAL mode may lose the last commits on
  power failure, which would break the promise). WAL also lets listings run
  while a writer commits. Pending records are fsynced before they are
  acknowledged. Whole-DB copies for replication go through SQLite's online
  backup API, never a raw file copy (which could miss WAL frames).
- **Schema versions** live in ``PRAGMA user_version``. On open, a file older
  than the class's ``schema_version`` is migrated in one transaction by the
  functions in ``migrations`` (``{from_version: fn(conn)}``), one step at a
  time; a file newer than the code refuses to open.
"""

import base64
import contextlib
import errno
import fcntl
import json
import os
import sqlite3
import time
import uuid

from objstore.common import encoding
from objstore.common.exceptions import (
    DatabaseAlreadyExists,
    DatabaseCorrupt,
    DatabaseError,
    DatabaseNotFound,
    ServiceUnavailable,
)
from objstore.common.fs import fsync_dir, mkdirs
from objstore.common.hashing import hash_path, suffix_of
from objstore.common.timestamp import Timestamp
from objstore.db import listing

PENDING_CAP = 131072  # bytes of pending records that trigger a merge (~1000 rows)
PENDING_VERSION = 1
BATCH = 500  # names per "IN (...)" lookup; SQLite's default limit is 999 variables
ZERO_TS = Timestamp(0).internal
SYNC_SCHEMA = """
CREATE TABLE incoming_sync (remote_id TEXT PRIMARY KEY, sync_point INTEGER, updated_at TEXT);
CREATE TABLE outgoing_sync (remote_id TEXT PRIMARY KEY, sync_point INTEGER, updated_at TEXT);
"""


def db_dir(devices, device, db_type, partition, name_hash):
    """``<devices>/<dev>/<db_type>s/<part>/<suffix>/<hash>``."""
    return os.path.join(devices, device, db_type + "s", str(partition), suffix_of(name_hash), name_hash)


def db_path(devices, device, db_type, partition, account, container=None):
    """Where the DB of ``account`` (or of ``account/container``) lives on a device."""
    name_hash = hash_path(account, container)
    return os.path.join(db_dir(devices, device, db_type, partition, name_hash), name_hash + ".db")


def merge_metadata(current, updates):
    """Merge ``{key: [value, timestamp]}`` maps per key, newest timestamp wins.

    :returns: ``(merged, changed)``
    """
    merged = dict(current)
    changed = False
    for key, (value, ts) in updates.items():
        old = merged.get(key)
        if old is None or Timestamp(ts) > Timestamp(old[1]):
            merged[key] = [value, Timestamp(ts).internal]
            changed = True
    return merged, changed


def visible_metadata(metadata):
    """``{key: value}`` without the deletion markers (empty values)."""
    return {key: value for key, (value, _ts) in metadata.items() if value != ""}


def reclaim_metadata(metadata, age_timestamp):
    """Drop deletion markers older than ``age_timestamp``.

    :returns: ``(kept, changed)``
    """
    age = Timestamp(age_timestamp)
    kept = {k: v for k, v in metadata.items() if not (v[0] == "" and Timestamp(v[1]) < age)}
    return kept, len(kept) != len(metadata)


def encode_pending(record):
    """One pending-file record: ``:`` + base64(versioned msgpack)."""
    return b":" + base64.b64encode(encoding.pack(record, PENDING_VERSION))


def decode_pending(data):
    """The records of a pending file's bytes; torn or corrupt ones are skipped."""
    records = []
    for chunk in data.split(b":"):
        if not chunk:
            continue
        try:
            _version, record = encoding.unpack(base64.b64decode(chunk, validate=True), (PENDING_VERSION,))
        except (ValueError, encoding.EncodingError):
            continue
        records.append(record)
    return records


@contextlib.contextmanager
def locked(path, timeout):
    """Hold an exclusive flock on ``path`` (created if needed), waiting at most ``timeout``.

    The wait polls with ``time.sleep`` so that it yields under eventlet.

    :raises ServiceUnavailable: the lock was not free in time.
    """
    try:
        fd = os.open(path, os.O_RDWR | os.O_APPEND)
    except FileNotFoundError:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        fsync_dir(os.path.dirname(path))  # a record fsynced into a file whose name is lost is lost
    try:
        deadline = time.monotonic() + timeout
        delay = 0.001
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as err:
                if err.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() >= deadline:
                    raise ServiceUnavailable("timed out waiting for lock on %s" % path) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.05)
        yield fd
    finally:
        os.close(fd)  # releases the lock


def quarantine_db(db_file, db_type, reason, logger=None):
    """Move a DB's hash directory to ``<dev>/quarantined/<db_type>s/<hash>[-<uuid>]``.

    ``db_file`` must be laid out as :func:`db_path` makes it. The replicator
    of a peer then sends a good copy whole, since this node no longer has one.

    :returns: the new directory path.
    """
    hash_dir = os.path.dirname(db_file)
    device_path = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(hash_dir))))
    target_dir = os.path.join(device_path, "quarantined", db_type + "s")
    mkdirs(target_dir)
    target = os.path.join(target_dir, os.path.basename(hash_dir))
    if os.path.exists(target):
        target += "-" + uuid.uuid4().hex
    os.rename(hash_dir, target)
    fsync_dir(target_dir)
    fsync_dir(os.path.dirname(hash_dir))
    if logger is not None:
        logger.warning("quarantined %s to %s: %s", hash_dir, target, reason)
    return target


def remove_temp_db(path):
    """Remove a temporary DB file and the ``-wal`` / ``-shm`` files SQLite may
    have left beside it (whichever exist)."""
    for leftover in (path, path + "-wal", path + "-shm"):
        try:
            os.unlink(leftover)
        except FileNotFoundError:
            pass


def _merged_timestamps(row, created_at, put_timestamp, delete_timestamp):
    """``(created_at, put, delete)`` internal strings: the stat row's merged with a peer's."""
    return (
        min(Timestamp(row["created_at"]), Timestamp(created_at)).internal,
        max(Timestamp(row["put_timestamp"]), Timestamp(put_timestamp)).internal,
        max(Timestamp(row["delete_timestamp"]), Timestamp(delete_timestamp)).internal,
    )


class DatabaseBroker:
    """One account or container database.

    Subclasses set the class attributes and implement ``_record_to_item``
    and ``_merge_rows``.

    :param db_file: path of the ``.db`` file.
    :param account: the account name (used when creating).
    :param container: the container name (containers only).
    :param timeout: seconds to wait for SQLite or pending-file locks.
    :param stale_reads_ok: read without merging the pending file first.
    :param pending_cap: pending bytes that trigger a merge.
    :param group_commit: a ``groupcommit.GroupCommit`` that fsyncs appended
        pending records (shared fsyncs); None: each append is fsynced under
        the lock.
    """

    db_type = None  # "container" or "account"
    schema = None  # the SQL script that creates the item and stat tables
    item_table = None  # "object" or "container"
    item_fields = ()  # the row columns after ROWID, in order
    listing_fields = ()  # the columns of a live row that a listing returns
    stat_table = None
    name_fields = ("account",)  # the stat row's name columns, from the attributes of the same names
    live_count_field = None  # the stat column the triggers keep as the number of live rows
    schema_version = 1
    migrations = {}  # {from_version: callable(conn)}, applied in order on open

    def __init__(self, db_file, account=None, container=None, timeout=25.0, logger=None,
                 stale_reads_ok=False, pending_cap=PENDING_CAP, group_commit=None):
        self.db_file = db_file
        self.pending_file = db_file + ".pending"
        self.db_dir = os.path.dirname(db_file)
        self.account = account
        self.container = container
        self.timeout = timeout
        self.logger = logger
        self.stale_reads_ok = stale_reads_ok
        self.pending_cap = pending_cap
        self.group_commit = group_commit
        self._conn = None

    # --- connections -----------------------------------------------------------
    def exists(self):
        return os.path.exists(self.db_file)

    def _open(self, path):
        try:
            conn = sqlite3.connect(path, timeout=self.timeout, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as err:
            raise DatabaseError("cannot open %s: %s" % (path, err)) from None
        conn.row_factory = sqlite3.Row
        try:
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA temp_store = MEMORY")
        except sqlite3.DatabaseError as err:
            conn.close()
            corrupt = DatabaseCorrupt("%s: %s" % (path, err))
            corrupt.db_file = path
            raise corrupt from None
        return conn

    def _corrupt(self, reason):
        """A DatabaseCorrupt naming this file (``.db_file``), for quarantine."""
        err = DatabaseCorrupt("%s: %s" % (self.db_file, reason))
        err.db_file = self.db_file
        return err

    def _connection(self):
        if self._conn is None:
            if not self.exists():
                raise DatabaseNotFound("no database at %s" % self.db_file)
            conn = self._open(self.db_file)
            try:
                self._check_schema(conn)
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def close(self):
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @contextlib.contextmanager
    def get(self):
        """The open connection (no transaction); SQLite errors become DatabaseError."""
        conn = self._connection()
        try:
            yield conn
        except sqlite3.DatabaseError as err:
            if "malformed" in str(err) or "not a database" in str(err):
                raise self._corrupt(err) from None
            raise DatabaseError("%s: %s" % (self.db_file, err)) from None

    @contextlib.contextmanager
    def transaction(self):
        """A write transaction (``BEGIN IMMEDIATE``), committed on success."""
        with self.get() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _check_schema(self, conn):
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as err:
            raise self._corrupt(err) from None
        if version > self.schema_version:
            raise DatabaseError("%s: schema version %d is newer than this code (%d)"
                                % (self.db_file, version, self.schema_version))
        if version < self.schema_version:
            self._migrate(conn, version)

    def _migrate(self, conn, version):
        conn.execute("BEGIN IMMEDIATE")
        try:
            current = conn.execute("PRAGMA user_version").fetchone()[0]  # another process may have done it
            while current < self.schema_version:
                step = self.migrations.get(current)
                if step is None:
                    raise DatabaseError("%s: no migration from schema version %d" % (self.db_file, current))
                step(conn)
                current += 1
                conn.execute("PRAGMA user_version = %d" % current)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        if self.logger:
            self.logger.info("migrated %s from schema %d to %d", self.db_file, version, self.schema_version)

    # --- creation and deletion -------------------------------------------------
    def initialize(self, put_timestamp, metadata=None, storage_id=None):
        """Create the DB file atomically (temp file in the same dir, then rename).

        :param put_timestamp: the creating request's timestamp.
        :param metadata: ``{key: [value, timestamp]}`` to start with.
        :param storage_id: the database id (a new uuid4 when None).
        :raises DatabaseAlreadyExists: the file is already there.
        """
        if self.exists():
            raise DatabaseAlreadyExists(self.db_file)
        mkdirs(self.db_dir)
        tmp = "%s.tmp.%s" % (self.db_file, uuid.uuid4().hex)
        put_ts = Timestamp(put_timestamp).internal
        try:
            conn = self._open(tmp)
            try:
                # a temp file: atomicity comes from the rename, not a transaction
                conn.execute("PRAGMA journal_mode = WAL")
                self._create_tables(conn)
                conn.executescript(SYNC_SCHEMA)
                conn.execute("BEGIN")
                self._insert_stat(conn, put_ts, Timestamp.now().internal, storage_id or str(uuid.uuid4()),
                                  json.dumps(metadata or {}))
                conn.execute("PRAGMA user_version = %d" % self.schema_version)
                conn.execute("COMMIT")
            finally:
                conn.close()  # last close checkpoints and removes the -wal file
            if self.exists():
                raise DatabaseAlreadyExists(self.db_file)
            os.rename(tmp, self.db_file)
            fsync_dir(self.db_dir)
        finally:
            remove_temp_db(tmp)

    def _insert_stat(self, conn, put_ts, created_at, storage_id, metadata_json):
        fields = self.name_fields + ("created_at", "put_timestamp", "status_changed_at", "id", "metadata")
        values = tuple(getattr(self, name) for name in self.name_fields)
        conn.execute(
            "INSERT INTO %s (%s) VALUES (%s)" % (self.stat_table, ", ".join(fields), ", ".join("?" * len(fields))),
            values + (created_at, put_ts, put_ts, storage_id, metadata_json),
        )

    def _create_tables(self, conn):
        conn.executescript(self.schema)

    def update_put_timestamp(self, timestamp):
        """Raise the put timestamp (a PUT of an existing DB); status_changed_at follows
        when this un-deletes it. :returns: True if it changed."""
        self._commit_puts()
        ts = Timestamp(timestamp).internal
        with self.transaction() as conn:
            row = conn.execute("SELECT put_timestamp, delete_timestamp FROM %s" % self.stat_table).fetchone()
            if Timestamp(ts) <= Timestamp(row["put_timestamp"]):
                return False
            was_deleted = Timestamp(row["delete_timestamp"]) > Timestamp(row["put_timestamp"])
            conn.execute("UPDATE %s SET put_timestamp = ?" % self.stat_table, (ts,))
            if was_deleted and Timestamp(ts) > Timestamp(row["delete_timestamp"]):
                conn.execute("UPDATE %s SET status_changed_at = ?" % self.stat_table, (ts,))
                self._on_undelete(conn, ts)
            return True

    def _on_undelete(self, conn, timestamp):
        pass

    def delete_db(self, timestamp):
        """Mark the DB deleted at ``timestamp`` and delete its metadata (kept as
        deletion markers at that timestamp)."""
        self._commit_puts()
        ts = Timestamp(timestamp).internal
        with self.transaction() as conn:
            row = conn.execute("SELECT delete_timestamp, metadata FROM %s" % self.stat_table).fetchone()
            metadata = json.loads(row["metadata"] or "{}")
            cleared, _ = merge_metadata(metadata, {key: ("", ts) for key in metadata})
            conn.execute("UPDATE %s SET metadata = ?" % self.stat_table, (json.dumps(cleared),))
            if Timestamp(ts) > Timestamp(row["delete_timestamp"]):
                conn.execute("UPDATE %s SET delete_timestamp = ?, status_changed_at = ?" % self.stat_table, (ts, ts))
            self._on_delete(conn, ts)

    def _on_delete(self, conn, timestamp):
        pass

    def is_deleted(self):
        """True when the DB is missing or marked deleted (see :meth:`is_deleted_info`)."""
        if not self.exists():
            return True
        self._commit_puts()
        with self.get() as conn:
            row = conn.execute("SELECT * FROM %s" % self.stat_table).fetchone()
        return self.is_deleted_info(dict(row))

    def is_deleted_info(self, info):
        """True when a ``get_info()`` dict describes a deleted DB: no live rows
        and a delete timestamp newer than the put timestamp."""
        return not info[self.live_count_field] and \
            Timestamp(info["delete_timestamp"]) > Timestamp(info["put_timestamp"])

    def empty(self):
        """True when no live rows remain."""
        self._commit_puts()
        with self.get() as conn:
            row = conn.execute("SELECT %s FROM %s" % (self.live_count_field, self.stat_table)).fetchone()
        return not row[0]

    def is_reclaimable(self, now, reclaim_age):
        """True when deleted long enough ago that the file itself may go."""
        info = self.get_info()
        return self.is_deleted_info(info) and float(Timestamp(info["delete_timestamp"])) < now - reclaim_age

    # --- info and metadata -----------------------------------------------------
    def get_info(self):
        """The stat row as a dict (plus ``max_row``); ``metadata`` is the raw
        ``{key: [value, timestamp]}`` map. Merges pending updates first."""
        self._commit_puts()
        with self.get() as conn:
            info = dict(conn.execute("SELECT * FROM %s" % self.stat_table).fetchone())
            info["max_row"] = self._max_row(conn)
        info["metadata"] = json.loads(info.get("metadata") or "{}")
        for key in ("put_timestamp", "delete_timestamp", "status_changed_at", "created_at"):
            info[key] = info.get(key) or ZERO_TS
        return info

    def _max_row(self, conn):
        row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (self.item_table,)).fetchone()
        return row[0] if row else -1

    def get_replication_info(self):
        """What a replicator compares: ``get_info()`` with ``max_row`` and ``id``."""
        return self.get_info()

    @property
    def metadata(self):
        """``{key: [value, timestamp]}`` including deletion markers."""
        with self.get() as conn:
            row = conn.execute("SELECT metadata FROM %s" % self.stat_table).fetchone()
        return json.loads(row[0] or "{}")

    def update_metadata(self, updates):
        """Merge ``{key: (value, timestamp)}``; an empty value deletes the key.

        :returns: True when anything changed.
        """
        if not updates:
            return False
        with self.transaction() as conn:
            row = conn.execute("SELECT metadata FROM %s" % self.stat_table).fetchone()
            merged, changed = merge_metadata(json.loads(row[0] or "{}"), updates)
            if changed:
                conn.execute("UPDATE %s SET metadata = ?" % self.stat_table, (json.dumps(merged),))
        return changed

    def merge_timestamps(self, created_at, put_timestamp, delete_timestamp):
        """Take the newer of each timestamp (the older ``created_at``) from a
        peer's info (replication). Writes only when something changes, since
        replicators call this for every DB and peer on every pass.

        :returns: True when anything changed.
        """
        self._commit_puts()
        stat = "SELECT created_at, put_timestamp, delete_timestamp FROM %s" % self.stat_table
        with self.get() as conn:
            row = conn.execute(stat).fetchone()
        merged = _merged_timestamps(row, created_at, put_timestamp, delete_timestamp)
        if merged == tuple(row):
            return False
        with self.transaction() as conn:
            row = conn.execute(stat).fetchone()  # again, under the write lock
            was_deleted = Timestamp(row["delete_timestamp"]) > Timestamp(row["put_timestamp"])
            created, put, delete = _merged_timestamps(row, created_at, put_timestamp, delete_timestamp)
            conn.execute("UPDATE %s SET created_at = ?, put_timestamp = ?, delete_timestamp = ?"
                         % self.stat_table, (created, put, delete))
            if was_deleted != (Timestamp(delete) > Timestamp(put)):
                conn.execute("UPDATE %s SET status_changed_at = ?" % self.stat_table,
                             (max(Timestamp(put), Timestamp(delete)).internal,))
            self._on_timestamps(conn, Timestamp(put), Timestamp(delete))
        return True

    def _on_timestamps(self, conn, put, delete):
        pass

    # --- rows --------------------------------------------------------------------
    def put_record(self, record):
        """Append one row update to the pending file (fsynced); merge if it is big.

        :param record: a list in ``item_fields`` order.
        """
        if not self.exists():
            raise DatabaseNotFound("no database at %s" % self.db_file)
        data = encode_pending(record)
        with locked(self.pending_file, self.timeout) as fd:
            os.write(fd, data)
            if os.fstat(fd).st_size >= self.pending_cap:
                self._merge_pending_locked(fd)  # committed to SQLite: durable
                return
            if self.group_commit is None:
                os.fsync(fd)
                return
        # outside the lock, so that others append while it runs (groupcommit.py)
        self.group_commit.sync(self.pending_file)

    def _commit_puts(self):
        """Merge the pending file into SQLite (no-op when empty or stale reads are fine)."""
        if self.stale_reads_ok:
            return
        try:
            if os.path.getsize(self.pending_file) == 0:
                return
        except FileNotFoundError:
            return
        with locked(self.pending_file, self.timeout) as fd:
            self._merge_pending_locked(fd)

    def _merge_pending_locked(self, fd):
        size = os.fstat(fd).st_size
        if not size:
            return
        data = os.pread(fd, size, 0)
        items = [self._record_to_item(record) for record in decode_pending(data)]
        if items:
            self.merge_items(items)
        os.ftruncate(fd, 0)
        os.fsync(fd)

    def _record_to_item(self, record):
        return dict(zip(self.item_fields, record))

    def merge_items(self, items, source=None):
        """Merge rows (dicts with ``item_fields`` keys), newest wins per name.

        Idempotent: rows not newer than what is stored change nothing.

        :param source: the remote DB id these rows came from; its incoming
            sync point is raised to the largest ``ROWID`` among ``items``.
        """
        newest = {}
        for item in items:
            prev = newest.get(item["name"])
            newest[item["name"]] = item if prev is None else self._merge_rows(prev, item)
        names = list(newest)
        with self.transaction() as conn:
            for start in range(0, len(names), BATCH):
                chunk = names[start:start + BATCH]
                marks = ",".join("?" * len(chunk))
                existing = {
                    row["name"]: dict(row)
                    for row in conn.execute(
                        "SELECT * FROM %s WHERE deleted IN (0, 1) AND name IN (%s)" % (self.item_table, marks),
                        chunk,
                    )
                }
                inserts, doomed = [], []
                for name in chunk:
                    incoming = newest[name]
                    old = existing.get(name)
                    merged = incoming if old is None else self._merge_rows(old, incoming)
                    if old is not None:
                        if all(merged[f] == old[f] for f in self.item_fields):
                            continue
                        doomed.append(name)
                    inserts.append(tuple(merged[f] for f in self.item_fields))
                if doomed:
                    conn.execute(
                        "DELETE FROM %s WHERE deleted IN (0, 1) AND name IN (%s)"
                        % (self.item_table, ",".join("?" * len(doomed))),
                        doomed,
                    )
                if inserts:
                    conn.executemany(
                        "INSERT INTO %s (%s) VALUES (%s)"
                        % (self.item_table, ", ".join(self.item_fields), ",".join("?" * len(self.item_fields))),
                        inserts,
                    )
            if source is not None:
                rowids = [item["ROWID"] for item in items if item.get("ROWID") is not None]
                if rowids:
                    self._merge_syncs(conn, [{"remote_id": source, "sync_point": max(rowids)}], incoming=True)

    def _merge_rows(self, old, new):
        """The row that results from ``old`` meeting ``new`` (dicts of item_fields)."""
        raise NotImplementedError

    def get_items_since(self, row_id, count):
        """Up to ``count`` rows with ROWID > ``row_id``, in ROWID order, as
        dicts with ``ROWID`` and the ``item_fields``. Deleted rows included."""
        self._commit_puts()
        with self.get() as conn:
            rows = conn.execute(
                "SELECT ROWID, %s FROM %s WHERE ROWID > ? ORDER BY ROWID LIMIT ?"
                % (", ".join(self.item_fields), self.item_table),
                (row_id, count),
            ).fetchall()
        return [dict(row) for row in rows]

    def reclaim(self, age_timestamp):
        """Delete tombstone rows and metadata deletion markers older than ``age_timestamp``.

        :returns: the number of rows removed.
        """
        self._commit_puts()
        age = Timestamp(age_timestamp).internal
        with self.transaction() as conn:
            removed = conn.execute(
                "DELETE FROM %s WHERE deleted = 1 AND %s < ?" % (self.item_table, self.row_timestamp_field), (age,)
            ).rowcount
            row = conn.execute("SELECT metadata FROM %s" % self.stat_table).fetchone()
            kept, changed = reclaim_metadata(json.loads(row[0] or "{}"), age)
            if changed:
                conn.execute("UPDATE %s SET metadata = ?" % self.stat_table, (json.dumps(kept),))
        return removed

    row_timestamp_field = "created_at"

    # --- listing -------------------------------------------------------------------
    def _fetch(self, conn):
        """The ``fetch`` callable of ``listing.walk`` over this DB's live rows."""
        def fetch(lower, lower_incl, upper, upper_incl, count, reverse):
            sql = ["SELECT %s FROM %s WHERE deleted = 0" % (", ".join(self.listing_fields), self.item_table)]
            args = []
            if lower is not None:
                sql.append("AND name >= ?" if lower_incl else "AND name > ?")
                args.append(lower)
            if upper is not None:
                sql.append("AND name <= ?" if upper_incl else "AND name < ?")
                args.append(upper)
            sql.append("ORDER BY name DESC LIMIT ?" if reverse else "ORDER BY name LIMIT ?")
            args.append(count)
            return (dict(row) for row in conn.execute(" ".join(sql), args))

        return fetch

    def list_items(self, limit, marker="", end_marker="", prefix="", delimiter="", reverse=False, path=None):
        """A page of live rows in name order (see ``listing.walk``).

        :returns: list of dicts with the ``listing_fields`` keys and
            ``{"subdir": name}`` entries.
        """
        self._commit_puts()
        with self.get() as conn:
            return listing.walk(self._fetch(conn), limit, marker, end_marker, prefix, delimiter, reverse, path)

    # --- sync points ---------------------------------------------------------------
    def get_sync(self, remote_id, incoming=True):
        """The ROWID up to which rows of ``remote_id`` are known to be merged
        (incoming: we have theirs; outgoing: they have ours); -1 when never."""
        table = "incoming_sync" if incoming else "outgoing_sync"
        with self.get() as conn:
            row = conn.execute("SELECT sync_point FROM %s WHERE remote_id = ?" % table, (remote_id,)).fetchone()
        return row[0] if row else -1

    def get_syncs(self, incoming=True):
        """``[{"remote_id", "sync_point"}]`` for every known peer."""
        table = "incoming_sync" if incoming else "outgoing_sync"
        with self.get() as conn:
            rows = conn.execute("SELECT remote_id, sync_point FROM %s" % table).fetchall()
        return [dict(row) for row in rows]

    def merge_syncs(self, sync_points, incoming=True):
        """Raise sync points: ``[{"remote_id", "sync_point"}]``; lower ones are ignored."""
        with self.transaction() as conn:
            self._merge_syncs(conn, sync_points, incoming)

    def _merge_syncs(self, conn, sync_points, incoming):
        table = "incoming_sync" if incoming else "outgoing_sync"
        now = Timestamp.now().internal
        for point in sync_points:
            conn.execute(
                "INSERT INTO %s (remote_id, sync_point, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT(remote_id) DO UPDATE SET sync_point = excluded.sync_point, "
                "updated_at = excluded.updated_at WHERE excluded.sync_point > %s.sync_point" % (table, table),
                (point["remote_id"], int(point["sync_point"]), now),
            )

    # --- whole-file copies ---------------------------------------------------------
    def backup_to(self, path):
        """A consistent copy of the DB at ``path`` (SQLite online backup), for replication."""
        self._commit_puts()
        with self.get() as conn:
            dest = sqlite3.connect(path)
            try:
                conn.backup(dest)
            finally:
                dest.close()

    def quick_check(self):
        """Raise DatabaseCorrupt unless SQLite's ``quick_check`` passes."""
        with self.get() as conn:
            try:
                result = conn.execute("PRAGMA quick_check").fetchone()[0]
            except sqlite3.DatabaseError as err:
                raise self._corrupt(err) from None
        if result != "ok":
            raise self._corrupt(result)

    def new_storage_id(self):
        """Give this DB a fresh id (a copy received whole must not share its sender's id)."""
        with self.transaction() as conn:
            conn.execute("UPDATE %s SET id = ?" % self.stat_table, (str(uuid.uuid4()),))
