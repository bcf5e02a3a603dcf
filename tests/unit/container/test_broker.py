"""Container-specific broker parts: object rows, listing queries, reports."""

import pytest

from objstore.container.broker import ContainerBroker, merge_object_rows, object_row


def ts(n):
    return "%010d.%05d" % (n, 0)


@pytest.fixture
def broker(tmp_path):
    b = ContainerBroker(str(tmp_path / "c.db"), account="a", container="c")
    b.initialize(ts(1))
    yield b
    b.close()


def test_object_row_normalizes_tombstones():
    assert object_row("o", ts(2), 5, "t", "e", deleted=True) == {
        "name": "o", "created_at": ts(2), "size": 0, "content_type": "", "etag": "", "deleted": 1}
    assert object_row("o", "2", "5", None, None)["size"] == 5


def test_merge_object_rows_newest_wins_tie_keeps_stored():
    a, b = object_row("o", ts(2), 1, "t", "a"), object_row("o", ts(3), 2, "t", "b")
    assert merge_object_rows(a, b) is b
    assert merge_object_rows(b, a) is b
    same_time = object_row("o", ts(2), 9, "t", "z")
    assert merge_object_rows(a, same_time) is a


def test_listing_uses_the_deleted_name_index(broker):
    with broker.get() as conn:
        plan = " ".join(row[3] for row in conn.execute(
            "EXPLAIN QUERY PLAN SELECT name FROM object WHERE deleted = 0 AND name > ? ORDER BY name LIMIT 10",
            ("m",)))
    assert "ix_object_deleted_name" in plan and "TEMP B-TREE" not in plan


def test_list_objects_skips_tombstones_and_pages(broker):
    for i in range(30):
        broker.put_object("o%02d" % i, ts(2), i, "text/plain", "e")
    for i in range(0, 30, 3):
        broker.delete_object("o%02d" % i, ts(3))
    page = broker.list_objects(5)
    assert [r["name"] for r in page] == ["o01", "o02", "o04", "o05", "o07"]
    assert set(page[0]) == {"name", "created_at", "size", "content_type", "etag"}
    assert [r["name"] for r in broker.list_objects(3, marker="o07")] == ["o08", "o10", "o11"]
    assert [r["name"] for r in broker.list_objects(3, end_marker="o02", reverse=True, marker="o05")] == ["o04"]
    assert broker.get_info()["object_count"] == 20


def test_empty_and_needs_report(broker):
    assert broker.empty()
    broker.put_object("o", ts(2), 1, "t", "e")
    assert not broker.empty()
    info = broker.get_info()
    assert ContainerBroker.needs_report(info)
    broker.reported(info["put_timestamp"], info["delete_timestamp"], info["object_count"], info["bytes_used"])
    assert not ContainerBroker.needs_report(broker.get_info())
