"""The container database: one row per object name (live or tombstone), the
container's stat row (timestamps, counts, what was last reported to the
account, metadata) and the object listing query.

The generic machinery (pending file, merges, sync points, reclaim, schema
versions) is in ``objstore/db/broker.py``; listing parameters and rendering
in ``objstore/db/listing.py``. No HTTP here.

Object rows: ``name, created_at, size, content_type, etag, deleted``. The row
with the newer ``created_at`` (the object write's X-Timestamp) wins; a
tombstone has size 0 so the triggers' byte arithmetic stays right.
"""

from objstore.common.timestamp import Timestamp
from objstore.db import listing
from objstore.db.broker import ZERO_TS, DatabaseBroker

SCHEMA = """
CREATE TABLE object (
    ROWID INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL,
    size INTEGER NOT NULL DEFAULT 0,
    content_type TEXT NOT NULL DEFAULT '',
    etag TEXT NOT NULL DEFAULT '',
    deleted INTEGER NOT NULL DEFAULT 0
);
-- listings scan (deleted = 0, name > marker) in name order; merges look up
-- names with "deleted IN (0, 1) AND name IN (...)": one index serves both.
CREATE INDEX ix_object_deleted_name ON object (deleted, name);
CREATE TABLE container_stat (
    account TEXT,
    container TEXT,
    created_at TEXT,
    put_timestamp TEXT NOT NULL DEFAULT '0000000000.00000',
    delete_timestamp TEXT NOT NULL DEFAULT '0000000000.00000',
    status_changed_at TEXT NOT NULL DEFAULT '0000000000.00000',
    object_count INTEGER NOT NULL DEFAULT 0,
    bytes_used INTEGER NOT NULL DEFAULT 0,
    reported_put_timestamp TEXT NOT NULL DEFAULT '0000000000.00000',
    reported_delete_timestamp TEXT NOT NULL DEFAULT '0000000000.00000',
    reported_object_count INTEGER NOT NULL DEFAULT 0,
    reported_bytes_used INTEGER NOT NULL DEFAULT 0,
    id TEXT,
    metadata TEXT NOT NULL DEFAULT '{}'
);
CREATE TRIGGER object_insert AFTER INSERT ON object BEGIN
    UPDATE container_stat
    SET object_count = object_count + (1 - new.deleted), bytes_used = bytes_used + new.size;
END;
CREATE TRIGGER object_delete AFTER DELETE ON object BEGIN
    UPDATE container_stat
    SET object_count = object_count - (1 - old.deleted), bytes_used = bytes_used - old.size;
END;
CREATE TRIGGER object_update BEFORE UPDATE ON object BEGIN
    SELECT RAISE(FAIL, 'object rows are replaced, never updated');
END;
"""


def merge_object_rows(old, new):
    """Newest ``created_at`` wins; on a tie the stored row stays."""
    if Timestamp(new["created_at"]) > Timestamp(old["created_at"]):
        return new
    return old


def object_row(name, timestamp, size=0, content_type="", etag="", deleted=0):
    """A normalized object row dict (a tombstone has size 0 and no type/etag)."""
    deleted = 1 if deleted else 0
    return {
        "name": name,
        "created_at": Timestamp(timestamp).internal,
        "size": 0 if deleted else int(size),
        "content_type": "" if deleted else (content_type or ""),
        "etag": "" if deleted else (etag or ""),
        "deleted": deleted,
    }


class ContainerBroker(DatabaseBroker):
    """A container's SQLite DB (see the module docstring for the rows)."""

    db_type = "container"
    item_table = "object"
    item_fields = ("name", "created_at", "size", "content_type", "etag", "deleted")
    stat_table = "container_stat"
    schema_version = 1
    migrations = {}

    def _create_tables(self, conn):
        conn.executescript(SCHEMA)

    def _insert_stat(self, conn, put_ts, created_at, storage_id, metadata_json):
        conn.execute(
            "INSERT INTO container_stat (account, container, created_at, put_timestamp, "
            "status_changed_at, id, metadata) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (self.account, self.container, created_at, put_ts, put_ts, storage_id, metadata_json),
        )

    def is_deleted_info(self, info):
        return info["object_count"] in (0, None) and \
            Timestamp(info["delete_timestamp"]) > Timestamp(info["put_timestamp"])

    def _merge_rows(self, old, new):
        return merge_object_rows(old, new)

    def _record_to_item(self, record):
        name, created_at, size, content_type, etag, deleted = record
        return object_row(name, created_at, size, content_type, etag, deleted)

    # --- updates from object servers ---------------------------------------------
    def put_object(self, name, timestamp, size, content_type, etag, deleted=0):
        """Record an object write (or a tombstone when ``deleted``) via the pending file."""
        row = object_row(name, timestamp, size, content_type, etag, deleted)
        self.put_record([row[field] for field in self.item_fields])

    def delete_object(self, name, timestamp):
        self.put_object(name, timestamp, 0, "", "", deleted=1)

    def empty(self):
        """True when no live object rows remain."""
        self._commit_puts()
        with self.get() as conn:
            row = conn.execute("SELECT object_count FROM container_stat").fetchone()
        return not row[0]

    # --- account reports -------------------------------------------------------------
    def reported(self, put_timestamp, delete_timestamp, object_count, bytes_used):
        """Remember what the account server last accepted from us."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE container_stat SET reported_put_timestamp = ?, reported_delete_timestamp = ?, "
                "reported_object_count = ?, reported_bytes_used = ?",
                (put_timestamp, delete_timestamp, object_count, bytes_used),
            )

    @staticmethod
    def needs_report(info):
        """True when ``info`` differs from what the account last heard (for the updater)."""
        return (
            info["put_timestamp"] != info["reported_put_timestamp"]
            or info["delete_timestamp"] != info["reported_delete_timestamp"]
            or info["object_count"] != info["reported_object_count"]
            or info["bytes_used"] != info["reported_bytes_used"]
        )

    # --- listing -------------------------------------------------------------------
    def _fetch(self, conn):
        def fetch(lower, lower_incl, upper, upper_incl, count, reverse):
            sql = ["SELECT name, created_at, size, content_type, etag FROM object WHERE deleted = 0"]
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

    def list_objects(self, limit, marker="", end_marker="", prefix="", delimiter="", reverse=False, path=None):
        """A page of live objects in name order (see ``listing.walk``).

        :returns: list of dicts ``{name, created_at, size, content_type, etag}``
            and ``{"subdir": name}`` entries.
        """
        self._commit_puts()
        with self.get() as conn:
            rows = listing.walk(self._fetch(conn), limit, marker, end_marker, prefix, delimiter, reverse, path)
        return rows

    def get_info(self):
        info = super().get_info()
        for key in ("put_timestamp", "delete_timestamp", "status_changed_at", "created_at"):
            info[key] = info.get(key) or ZERO_TS
        return info
