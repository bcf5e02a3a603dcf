"""The container server app on real temp dirs and real SQLite: every verb and
header, listings with every parameter and format, account reports, and 200
concurrent object updates against a real server process."""

import json
import threading
import wsgiref.simple_server
import xml.etree.ElementTree as ET

import pytest

from objstore.account.server import AccountServer, AccountServerConfig
from objstore.common.constraints import DEFAULT, Constraints
from objstore.container.server import (
    ContainerServer,
    ContainerServerConfig,
    account_targets,
    object_listing_entry,
    report_headers,
    split_swift_bytes,
)
from objstore.common.exceptions import BadRequest
from objstore.web.app import Request
from tests.unit.db.serverproc import ServerProcess, request


def make_app(tmp_path, logger, constraints=DEFAULT, **overrides):
    devices = tmp_path / "node"
    (devices / "sda").mkdir(parents=True, exist_ok=True)
    config = ContainerServerConfig(devices=str(devices), mount_check=False, **overrides)
    return ContainerServer(config, logger, constraints)


@pytest.fixture
def app(tmp_path, objstore_conf, capture):
    return make_app(tmp_path, capture[0])


def call(app, method, path, headers=None, body=None):
    req = Request.blank(path, method=method, headers=headers or {})
    if body is not None:
        req.body = body
    return req.get_response(app)


def ts(n):
    return "%010d.%05d" % (n, 0)


def put_container(app, path="/sda/1/a/c", t=1, **headers):
    headers.setdefault("X-Timestamp", ts(t))
    return call(app, "PUT", path, headers)


def put_obj(app, name, t, size=1, ctype="text/plain", etag="e", container="/sda/1/a/c"):
    return call(app, "PUT", "%s/%s" % (container, name), {
        "X-Timestamp": ts(t), "X-Size": str(size), "X-Content-Type": ctype, "X-Etag": etag})


def head(app, path="/sda/1/a/c"):
    return call(app, "HEAD", path)


# --- PUT / DELETE / HEAD / POST of the container -----------------------------------------
def test_put_creates_then_accepts(app):
    assert put_container(app, t=1).status_int == 201
    assert put_container(app, t=2).status_int == 202
    assert put_container(app, t=1).status_int == 202  # older: accepted, changes nothing
    resp = head(app)
    assert resp.status_int == 204
    assert resp.headers["X-PUT-Timestamp"] == ts(2)
    assert resp.headers["X-Backend-Put-Timestamp"] == ts(2)


def test_put_needs_a_valid_timestamp(app):
    assert call(app, "PUT", "/sda/1/a/c").status_int == 400
    assert call(app, "PUT", "/sda/1/a/c", {"X-Timestamp": "nope"}).status_int == 400


@pytest.mark.parametrize("path", ["/sda/1/a", "/sda/x/a/c", "/sda/1//c", "/sda"])
def test_bad_paths_are_400(app, path):
    assert call(app, "PUT", path, {"X-Timestamp": ts(1)}).status_int == 400


def test_missing_or_unmounted_device_is_507(app, tmp_path, capture):
    assert put_container(app, "/sdz/1/a/c").status_int == 507
    assert call(app, "GET", "/sdz/1/a/c").status_int == 507
    strict = ContainerServer(ContainerServerConfig(devices=str(tmp_path / "node"), mount_check=True),
                             capture[0], DEFAULT)
    assert put_container(strict, "/sda/1/a/c").status_int == 507  # a plain dir, not a mount


def test_head_headers(app):
    put_container(app, t=5, **{"X-Container-Meta-Color": "blue", "X-Container-Read": ".r:*",
                               "X-Container-Write": "bob", "X-Container-Sysmeta-Thing": "s"})
    put_obj(app, "o1", 6, size=10)
    put_obj(app, "o2", 6, size=5)
    resp = head(app)
    assert resp.status_int == 204
    h = resp.headers
    assert h["X-Container-Object-Count"] == "2"
    assert h["X-Container-Bytes-Used"] == "15"
    assert h["X-PUT-Timestamp"] == ts(5)
    assert float(h["X-Timestamp"]) > 1e9  # creation time of the DB
    assert h["X-Backend-Timestamp"] and h["X-Backend-Status-Changed-At"] == ts(5)
    assert h["X-Backend-Delete-Timestamp"] == ts(0)
    assert h["X-Container-Meta-Color"] == "blue"
    assert h["X-Container-Read"] == ".r:*"
    assert h["X-Container-Write"] == "bob"
    assert h["X-Container-Sysmeta-Thing"] == "s"
    assert h["Content-Type"].startswith("text/plain")
    assert head(app, "/sda/1/a/other").status_int == 404


def test_post_metadata_per_key_and_removal(app):
    put_container(app, t=1, **{"X-Container-Meta-A": "1", "X-Container-Meta-B": "2"})
    assert call(app, "POST", "/sda/1/a/c", {"X-Timestamp": ts(3), "X-Container-Meta-A": "new",
                                            "X-Container-Meta-B": ""}).status_int == 204
    # an older POST loses per key
    call(app, "POST", "/sda/1/a/c", {"X-Timestamp": ts(2), "X-Container-Meta-A": "stale",
                                     "X-Container-Meta-C": "3"})
    h = head(app).headers
    assert h["X-Container-Meta-A"] == "new"
    assert "X-Container-Meta-B" not in h
    assert h["X-Container-Meta-C"] == "3"
    assert call(app, "POST", "/sda/1/a/c", {"X-Container-Meta-A": "x"}).status_int == 400
    assert call(app, "POST", "/sda/1/a/nope", {"X-Timestamp": ts(4)}).status_int == 404


def test_metadata_limits(app):
    too_long = {"X-Timestamp": ts(1), "X-Container-Meta-A": "v" * 257}
    assert call(app, "PUT", "/sda/1/a/c", too_long).status_int == 400
    put_container(app)
    too_many = {"X-Container-Meta-K%d" % i: "v" for i in range(91)}
    too_many["X-Timestamp"] = ts(2)
    assert call(app, "POST", "/sda/1/a/c", too_many).status_int == 400


def test_versions_location_needs_allow_versions(tmp_path, objstore_conf, capture):
    app = make_app(tmp_path, capture[0])
    assert put_container(app, **{"X-Versions-Location": "old"}).status_int == 400
    app = make_app(tmp_path / "v", capture[0], allow_versions=True)
    assert put_container(app, **{"X-Versions-Location": "old"}).status_int == 201
    assert head(app).headers["X-Versions-Location"] == "old"


def test_delete_container(app):
    assert call(app, "DELETE", "/sda/1/a/c", {"X-Timestamp": ts(2)}).status_int == 404
    put_container(app, t=1)
    put_obj(app, "o", 2)
    assert call(app, "DELETE", "/sda/1/a/c", {"X-Timestamp": ts(3)}).status_int == 409
    call(app, "DELETE", "/sda/1/a/c/o", {"X-Timestamp": ts(4)})
    assert call(app, "DELETE", "/sda/1/a/c").status_int == 400
    assert call(app, "DELETE", "/sda/1/a/c", {"X-Timestamp": ts(5)}).status_int == 204
    for method in ("HEAD", "GET"):
        resp = call(app, method, "/sda/1/a/c")
        assert resp.status_int == 404
        assert resp.headers["X-Backend-Delete-Timestamp"] == ts(5)
        assert resp.headers["X-Backend-Put-Timestamp"] == ts(1)
    assert call(app, "DELETE", "/sda/1/a/c", {"X-Timestamp": ts(6)}).status_int == 404
    assert call(app, "POST", "/sda/1/a/c", {"X-Timestamp": ts(6)}).status_int == 404
    # a PUT older than the delete cannot resurrect it; a newer one does
    assert put_container(app, t=4).status_int == 409
    assert put_container(app, t=7).status_int == 201
    assert head(app).status_int == 204


def test_delete_older_than_put_is_409(app):
    put_container(app, t=5)
    assert call(app, "DELETE", "/sda/1/a/c", {"X-Timestamp": ts(3)}).status_int == 409
    assert head(app).status_int == 204


# --- object rows ---------------------------------------------------------------------------------
def test_object_rows_counts_under_overwrite_and_delete(app):
    put_container(app)
    assert put_obj(app, "o1", 2, size=10).status_int == 201
    assert put_obj(app, "o1", 3, size=4).status_int == 201  # overwrite
    assert put_obj(app, "o1", 1, size=99).status_int == 201  # older: ignored
    assert put_obj(app, "dir/o2", 2, size=6).status_int == 201
    h = head(app).headers
    assert (h["X-Container-Object-Count"], h["X-Container-Bytes-Used"]) == ("2", "10")
    assert call(app, "DELETE", "/sda/1/a/c/o1", {"X-Timestamp": ts(4)}).status_int == 204
    assert call(app, "DELETE", "/sda/1/a/c/o1", {"X-Timestamp": ts(5)}).status_int == 204
    assert call(app, "DELETE", "/sda/1/a/c/nope", {"X-Timestamp": ts(5)}).status_int == 204
    put_obj(app, "o1", 3, size=50)  # older than the tombstone
    h = head(app).headers
    assert (h["X-Container-Object-Count"], h["X-Container-Bytes-Used"]) == ("1", "6")
    put_obj(app, "o1", 9, size=1)
    h = head(app).headers
    assert (h["X-Container-Object-Count"], h["X-Container-Bytes-Used"]) == ("2", "7")


def test_object_row_needs_headers_and_a_container(app):
    assert put_obj(app, "o", 2).status_int == 404
    assert call(app, "DELETE", "/sda/1/a/c/o", {"X-Timestamp": ts(2)}).status_int == 404
    put_container(app)
    bad = {"X-Timestamp": ts(2), "X-Size": "x", "X-Content-Type": "t", "X-Etag": "e"}
    assert call(app, "PUT", "/sda/1/a/c/o", bad).status_int == 400
    assert call(app, "PUT", "/sda/1/a/c/o", {"X-Timestamp": ts(2), "X-Size": "1"}).status_int == 400
    assert call(app, "PUT", "/sda/1/a/c/o", {"X-Size": "1", "X-Content-Type": "t",
                                            "X-Etag": "e"}).status_int == 400


def test_internal_accounts_get_containers_on_first_update(app):
    resp = call(app, "PUT", "/sda/1/.expiring_objects/1700000000/1700000000-a/c/o", {
        "X-Timestamp": ts(2), "X-Size": "0", "X-Content-Type": "text/plain", "X-Etag": "e"})
    assert resp.status_int == 201
    assert head(app, "/sda/1/.expiring_objects/1700000000").headers["X-Container-Object-Count"] == "1"
    assert call(app, "DELETE", "/sda/1/.expiring_objects/1700000001/x",
                {"X-Timestamp": ts(3)}).status_int == 204


def test_object_name_with_slashes_and_unicode(app):
    put_container(app)
    assert put_obj(app, "d%C3%A9j%C3%A0/v%20u/x", 2).status_int == 201
    body = json.loads(call(app, "GET", "/sda/1/a/c?format=json").body)
    assert [e["name"] for e in body] == ["déjà/v u/x"]


# --- listings -----------------------------------------------------------------------------------
NAMES = ["a", "a/b", "a/b/c", "a/c", "b", "b/x", "b0", "c/d/e", "c/f", "d"]


@pytest.fixture
def listed(app):
    put_container(app)
    for i, name in enumerate(NAMES):
        put_obj(app, name, 10 + i, size=i, ctype="text/x-%d" % i, etag="etag%d" % i)
    return app


def names(app, query):
    resp = call(app, "GET", "/sda/1/a/c?format=json&" + query)
    assert resp.status_int == 200, resp.body
    return [e.get("name", "D:%s" % e.get("subdir")) for e in json.loads(resp.body)]


def test_listing_json_entries(listed):
    resp = call(listed, "GET", "/sda/1/a/c?format=json&limit=1")
    assert resp.content_type == "application/json" and resp.charset == "utf-8"
    assert json.loads(resp.body) == [{"name": "a", "hash": "etag0", "bytes": 0, "content_type": "text/x-0",
                                      "last_modified": "1970-01-01T00:00:10.000000"}]
    assert resp.headers["X-Container-Object-Count"] == str(len(NAMES))


@pytest.mark.parametrize("query,expected", [
    ("", NAMES),
    ("limit=3", NAMES[:3]),
    ("marker=b", ["b/x", "b0", "c/d/e", "c/f", "d"]),
    ("end_marker=a/c", ["a", "a/b", "a/b/c"]),
    ("marker=a&end_marker=b0", ["a/b", "a/b/c", "a/c", "b", "b/x"]),
    ("prefix=a/", ["a/b", "a/b/c", "a/c"]),
    ("delimiter=/", ["a", "D:a/", "b", "D:b/", "b0", "D:c/", "d"]),
    ("prefix=a/&delimiter=/", ["a/b", "D:a/b/", "a/c"]),
    ("reverse=true", list(reversed(NAMES))),
    ("reverse=true&marker=b&limit=2", ["a/c", "a/b/c"]),
    ("reverse=true&delimiter=/", ["d", "D:c/", "b0", "D:b/", "b", "D:a/", "a"]),
    ("path=a", ["a/b", "a/c"]),
    ("prefix=zz", []),
])
def test_listing_parameters(listed, query, expected):
    assert names(listed, query) == expected


def test_listing_limit_rules(listed):
    assert call(listed, "GET", "/sda/1/a/c?limit=10001").status_int == 412
    assert call(listed, "GET", "/sda/1/a/c?limit=abc").status_int == 412
    assert call(listed, "GET", "/sda/1/a/c?delimiter=ab").status_int == 412
    assert call(listed, "GET", "/sda/1/a/c?limit=10000").status_int == 200


def test_listing_limit_comes_from_constraints(tmp_path, objstore_conf, capture):
    app = make_app(tmp_path, capture[0], constraints=Constraints(container_listing_limit=2))
    put_container(app)
    for i in range(3):
        put_obj(app, "o%d" % i, 2)
    assert call(app, "GET", "/sda/1/a/c?limit=3").status_int == 412
    assert call(app, "GET", "/sda/1/a/c").body == b"o0\no1\n"


def test_listing_plain_xml_and_accept(listed):
    resp = call(listed, "GET", "/sda/1/a/c?delimiter=/")
    assert resp.status_int == 200 and resp.content_type == "text/plain"
    assert resp.body == b"a\na/\nb\nb/\nb0\nc/\nd\n"
    resp = call(listed, "GET", "/sda/1/a/c?format=xml&prefix=c/&delimiter=/")
    assert resp.content_type == "application/xml"
    root = ET.fromstring(resp.body)
    assert root.tag == "container" and root.attrib["name"] == "c"
    assert [child.tag for child in root] == ["subdir", "object"]
    assert root[0].attrib["name"] == "c/d/"
    obj = {field.tag: field.text for field in root[1]}
    assert obj == {"name": "c/f", "hash": "etag8", "bytes": "8", "content_type": "text/x-8",
                   "last_modified": "1970-01-01T00:00:18.000000"}
    req = Request.blank("/sda/1/a/c?limit=1", headers={"Accept": "application/json"})
    assert json.loads(req.get_response(listed).body)[0]["name"] == "a"
    req = Request.blank("/sda/1/a/c?limit=1", headers={"Accept": "text/xml"})
    resp = req.get_response(listed)
    assert resp.content_type == "application/xml" and resp.body.startswith(b"<?xml")
    assert call(listed, "GET", "/sda/1/a/c?format=yaml").status_int == 400


# --- static large objects: swift_bytes ------------------------------------------------------
@pytest.mark.parametrize("given, expected", [
    ("video/mp4;swift_bytes=300", ("video/mp4", 300)),
    ("text/plain; charset=utf-8;swift_bytes=10", ("text/plain; charset=utf-8", 10)),
    ("text/plain;swift_bytes=10; charset=utf-8", ("text/plain; charset=utf-8", 10)),
    ("a/b ; Swift_Bytes = 7 ", ("a/b", 7)),
    ("a/b;swift_bytes=0", ("a/b", 0)),
    ("a/b;swift_bytes=1;swift_bytes=2", ("a/b", 2)),
    ("a/b;swift_bytes=abc", ("a/b", None)),  # dropped all the same
    ("a/b;swift_bytes=-3", ("a/b", None)),
    ("a/b;swift_bytes=", ("a/b", None)),
    ("a/b", ("a/b", None)),
    ("a/b; charset=utf-8", ("a/b; charset=utf-8", None)),
    ("a/b;swift_bytesx=1", ("a/b;swift_bytesx=1", None)),
    ("", ("", None)),
])
def test_split_swift_bytes(given, expected):
    assert split_swift_bytes(given) == expected


def test_object_listing_entry_reports_swift_bytes():
    row = {"name": "big", "etag": "e", "size": 52, "content_type": "video/mp4;swift_bytes=300",
           "created_at": "0000000010.00000"}
    assert object_listing_entry(row) == {"name": "big", "hash": "e", "bytes": 300, "content_type": "video/mp4",
                                         "last_modified": "1970-01-01T00:00:10.000000"}
    assert list(object_listing_entry(row)) == ["name", "hash", "bytes", "content_type", "last_modified"]
    plain = dict(row, content_type="text/plain; charset=utf-8")
    assert object_listing_entry(plain)["bytes"] == 52
    assert object_listing_entry(plain)["content_type"] == "text/plain; charset=utf-8"
    assert object_listing_entry(dict(row, content_type="x/y;swift_bytes=oops"))["bytes"] == 52
    assert object_listing_entry({"subdir": "d/"}) == {"subdir": "d/"}


@pytest.fixture
def with_slo(app):
    put_container(app)
    put_obj(app, "big", 2, size=52, ctype="video/mp4;swift_bytes=300", etag="slo")
    put_obj(app, "d/nested", 3, size=40, ctype="text/plain; charset=utf-8;swift_bytes=1000", etag="n")
    put_obj(app, "small", 4, size=5, ctype="text/plain", etag="s")
    return app


def test_listings_report_the_slo_total_and_a_clean_content_type(with_slo):
    app = with_slo
    entries = json.loads(call(app, "GET", "/sda/1/a/c?format=json").body)
    assert [(e["name"], e["bytes"], e["content_type"]) for e in entries] == [
        ("big", 300, "video/mp4"), ("d/nested", 1000, "text/plain; charset=utf-8"), ("small", 5, "text/plain")]
    entries = json.loads(call(app, "GET", "/sda/1/a/c?format=json&delimiter=/").body)
    assert entries[0]["bytes"] == 300 and entries[1] == {"subdir": "d/"}
    entries = json.loads(call(app, "GET", "/sda/1/a/c?format=json&prefix=d/&delimiter=/").body)
    assert [(e["name"], e["bytes"], e["content_type"]) for e in entries] == [
        ("d/nested", 1000, "text/plain; charset=utf-8")]
    entries = json.loads(call(app, "GET", "/sda/1/a/c?format=json&reverse=true&limit=2").body)
    assert [(e["name"], e["bytes"]) for e in entries] == [("small", 5), ("d/nested", 1000)]
    root = ET.fromstring(call(app, "GET", "/sda/1/a/c?format=xml").body)
    objs = [{field.tag: field.text for field in child} for child in root]
    assert [(o["name"], o["bytes"], o["content_type"]) for o in objs] == [
        ("big", "300", "video/mp4"), ("d/nested", "1000", "text/plain; charset=utf-8"),
        ("small", "5", "text/plain")]
    assert b"swift_bytes" not in call(app, "GET", "/sda/1/a/c?format=xml").body
    assert call(app, "GET", "/sda/1/a/c").body == b"big\nd/nested\nsmall\n"


def test_bytes_used_counts_the_manifests_own_bytes(with_slo):
    # the segments are counted where they live; the total would count them twice (as Swift)
    app = with_slo
    h = head(app).headers
    assert (h["X-Container-Object-Count"], h["X-Container-Bytes-Used"]) == ("3", str(52 + 40 + 5))
    assert call(app, "GET", "/sda/1/a/c?format=json").headers["X-Container-Bytes-Used"] == "97"
    put_obj(app, "big", 5, size=3, ctype="video/mp4", etag="plain")  # replaced by a plain object
    entries = json.loads(call(app, "GET", "/sda/1/a/c?format=json&prefix=big").body)
    assert (entries[0]["bytes"], entries[0]["content_type"]) == (3, "video/mp4")
    assert head(app).headers["X-Container-Bytes-Used"] == str(3 + 40 + 5)


def test_empty_listings(app):
    put_container(app)
    resp = call(app, "GET", "/sda/1/a/c")
    assert resp.status_int == 204 and resp.body == b""
    assert resp.headers["X-Container-Object-Count"] == "0"
    resp = call(app, "GET", "/sda/1/a/c?format=json")
    assert (resp.status_int, resp.body) == (200, b"[]")
    resp = call(app, "GET", "/sda/1/a/c?format=xml")
    assert resp.status_int == 200 and ET.fromstring(resp.body).tag == "container"


def test_unknown_verb_and_recon(app):
    assert call(app, "COPY", "/sda/1/a/c").status_int == 405
    resp = call(app, "GET", "/recon/diskusage")
    assert resp.status_int == 200 and resp.content_type == "application/json"
    assert call(app, "GET", "/recon/bogus").status_int == 404


# --- account reports --------------------------------------------------------------------------------
def test_account_targets():
    assert account_targets({}) == []
    headers = {"X-Account-Host": "10.0.0.1:6002, [::1]:6012", "X-Account-Device": "sda,sdb",
               "X-Account-Partition": "7"}
    assert account_targets(headers) == [("10.0.0.1", 6002, "sda", "7"), ("::1", 6012, "sdb", "7")]
    with pytest.raises(BadRequest):
        account_targets({"X-Account-Host": "h:1,h:2", "X-Account-Device": "sda", "X-Account-Partition": "1"})
    with pytest.raises(BadRequest):
        account_targets({"X-Account-Host": "nohost", "X-Account-Device": "sda", "X-Account-Partition": "1"})


def test_report_headers():
    info = {"put_timestamp": ts(2), "delete_timestamp": ts(1), "object_count": 3, "bytes_used": 40}
    assert report_headers(info) == {"X-Put-Timestamp": ts(2), "X-Delete-Timestamp": ts(1),
                                    "X-Object-Count": "3", "X-Bytes-Used": "40", "X-Timestamp": ts(2)}


class _QuietHandler(wsgiref.simple_server.WSGIRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def account_server(tmp_path, objstore_conf, capture):
    """A real account server app on a wsgiref thread (its own device dir)."""
    devices = tmp_path / "acct"
    (devices / "sdx").mkdir(parents=True)
    app = AccountServer(AccountServerConfig(devices=str(devices), mount_check=False), capture[0], DEFAULT)
    httpd = wsgiref.simple_server.make_server("127.0.0.1", 0, app, handler_class=_QuietHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield app, httpd.server_port
    httpd.shutdown()
    httpd.server_close()


def acct_headers(port, part="3"):
    return {"X-Account-Host": "127.0.0.1:%d" % port, "X-Account-Device": "sdx", "X-Account-Partition": part}


def test_container_put_and_delete_report_to_the_account(app, account_server):
    acct, port = account_server
    assert call(acct, "PUT", "/sdx/3/a", {"X-Timestamp": ts(1)}).status_int == 201
    assert put_container(app, t=2, **acct_headers(port)).status_int == 201
    listing = json.loads(call(acct, "GET", "/sdx/3/a?format=json").body)
    assert [(e["name"], e["count"]) for e in listing] == [("c", 0)]
    broker = app.broker_for("sda", 1, "a", "c")
    info = broker.get_info()
    assert info["reported_put_timestamp"] == ts(2)
    assert not broker.needs_report(info)
    put_obj(app, "o", 3, size=7)
    assert broker.needs_report(broker.get_info())  # the updater's job
    call(app, "DELETE", "/sda/1/a/c/o", {"X-Timestamp": ts(4)})
    assert call(app, "DELETE", "/sda/1/a/c", dict(acct_headers(port), **{"X-Timestamp": ts(5)})).status_int == 204
    assert call(acct, "GET", "/sdx/3/a?format=json").body == b"[]"
    assert call(acct, "HEAD", "/sdx/3/a").headers["X-Account-Container-Count"] == "0"


def test_container_put_for_a_missing_account_is_404(app, account_server):
    _acct, port = account_server
    assert put_container(app, t=2, **acct_headers(port)).status_int == 404


def test_unreachable_account_is_logged_not_fatal(app, capture, listen_socket):
    sock = listen_socket()
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    assert put_container(app, t=2, **acct_headers(port)).status_int == 201
    assert any("account update" in line for line in capture[1].lines("ERROR"))
    assert app.broker_for("sda", 1, "a", "c").get_info()["reported_put_timestamp"] == ts(0)


# --- real processes -------------------------------------------------------------------------------------
@pytest.fixture
def container_process(tmp_path, objstore_conf, listen_socket):
    proc = ServerProcess("container", tmp_path, listen_socket(), objstore_conf)
    yield proc.port
    proc.stop()


def test_200_concurrent_object_updates_all_land(container_process):
    port = container_process
    assert request(port, "PUT", "/sda/0/a/c", {"X-Timestamp": ts(1)})[0] == 201
    count = 200
    barrier = threading.Barrier(count)
    statuses = [None] * count

    def update(i):
        barrier.wait()
        statuses[i] = request(port, "PUT", "/sda/0/a/c/obj-%03d" % i, {
            "X-Timestamp": ts(2), "X-Size": str(i), "X-Content-Type": "text/plain", "X-Etag": "e%d" % i})[0]

    threads = [threading.Thread(target=update, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert statuses == [201] * count
    status, headers, _ = request(port, "HEAD", "/sda/0/a/c")
    assert status == 204
    assert headers["X-Container-Object-Count"] == str(count)
    assert headers["X-Container-Bytes-Used"] == str(sum(range(count)))
    status, _, body = request(port, "GET", "/sda/0/a/c?format=json")
    assert [e["name"] for e in json.loads(body)] == ["obj-%03d" % i for i in range(count)]


def test_container_process_reports_to_an_account_process(tmp_path, objstore_conf, listen_socket):
    """The report goes out over green sockets from a monkey-patched worker."""
    account = ServerProcess("account", tmp_path, listen_socket(), objstore_conf, workers=1)
    container = ServerProcess("container", tmp_path, listen_socket(), objstore_conf, workers=1)
    try:
        assert request(account.port, "PUT", "/sda/2/a", {"X-Timestamp": ts(1)})[0] == 201
        headers = {"X-Timestamp": ts(2), "X-Account-Host": "127.0.0.1:%d" % account.port,
                   "X-Account-Device": "sda", "X-Account-Partition": "2"}
        assert request(container.port, "PUT", "/sda/5/a/c%C3%A9", headers)[0] == 201
        status, _, body = request(account.port, "GET", "/sda/2/a?format=json")
        assert status == 200 and [e["name"] for e in json.loads(body)] == ["c\u00e9"]
    finally:
        container.stop()
        account.stop()
