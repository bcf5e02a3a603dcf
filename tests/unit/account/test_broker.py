"""The account broker on real SQLite: container rows, totals, merge rules,
status, listing."""

import pytest

from objstore.account.broker import AccountBroker, container_row, merge_container_rows


def ts(n):
    return "%010d.%05d" % (n, 0)


@pytest.fixture
def broker(tmp_path):
    b = AccountBroker(str(tmp_path / "a.db"), account="AUTH_a")
    b.initialize(ts(1))
    yield b
    b.close()


def test_container_row_normalizes():
    assert container_row("c", ts(2), ts(1), 5, 10) == {
        "name": "c", "put_timestamp": ts(2), "delete_timestamp": ts(1),
        "object_count": 5, "bytes_used": 10, "deleted": 0}
    assert container_row("c", ts(2), ts(3), 5, 10)["deleted"] == 1
    assert container_row("c", ts(2), ts(3), 5, 10)["object_count"] == 0


def test_merge_container_rows_fieldwise():
    old = container_row("c", ts(2), ts(0), 5, 50)
    newer_report = container_row("c", ts(2), ts(0), 7, 70)
    assert merge_container_rows(old, newer_report)["object_count"] == 7  # tie: the incoming report
    stale = container_row("c", ts(1), ts(0), 1, 1)
    assert merge_container_rows(old, stale) == old
    deleted = container_row("c", ts(1), ts(3), 0, 0)
    merged = merge_container_rows(old, deleted)
    assert (merged["put_timestamp"], merged["delete_timestamp"], merged["deleted"]) == (ts(2), ts(3), 1)
    recreated = merge_container_rows(merged, container_row("c", ts(4), ts(0), 0, 0))
    assert (recreated["put_timestamp"], recreated["delete_timestamp"], recreated["deleted"]) == (ts(4), ts(3), 0)


def test_totals_follow_reports(broker):
    broker.put_container("c1", ts(2), ts(0), 3, 30)
    broker.put_container("c2", ts(2), ts(0), 1, 10)
    broker.put_container("c1", ts(2), ts(0), 4, 40)
    info = broker.get_info()
    assert (info["container_count"], info["object_count"], info["bytes_used"]) == (2, 5, 50)
    broker.put_container("c2", ts(2), ts(3), 0, 0)
    info = broker.get_info()
    assert (info["container_count"], info["object_count"], info["bytes_used"]) == (1, 4, 40)
    assert broker.reclaim(ts(4)) == 1
    assert [r["name"] for r in broker.get_items_since(-1, 10)] == ["c1"]


def test_merge_is_idempotent(broker):
    rows = [container_row("c%d" % i, ts(2), ts(0), i, i * 10) for i in range(5)]
    broker.merge_items(rows)
    top = broker.get_info()["max_row"]
    broker.merge_items(rows)
    assert broker.get_info()["max_row"] == top
    assert broker.get_info()["object_count"] == 10


def test_delete_marks_status_and_undelete(broker):
    broker.put_container("c", ts(2), ts(0), 1, 1)
    assert not broker.is_deleted()
    broker.delete_db(ts(3))
    assert broker.is_deleted() and broker.is_status_deleted()
    assert broker.get_info()["container_count"] == 1  # still there for the reaper
    broker.update_put_timestamp(ts(4))
    assert not broker.is_status_deleted()
    broker.merge_timestamps(ts(1), ts(4), ts(5))
    assert broker.is_status_deleted()


def test_list_containers(broker):
    for name in ("a", "b-1", "b-2", "c"):
        broker.put_container(name, ts(2), ts(0), 1, 2)
    broker.put_container("b-3", ts(2), ts(3), 0, 0)
    rows = broker.list_containers(10)
    assert [r["name"] for r in rows] == ["a", "b-1", "b-2", "c"]
    assert rows[0] == {"name": "a", "object_count": 1, "bytes_used": 2, "put_timestamp": ts(2)}
    assert [r.get("name", r.get("subdir")) for r in broker.list_containers(10, delimiter="-")] == ["a", "b-", "c"]
    assert [r["name"] for r in broker.list_containers(2, marker="a", reverse=False)] == ["b-1", "b-2"]
    assert [r["name"] for r in broker.list_containers(10, prefix="b", reverse=True)] == ["b-2", "b-1"]
