"""The SQLite instance records."""

import pytest

from objstore.compute.records import Instance, InstanceRecords

pytestmark = pytest.mark.compute


def _inst(id_, owner="AUTH_a", created="2026-01-01T00:00:0%dZ", **kw):
    return Instance(
        id=id_,
        name="vm-" + id_,
        owner=owner,
        state="ACTIVE",
        flavor={"name": "m1.tiny"},
        image_id="img",
        domain="objc-" + id_,
        instance_dir="/s/" + id_,
        console_path="/s/%s/console.log" % id_,
        created_at=created % int(id_),
        **kw
    )


def test_put_get_all_delete_and_reopen(tmp_path):
    path = str(tmp_path / "compute.db")
    records = InstanceRecords(path)
    records.put(_inst("2", metadata={"k": "v"}))
    records.put(_inst("1", owner="AUTH_b"))
    assert records.get("2").metadata == {"k": "v"}
    assert records.get("9") is None
    assert [i.id for i in records.all()] == ["1", "2"]
    assert [i.id for i in records.all("AUTH_a")] == ["2"]
    changed = records.get("2")
    changed.state = "PAUSED"
    records.put(changed)
    records.close()
    again = InstanceRecords(path)
    assert again.get("2").state == "PAUSED"
    again.delete("2")
    assert again.get("2") is None and [i.id for i in again.all()] == ["1"]
    again.close()


def test_from_dict_ignores_unknown_keys():
    data = _inst("3").as_dict()
    data["from_the_future"] = 1
    assert Instance.from_dict(data) == _inst("3")
    assert "power_state" not in _inst("3").durable()
