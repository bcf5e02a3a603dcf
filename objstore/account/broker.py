"""The account database: one row per container name (with the counts its
container server last reported), the account's stat row (timestamps, totals,
status, metadata) and the container listing query.

The generic machinery (pending file, merges, sync points, reclaim, schema
versions, the listing query) is in ``objstore/db/broker.py``; listing
parameters and rendering in ``objstore/db/listing.py``. No HTTP here.

Container rows: ``name, put_timestamp, delete_timestamp, object_count,
bytes_used, deleted``. Two rows of one name merge field-wise: the newer put
and the newer delete timestamp are both kept, the row is deleted when its
delete timestamp is the newer of the two, and the counts come from the row
whose latest timestamp is newer (a tie takes the incoming row, since a
container server re-reports changed counts under the same put timestamp).
"""

from objstore.common.timestamp import Timestamp
from objstore.db.broker import DatabaseBroker

SCHEMA = """
CREATE TABLE container (
    ROWID INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    put_timestamp TEXT NOT NULL DEFAULT '0000000000.00000',
    delete_timestamp TEXT NOT NULL DEFAULT '0000000000.00000',
    object_count INTEGER NOT NULL DEFAULT 0,
    bytes_used INTEGER NOT NULL DEFAULT 0,
    deleted INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX ix_container_deleted_name ON container (deleted, name);
CREATE TABLE account_stat (
    account TEXT,
    created_at TEXT,
    put_timestamp TEXT NOT NULL DEFAULT '0000000000.00000',
    delete_timestamp TEXT NOT NULL DEFAULT '0000000000.00000',
    status_changed_at TEXT NOT NULL DEFAULT '0000000000.00000',
    container_count INTEGER NOT NULL DEFAULT 0,
    object_count INTEGER NOT NULL DEFAULT 0,
    bytes_used INTEGER NOT NULL DEFAULT 0,
    id TEXT,
    status TEXT NOT NULL DEFAULT '',
    metadata TEXT NOT NULL DEFAULT '{}'
);
CREATE TRIGGER container_insert AFTER INSERT ON container BEGIN
    UPDATE account_stat
    SET container_count = container_count + (1 - new.deleted),
        object_count = object_count + new.object_count,
        bytes_used = bytes_used + new.bytes_used;
END;
CREATE TRIGGER container_delete AFTER DELETE ON container BEGIN
    UPDATE account_stat
    SET container_count = container_count - (1 - old.deleted),
        object_count = object_count - old.object_count,
        bytes_used = bytes_used - old.bytes_used;
END;
CREATE TRIGGER container_update BEFORE UPDATE ON container BEGIN
    SELECT RAISE(FAIL, 'container rows are replaced, never updated');
END;
"""

DELETED_STATUS = "DELETED"


def container_row(name, put_timestamp, delete_timestamp, object_count, bytes_used):
    """A normalized container row; deleted when the delete timestamp is newer."""
    put = Timestamp(put_timestamp or 0)
    delete = Timestamp(delete_timestamp or 0)
    deleted = 1 if delete > put else 0
    return {
        "name": name,
        "put_timestamp": put.internal,
        "delete_timestamp": delete.internal,
        "object_count": 0 if deleted else int(object_count or 0),
        "bytes_used": 0 if deleted else int(bytes_used or 0),
        "deleted": deleted,
    }


def merge_container_rows(old, new):
    """Field-wise merge of two rows of one container (see the module docstring)."""
    old_put, old_del = Timestamp(old["put_timestamp"]), Timestamp(old["delete_timestamp"])
    new_put, new_del = Timestamp(new["put_timestamp"]), Timestamp(new["delete_timestamp"])
    counts_from = new if max(new_put, new_del) >= max(old_put, old_del) else old
    return container_row(
        new["name"], max(old_put, new_put), max(old_del, new_del),
        counts_from["object_count"], counts_from["bytes_used"],
    )


class AccountBroker(DatabaseBroker):
    """An account's SQLite DB (see the module docstring for the rows)."""

    db_type = "account"
    schema = SCHEMA
    item_table = "container"
    item_fields = ("name", "put_timestamp", "delete_timestamp", "object_count", "bytes_used", "deleted")
    listing_fields = ("name", "object_count", "bytes_used", "put_timestamp")
    stat_table = "account_stat"
    live_count_field = "container_count"
    row_timestamp_field = "delete_timestamp"
    schema_version = 1
    migrations = {}

    def is_deleted_info(self, info):
        if info.get("status") == DELETED_STATUS:
            return True
        return super().is_deleted_info(info)

    def is_status_deleted(self):
        """True when a DELETE marked the account (the reaper's cue), whatever it holds."""
        return self.get_info()["status"] == DELETED_STATUS

    def _on_delete(self, conn, timestamp):
        conn.execute("UPDATE account_stat SET status = ?", (DELETED_STATUS,))

    def _on_undelete(self, conn, timestamp):
        conn.execute("UPDATE account_stat SET status = ''")

    def _on_timestamps(self, conn, put, delete):
        # a deletion learnt from a peer marks the account for the reaper here too
        if delete > put:
            conn.execute("UPDATE account_stat SET status = ?", (DELETED_STATUS,))

    def _merge_rows(self, old, new):
        return merge_container_rows(old, new)

    def _record_to_item(self, record):
        name, put_ts, delete_ts, object_count, bytes_used, _deleted = record
        return container_row(name, put_ts, delete_ts, object_count, bytes_used)

    def put_container(self, name, put_timestamp, delete_timestamp, object_count, bytes_used):
        """Record a container's report via the pending file."""
        row = container_row(name, put_timestamp, delete_timestamp, object_count, bytes_used)
        self.put_record([row[field] for field in self.item_fields])

    # a page of live containers: dicts {name, object_count, bytes_used,
    # put_timestamp} and {"subdir": name} entries
    list_containers = DatabaseBroker.list_items
