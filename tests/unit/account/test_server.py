"""The account server app on real temp dirs and real SQLite: every verb and
header, container rows, listings in every format."""

import json
import xml.etree.ElementTree as ET

import pytest

from objstore.account.server import AccountServer, AccountServerConfig
from objstore.common.constraints import DEFAULT
from objstore.web.app import Request


def ts(n):
    return "%010d.%05d" % (n, 0)


@pytest.fixture
def app(tmp_path, objstore_conf, capture):
    devices = tmp_path / "node"
    (devices / "sda").mkdir(parents=True)
    return AccountServer(AccountServerConfig(devices=str(devices), mount_check=False), capture[0], DEFAULT)


def call(app, method, path, headers=None):
    return Request.blank(path, method=method, headers=headers or {}).get_response(app)


def report(app, name, put=2, delete=0, count=0, used=0, path="/sda/1/a"):
    return call(app, "PUT", "%s/%s" % (path, name), {
        "X-Put-Timestamp": ts(put), "X-Delete-Timestamp": ts(delete),
        "X-Object-Count": str(count), "X-Bytes-Used": str(used), "X-Timestamp": ts(put)})


def test_put_head_post(app):
    assert call(app, "PUT", "/sda/1/a", {"X-Timestamp": ts(1), "X-Account-Meta-Q": "1"}).status_int == 201
    assert call(app, "PUT", "/sda/1/a", {"X-Timestamp": ts(2)}).status_int == 202
    resp = call(app, "HEAD", "/sda/1/a")
    assert resp.status_int == 204
    h = resp.headers
    assert (h["X-Account-Container-Count"], h["X-Account-Object-Count"], h["X-Account-Bytes-Used"]) == ("0", "0", "0")
    assert h["X-PUT-Timestamp"] == ts(2)
    assert h["X-Account-Meta-Q"] == "1"
    assert float(h["X-Timestamp"]) > 1e9
    assert call(app, "POST", "/sda/1/a", {"X-Timestamp": ts(3), "X-Account-Meta-Q": "",
                                          "X-Account-Meta-R": "2",
                                          "X-Account-Sysmeta-S": "s"}).status_int == 204
    h = call(app, "HEAD", "/sda/1/a").headers
    assert "X-Account-Meta-Q" not in h and h["X-Account-Meta-R"] == "2" and h["X-Account-Sysmeta-S"] == "s"
    assert call(app, "POST", "/sda/1/a", {"X-Account-Meta-R": "2"}).status_int == 400
    assert call(app, "POST", "/sda/1/zz", {"X-Timestamp": ts(3)}).status_int == 404
    assert call(app, "HEAD", "/sda/1/zz").status_int == 404


def test_paths_and_devices(app):
    assert call(app, "PUT", "/sda/x/a", {"X-Timestamp": ts(1)}).status_int == 400
    assert call(app, "PUT", "/sda/1", {"X-Timestamp": ts(1)}).status_int == 400
    assert call(app, "PUT", "/sdq/1/a", {"X-Timestamp": ts(1)}).status_int == 507
    assert call(app, "PUT", "/sda/1/a", {}).status_int == 400


def test_container_rows_and_totals(app):
    assert report(app, "c").status_int == 404  # no account yet
    call(app, "PUT", "/sda/1/a", {"X-Timestamp": ts(1)})
    assert report(app, "c1", count=2, used=20).status_int == 201
    assert report(app, "c2", count=1, used=5).status_int == 201
    assert report(app, "c1", count=3, used=30).status_int == 201
    h = call(app, "HEAD", "/sda/1/a").headers
    assert (h["X-Account-Container-Count"], h["X-Account-Object-Count"], h["X-Account-Bytes-Used"]) == ("2", "4", "35")
    assert report(app, "c2", put=2, delete=3).status_int == 204
    h = call(app, "HEAD", "/sda/1/a").headers
    assert (h["X-Account-Container-Count"], h["X-Account-Object-Count"], h["X-Account-Bytes-Used"]) == ("1", "3", "30")
    bad = {"X-Put-Timestamp": ts(2), "X-Delete-Timestamp": ts(0), "X-Object-Count": "x", "X-Bytes-Used": "0"}
    assert call(app, "PUT", "/sda/1/a/c3", bad).status_int == 400
    assert call(app, "PUT", "/sda/1/a/c3", {}).status_int == 400


def test_delete_marks_deleted(app):
    assert call(app, "DELETE", "/sda/1/a", {"X-Timestamp": ts(2)}).status_int == 404
    call(app, "PUT", "/sda/1/a", {"X-Timestamp": ts(1)})
    report(app, "c", count=1, used=1)
    assert call(app, "DELETE", "/sda/1/a").status_int == 400
    assert call(app, "DELETE", "/sda/1/a", {"X-Timestamp": ts(3)}).status_int == 204
    resp = call(app, "HEAD", "/sda/1/a")
    assert resp.status_int == 404
    assert resp.headers["X-Account-Status"] == "Deleted"
    assert resp.headers["X-Backend-Delete-Timestamp"] == ts(3)
    assert call(app, "GET", "/sda/1/a").status_int == 404
    assert call(app, "PUT", "/sda/1/a", {"X-Timestamp": ts(4)}).status_int == 403
    assert report(app, "new", put=4).status_int == 404
    # the reaper's container deletions still land
    assert report(app, "c", put=2, delete=5).status_int == 204
    assert call(app, "DELETE", "/sda/1/a", {"X-Timestamp": ts(6)}).status_int == 404


NAMES = ["a", "b-1", "b-2", "c"]


@pytest.fixture
def listed(app):
    call(app, "PUT", "/sda/1/acct", {"X-Timestamp": ts(1)})
    for i, name in enumerate(NAMES):
        report(app, name, put=10 + i, count=i, used=i * 100, path="/sda/1/acct")
    return app


def test_listing_json_and_params(listed):
    resp = call(listed, "GET", "/sda/1/acct?format=json")
    assert resp.status_int == 200 and resp.content_type == "application/json"
    body = json.loads(resp.body)
    assert body[1] == {"name": "b-1", "count": 1, "bytes": 100, "last_modified": "1970-01-01T00:00:11.000000"}
    assert resp.headers["X-Account-Container-Count"] == "4"

    def names(query):
        return [e.get("name", "D:%s" % e.get("subdir"))
                for e in json.loads(call(listed, "GET", "/sda/1/acct?format=json&" + query).body)]

    assert names("limit=2") == ["a", "b-1"]
    assert names("marker=b-1") == ["b-2", "c"]
    assert names("end_marker=b-2") == ["a", "b-1"]
    assert names("prefix=b") == ["b-1", "b-2"]
    assert names("delimiter=-") == ["a", "D:b-", "c"]
    assert names("reverse=on") == ["c", "b-2", "b-1", "a"]
    assert names("reverse=true&marker=c&end_marker=a") == ["b-2", "b-1"]
    assert call(listed, "GET", "/sda/1/acct?limit=10001").status_int == 412


def test_listing_plain_xml_and_empty(listed, app):
    resp = call(listed, "GET", "/sda/1/acct")
    assert resp.body == b"a\nb-1\nb-2\nc\n" and resp.content_type == "text/plain"
    req = Request.blank("/sda/1/acct", headers={"Accept": "application/xml"})
    root = ET.fromstring(req.get_response(listed).body)
    assert root.tag == "account" and root.attrib["name"] == "acct"
    assert {f.tag: f.text for f in root[3]} == {"name": "c", "count": "3", "bytes": "300",
                                                "last_modified": "1970-01-01T00:00:13.000000"}
    call(app, "PUT", "/sda/1/empty", {"X-Timestamp": ts(1)})
    assert call(app, "GET", "/sda/1/empty").status_int == 204
    assert call(app, "GET", "/sda/1/empty?format=json").body == b"[]"
