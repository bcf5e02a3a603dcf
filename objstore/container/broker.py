"""The container database: one row per object name (live or tombstone), the
container's stat row (timestamps, counts, what was last reported to the
account, metadata) and the object listing query.

The generic machinery (pending file, merges, sync points, reclaim, schema
versions, the listing query) is in ``objstore/db/broker.py``; listing parameters and rendering
in ``objstore/db/listing.py``. No HTTP here.

Object rows: ``name, created_at, size, content_type, etag, deleted``. The row
with the newer ``created_at`` (the object write's X-Timestamp) wins; a
tombstone has size 0 so the triggers' byte arithmetic stays right.
"""

from objstore.common.timestamp import Timestamp
from objstore.db.broker import DatabaseBroker

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
    schema = SCHEMA
    item_table = "object"
    item_fields = ("name", "created_at", "size", "content_type", "etag", "deleted")
    listing_fields = ("name", "created_at", "size", "content_type", "etag")
    stat_table = "container_stat"
    name_fields = ("account", "container")
    live_count_field = "object_count"
    schema_version = 1
    migrations = {}

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

    # a page of live objects: dicts {name, created_at, size, content_type,
    # etag} and {"subdir": name} entries
    list_objects = DatabaseBroker.list_items
