"""Recon cache files and the /recon/<what> answers."""

import json

from objstore.daemon import recon


def _node(tmp_path):
    devices = tmp_path / "node" / "devices"
    (devices / "sdb1" / "async_pending" / "abc").mkdir(parents=True)
    (devices / "sdb1" / "async_pending" / "abc" / "h-1").write_bytes(b"x")
    (devices / "sdb1" / "async_pending" / "abc" / "h-2").write_bytes(b"x")
    (devices / "sdb2" / "quarantined" / "objects" / "deadbeef").mkdir(parents=True)
    (devices / "sdb2" / "quarantined" / "containers" / "c1").mkdir(parents=True)
    rings = tmp_path / "rings"
    rings.mkdir()
    (rings / "object.ring.gz").write_bytes(b"ring")
    (rings / "object.builder").write_bytes(b"not a ring")
    return str(devices), str(rings)


def _get(what, devices, rings):
    status, body = recon.recon_response(what, devices, rings)
    return status, json.loads(body)


def test_cached_daemon_entries(tmp_path):
    devices, rings = _node(tmp_path)
    directory = recon.recon_dir("", devices)
    recon.write_recon(directory, "object-replicator", {"partitions_synced": 3})
    recon.write_recon(directory, "container-auditor", {"errors": 1})
    recon.write_recon(directory, "object-expirer", {"expired": 7})
    assert _get("replication", devices, rings) == (200, {"partitions_synced": 3})
    assert _get("replication/object", devices, rings) == (200, {"partitions_synced": 3})
    assert _get("auditor/container", devices, rings) == (200, {"errors": 1})
    assert _get("auditor", devices, rings) == (200, {})
    assert _get("expirer", devices, rings) == (200, {"expired": 7})
    assert recon.recon_response("replication/bogus", devices, rings)[0] == 404
    assert recon.recon_response("nonsense", devices, rings)[0] == 404


def test_live_checks(tmp_path):
    devices, rings = _node(tmp_path)
    assert _get("async", devices, rings)[1]["async_pending"] == 2
    status, md5s = _get("ringmd5", devices, rings)
    assert list(md5s.values()) == ["2bfdd91f0a5a54e8a5fe6d3ab8dca48f"] or len(md5s) == 1
    assert all(path.endswith("object.ring.gz") for path in md5s)
    quarantined = _get("quarantined", devices, rings)[1]
    assert quarantined["objects"] == 1 and quarantined["containers"] == 1 and quarantined["accounts"] == 0
    assert quarantined["devices"]["sdb2"]["objects"] == 1
    usage = _get("diskusage", devices, rings)[1]
    assert [entry["device"] for entry in usage] == ["sdb1", "sdb2"]
    assert all(entry["size"] >= entry["avail"] for entry in usage)
    assert _get("unmounted", devices, rings)[1] == [
        {"device": "sdb1", "mounted": False}, {"device": "sdb2", "mounted": False}]
    assert "1m" in _get("load", devices, rings)[1]


def test_read_recon_tolerates_garbage(tmp_path):
    (tmp_path / "x.json").write_bytes(b"{not json")
    assert recon.read_recon(str(tmp_path), "x") == {}
    assert recon.read_recon(str(tmp_path), "missing") == {}


def test_object_server_answers_recon(tmp_path, capture):
    from objstore.obj.diskfile import DiskFileManager
    from objstore.obj.server import ObjectServer, ObjectServerConfig
    from objstore.web.app import Request

    devices, rings = _node(tmp_path)
    recon.write_recon(recon.recon_dir("", devices), "object-replicator", {"partitions_failed": 0})
    logger, _ = capture
    config = ObjectServerConfig(devices=devices, ring_dir=rings, mount_check=False)
    app = ObjectServer(config, logger, DiskFileManager(devices, False, logger))
    resp = Request.blank("/recon/replication").get_response(app)
    assert resp.status_int == 200 and resp.content_type == "application/json"
    assert json.loads(resp.body) == {"partitions_failed": 0}
    assert json.loads(Request.blank("/recon/async").get_response(app).body)["async_pending"] == 2
    assert Request.blank("/recon/nothing").get_response(app).status_int == 404
