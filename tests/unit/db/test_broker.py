"""The shared broker on real SQLite files: creation, merges, pending batching,
metadata, reclaim, sync points, schema migrations, whole-DB copies.

Exercised through ContainerBroker (the simplest concrete broker); the
container-specific parts are in tests/unit/container/test_broker.py."""

import os
import sqlite3

import pytest

from objstore.common.exceptions import (
    DatabaseAlreadyExists,
    DatabaseCorrupt,
    DatabaseError,
    DatabaseNotFound,
    ServiceUnavailable,
)
from objstore.common.hashing import hash_path
from objstore.container.broker import SCHEMA, ContainerBroker, object_row
from objstore.db import broker as dbb


@pytest.fixture
def broker(tmp_path):
    b = ContainerBroker(str(tmp_path / "c.db"), account="a", container="c")
    b.initialize("0000000001.00000")
    yield b
    b.close()


def row(name, ts, size=1, deleted=0):
    return object_row(name, ts, size, "text/plain", "etag-%s" % ts, deleted)


def test_db_path_layout(objstore_conf):
    h = hash_path("a", "c")
    assert dbb.db_path("/srv/node", "sda", "container", 7, "a", "c") == \
        "/srv/node/sda/containers/7/%s/%s/%s.db" % (h[-3:], h, h)
    h = hash_path("a")
    assert dbb.db_path("/d", "sdb", "account", 0, "a") == "/d/sdb/accounts/0/%s/%s/%s.db" % (h[-3:], h, h)


def test_initialize_makes_a_wal_db_with_schema_version(broker, tmp_path):
    assert broker.exists()
    conn = sqlite3.connect(broker.db_file)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == ContainerBroker.schema_version
    conn.close()
    assert sorted(os.listdir(tmp_path)) == ["c.db"]  # no temp files left
    info = broker.get_info()
    assert info["put_timestamp"] == "0000000001.00000"
    assert info["status_changed_at"] == "0000000001.00000"
    assert info["account"] == "a" and info["container"] == "c"
    assert len(info["id"]) == 36
    assert info["max_row"] == -1
    with pytest.raises(DatabaseAlreadyExists):
        broker.initialize("0000000002.00000")


def test_missing_db_raises_not_found(tmp_path):
    b = ContainerBroker(str(tmp_path / "nope.db"))
    assert not b.exists()
    assert b.is_deleted()
    with pytest.raises(DatabaseNotFound):
        b.get_info()
    with pytest.raises(DatabaseNotFound):
        b.put_object("o", "0000000001.00000", 1, "t", "e")


def test_merge_newest_wins_and_is_idempotent(broker):
    broker.merge_items([row("o", "0000000002.00000", size=10)])
    broker.merge_items([row("o", "0000000001.00000", size=99)])  # older: ignored
    items = broker.get_items_since(-1, 10)
    assert [(i["name"], i["size"], i["ROWID"]) for i in items] == [("o", 10, 1)]
    broker.merge_items([row("o", "0000000002.00000", size=10)])  # same again: no new row id
    assert broker.get_info()["max_row"] == 1
    broker.merge_items([row("o", "0000000003.00000", size=20)])  # newer: replaces, new ROWID
    items = broker.get_items_since(-1, 10)
    assert [(i["name"], i["size"], i["ROWID"]) for i in items] == [("o", 20, 2)]
    info = broker.get_info()
    assert (info["object_count"], info["bytes_used"]) == (1, 20)


def test_merge_order_does_not_matter(tmp_path):
    rows = [row("x", "0000000005.00000", 5), row("x", "0000000003.00000", 3),
            row("y", "0000000004.00000", deleted=1), row("y", "0000000002.00000", 2),
            row("z", "0000000001.00000", 1)]
    results = []
    for order in (rows, list(reversed(rows)), rows[::2] + rows[1::2]):
        b = ContainerBroker(str(tmp_path / ("%d.db" % len(results))))
        b.initialize("0000000001.00000")
        for item in order:
            b.merge_items([item])
        results.append(sorted((i["name"], i["created_at"], i["size"], i["deleted"])
                              for i in b.get_items_since(-1, 100)))
        info = b.get_info()
        assert (info["object_count"], info["bytes_used"]) == (2, 6)
    assert results[0] == results[1] == results[2]


def test_tombstone_counts_and_reclaim(broker):
    broker.merge_items([row("a", "0000000002.00000", 7), row("b", "0000000002.00000", 3)])
    broker.merge_items([row("a", "0000000003.00000", deleted=1)])
    info = broker.get_info()
    assert (info["object_count"], info["bytes_used"]) == (1, 3)
    # the tombstone beats a late older write
    broker.merge_items([row("a", "0000000002.50000", 100)])
    assert broker.get_info()["object_count"] == 1
    assert broker.reclaim("0000000003.00000") == 0  # not older than the age yet
    assert broker.reclaim("0000000004.00000") == 1
    assert [i["name"] for i in broker.get_items_since(-1, 10)] == ["b"]
    assert (broker.get_info()["object_count"], broker.get_info()["bytes_used"]) == (1, 3)


def test_get_items_since_pages_in_rowid_order(broker):
    broker.merge_items([row("n%02d" % i, "0000000002.00000") for i in range(25)])
    first = broker.get_items_since(-1, 10)
    assert [i["ROWID"] for i in first] == list(range(1, 11))
    rest = broker.get_items_since(first[-1]["ROWID"], 100)
    assert len(rest) == 15 and rest[0]["ROWID"] == 11
    assert set(first[0]) == {"ROWID", "name", "created_at", "size", "content_type", "etag", "deleted"}


def test_merge_with_source_records_incoming_sync(broker):
    items = [dict(row("o%d" % i, "0000000002.00000"), ROWID=100 + i) for i in range(3)]
    broker.merge_items(items, source="peer-1")
    assert broker.get_sync("peer-1") == 102
    assert broker.get_sync("peer-2") == -1
    broker.merge_items(items[:1], source="peer-1")  # never goes backwards
    assert broker.get_sync("peer-1") == 102


def test_merge_syncs(broker):
    broker.merge_syncs([{"remote_id": "p", "sync_point": 5}, {"remote_id": "q", "sync_point": 2}])
    broker.merge_syncs([{"remote_id": "p", "sync_point": 3}])
    assert sorted((s["remote_id"], s["sync_point"]) for s in broker.get_syncs()) == [("p", 5), ("q", 2)]
    broker.merge_syncs([{"remote_id": "p", "sync_point": 9}], incoming=False)
    assert broker.get_sync("p", incoming=False) == 9
    assert broker.get_sync("p") == 5


def test_merge_metadata_pure():
    current = {"X-A": ["1", "0000000002.00000"], "X-B": ["2", "0000000002.00000"]}
    merged, changed = dbb.merge_metadata(current, {"X-A": ("old", "0000000001.00000"),
                                                   "X-B": ("", "0000000003.00000"),
                                                   "X-C": ("3", "0000000001.00000")})
    assert changed
    assert merged == {"X-A": ["1", "0000000002.00000"], "X-B": ["", "0000000003.00000"],
                      "X-C": ["3", "0000000001.00000"]}
    assert dbb.visible_metadata(merged) == {"X-A": "1", "X-C": "3"}
    assert dbb.merge_metadata(merged, {"X-A": ("1", "0000000002.00000")}) == (merged, False)
    kept, changed = dbb.reclaim_metadata(merged, "0000000004.00000")
    assert changed and "X-B" not in kept
    assert dbb.reclaim_metadata(merged, "0000000003.00000") == (merged, False)


def test_update_metadata_per_key_timestamps(broker):
    assert broker.update_metadata({"X-Container-Meta-A": ("1", "0000000005.00000")})
    assert not broker.update_metadata({"X-Container-Meta-A": ("0", "0000000004.00000")})
    broker.update_metadata({"X-Container-Meta-B": ("2", "0000000003.00000"),
                            "X-Container-Meta-A": ("", "0000000006.00000")})
    meta = broker.get_info()["metadata"]
    assert meta == {"X-Container-Meta-A": ["", "0000000006.00000"],
                    "X-Container-Meta-B": ["2", "0000000003.00000"]}
    broker.reclaim("0000000007.00000")
    assert broker.metadata == {"X-Container-Meta-B": ["2", "0000000003.00000"]}


def test_delete_db_and_undelete(broker):
    broker.update_metadata({"X-Container-Meta-A": ("1", "0000000001.00000")})
    broker.delete_db("0000000002.00000")
    assert broker.is_deleted()
    info = broker.get_info()
    assert info["delete_timestamp"] == info["status_changed_at"] == "0000000002.00000"
    assert dbb.visible_metadata(info["metadata"]) == {}
    assert broker.update_put_timestamp("0000000001.50000")  # newer put, still older than the delete
    assert broker.is_deleted()
    assert not broker.update_put_timestamp("0000000001.20000")
    assert broker.update_put_timestamp("0000000003.00000")
    assert not broker.is_deleted()
    assert broker.get_info()["status_changed_at"] == "0000000003.00000"
    assert broker.is_reclaimable(now=10 ** 9, reclaim_age=1) is False


def test_merge_timestamps_takes_newest(broker):
    broker.merge_timestamps("0000000000.50000", "0000000004.00000", "0000000003.00000")
    info = broker.get_info()
    assert (info["created_at"], info["put_timestamp"], info["delete_timestamp"]) == \
        ("0000000000.50000", "0000000004.00000", "0000000003.00000")
    assert not broker.is_deleted()
    broker.merge_timestamps("0000000009.00000", "0000000001.00000", "0000000005.00000")
    info = broker.get_info()
    assert (info["created_at"], info["put_timestamp"], info["delete_timestamp"]) == \
        ("0000000000.50000", "0000000004.00000", "0000000005.00000")
    assert broker.is_deleted() and info["status_changed_at"] == "0000000005.00000"


# --- the pending file ---------------------------------------------------------------
def test_pending_records_roundtrip_and_skip_torn_ones():
    good = [["a", "0000000001.00000", 1, "t", "e", 0], ["b/é", "0000000002.00000", 0, "", "", 1]]
    data = dbb.encode_pending(good[0]) + dbb.encode_pending(good[1])[:7] + dbb.encode_pending(good[1])
    assert dbb.decode_pending(data) == good
    assert dbb.decode_pending(b"") == []
    assert dbb.decode_pending(b":!!!notbase64:") == []


def test_updates_go_to_the_pending_file_until_read(broker):
    broker.put_object("o1", "0000000002.00000", 5, "text/plain", "e")
    broker.put_object("o2", "0000000002.00000", 6, "text/plain", "e")
    assert os.path.getsize(broker.pending_file) > 0
    stale = ContainerBroker(broker.db_file, stale_reads_ok=True)
    assert stale.get_info()["object_count"] == 0  # not merged yet
    assert os.path.getsize(broker.pending_file) > 0
    info = broker.get_info()  # a current read merges
    assert (info["object_count"], info["bytes_used"]) == (2, 11)
    assert os.path.getsize(broker.pending_file) == 0
    stale.close()


def test_pending_file_merges_itself_past_the_cap(tmp_path):
    b = ContainerBroker(str(tmp_path / "c.db"), pending_cap=2000)
    b.initialize("0000000001.00000")
    for i in range(100):
        b.put_object("obj-%03d" % i, "0000000002.00000", 1, "text/plain", "e" * 32)
        assert os.path.getsize(b.pending_file) < 2000
    stale = ContainerBroker(b.db_file, stale_reads_ok=True)
    assert stale.get_info()["object_count"] > 50
    assert b.get_info()["object_count"] == 100


def test_pending_lock_timeout_is_503(broker):
    broker.timeout = 0.05
    with dbb.locked(broker.pending_file, 1):
        with pytest.raises(ServiceUnavailable):
            broker.put_object("o", "0000000002.00000", 1, "t", "e")


# --- schema versions -----------------------------------------------------------------------
class BrokerV2(ContainerBroker):
    schema_version = 2
    migrations = {1: lambda conn: conn.execute("ALTER TABLE container_stat ADD COLUMN flavour TEXT DEFAULT 'x'")}


def test_old_schema_is_migrated_on_open(broker):
    broker.merge_items([row("o", "0000000002.00000")])
    broker.close()
    new = BrokerV2(broker.db_file)
    info = new.get_info()
    assert info["flavour"] == "x" and info["object_count"] == 1
    new.close()
    conn = sqlite3.connect(broker.db_file)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
    conn.close()
    old = ContainerBroker(broker.db_file)  # code older than the file refuses it
    with pytest.raises(DatabaseError):
        old.get_info()


def test_missing_migration_is_an_error(broker):
    broker.close()

    class BrokerV3(ContainerBroker):
        schema_version = 3
        migrations = {1: BrokerV2.migrations[1]}

    with pytest.raises(DatabaseError):
        BrokerV3(broker.db_file).get_info()
    conn = sqlite3.connect(broker.db_file)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1  # rolled back
    conn.close()


def test_schema_text_has_the_listing_index():
    assert "ON object (deleted, name)" in SCHEMA


# --- whole-DB copies -------------------------------------------------------------------------
def test_backup_to_and_quick_check(broker, tmp_path):
    broker.put_object("o", "0000000002.00000", 3, "t", "e")  # still pending: backup merges it
    copy_path = str(tmp_path / "copy.db")
    broker.backup_to(copy_path)
    copy = ContainerBroker(copy_path)
    copy.quick_check()
    assert copy.get_info()["id"] == broker.get_info()["id"]
    assert [i["name"] for i in copy.get_items_since(-1, 10)] == ["o"]
    copy.new_storage_id()
    assert copy.get_info()["id"] != broker.get_info()["id"]


def test_corrupt_db_is_reported(tmp_path):
    path = tmp_path / "bad.db"
    path.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(DatabaseCorrupt):
        ContainerBroker(str(path)).get_info()


def test_merge_timestamps_without_change_does_not_write(broker):
    info = broker.get_info()
    assert not broker.merge_timestamps(info["created_at"], info["put_timestamp"], info["delete_timestamp"])
    assert not broker.merge_timestamps("9999999999.00000", "0000000000.50000", "0000000000.00000")
    assert broker.merge_timestamps(info["created_at"], "0000000002.00000", "0000000000.00000")
