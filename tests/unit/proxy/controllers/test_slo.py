"""Static large objects (controllers/slo.py): the pure parts with literals,
then the proxy over real object/container/account servers (conftest.py)."""

import hashlib
import json
import xml.etree.ElementTree as ET

import pytest

from objstore.common.exceptions import BackendError, BadRequest, RequestEntityTooLarge
from objstore.proxy.controllers import slo
from objstore.web.app import Request, error_response
from tests.unit.proxy.realnodes import call

SEG = 100 * 1024  # bigger than the proxy's object_chunk_size (64 KiB) in the fixture


def md5(data):
    return hashlib.md5(data).hexdigest()


# --- pure parts ------------------------------------------------------------------------
def test_parse_put_manifest_normalizes_entries():
    body = json.dumps([{"path": "c/o", "etag": '"abc"', "size_bytes": "5"},
                       {"path": "/c/o/with/slash", "etag": None, "size_bytes": None, "range": "1-2"}])
    assert slo.parse_put_manifest(body) == [
        {"path": "/c/o", "container": "c", "obj": "o", "etag": "abc", "size_bytes": 5, "range": None},
        {"path": "/c/o/with/slash", "container": "c", "obj": "o/with/slash", "etag": None,
         "size_bytes": None, "range": "1-2"},
    ]


@pytest.mark.parametrize("body, reason", [
    (b"not json", "valid JSON"),
    (b'{"path": "/c/o"}', "JSON list"),
    (b"[]", "at least one"),
    (b'[{"path": "/c"}]', "Index 0: path '/c' is not /container/object"),
    (b'[{"path": "/c/o", "color": 1}]', "Index 0: unknown keys color"),
    (b'[{"path": "/c/o"}, {"path": "/c/o", "size_bytes": -1}]', "Index 1: size_bytes"),
    (b'[{"path": "/c/o", "etag": 5}]', "etag must be"),
    (b'[{"path": "/c/o", "range": 5}]', "range must be"),
])
def test_parse_put_manifest_names_what_is_wrong(body, reason):
    with pytest.raises(BadRequest) as err:
        slo.parse_put_manifest(body)
    assert reason in str(err.value)


def test_too_many_segments_is_413():
    with pytest.raises(RequestEntityTooLarge):
        slo.parse_put_manifest(json.dumps([{"path": "/c/o"}] * (slo.MAX_MANIFEST_SEGMENTS + 1)))


def test_resolve_range():
    assert slo.resolve_range("1-3", 10) == (1, 4)
    assert slo.resolve_range("5-", 10) == (5, 10)
    assert slo.resolve_range("-4", 10) == (6, 10)
    assert slo.resolve_range("2-100", 10) == (2, 10)
    for bad in ("x", "1-2,4-5", "10-", "3-1"):
        with pytest.raises(BadRequest):
            slo.resolve_range(bad, 10)


def test_slo_etag_is_md5_of_the_segment_etags_with_ranges_marked():
    items = [{"hash": "a" * 32, "bytes": 5}, {"hash": "b" * 32, "bytes": 9, "range": "1-3"}]
    assert slo.slo_etag(items) == md5(("a" * 32 + "b" * 32 + ":1-3;").encode())
    assert slo.item_length(items[1]) == 3


def test_pieces_cross_segment_boundaries_and_honour_item_ranges():
    items = [{"hash": "a", "bytes": 10}, {"hash": "b", "bytes": 10, "range": "2-5"}, {"hash": "c", "bytes": 10}]
    # the SLO is a[0:10] b[2:6] c[0:10]: 24 bytes
    assert slo.pieces(items, 0, 24) == [(items[0], 0, 10), (items[1], 2, 6), (items[2], 0, 10)]
    assert slo.pieces(items, 8, 15) == [(items[0], 8, 10), (items[1], 2, 6), (items[2], 0, 1)]
    assert slo.pieces(items, 11, 12) == [(items[1], 3, 4)]
    assert slo.pieces(items, 23, 24) == [(items[2], 9, 10)]


def test_manifest_item_checks_the_segment_against_the_entry():
    entry = {"path": "/c/o", "container": "c", "obj": "o", "etag": "e" * 32, "size_bytes": 10, "range": None}
    head = {"etag": "e" * 32, "content-length": "10", "content-type": "text/plain", "x-timestamp": "1700000000.00000"}
    item, reason = slo.manifest_item(entry, head)
    assert reason is None
    assert item == {"name": "/c/o", "hash": "e" * 32, "bytes": 10, "content_type": "text/plain",
                    "last_modified": "2023-11-14T22:13:20.000000"}
    assert slo.manifest_item(entry, dict(head, etag="f" * 32)) == (None, "Etag Mismatch")
    assert slo.manifest_item(entry, dict(head, **{"content-length": "11"}))[1].startswith("Size Mismatch")
    assert "Too small" in slo.manifest_item(dict(entry, size_bytes=None, etag=None), dict(head, **{"content-length": "0"}))[1]
    assert "dynamic" in slo.manifest_item(entry, dict(head, **{"x-object-manifest": "c/p"}))[1]
    nested = dict(head, **{slo.SYSMETA_SLO: "True", slo.SYSMETA_ETAG: "e" * 32, slo.SYSMETA_SIZE: "10"})
    assert slo.manifest_item(entry, nested)[0]["sub_slo"] is True
    assert slo.manifest_item(dict(entry, range="-3"), head)[0]["range"] == "7-9"


@pytest.mark.parametrize("given, expected", [
    ("video/mp4;swift_bytes=300", "video/mp4"),
    ("text/plain; charset=utf-8;swift_bytes=10", "text/plain; charset=utf-8"),
    ("text/plain;swift_bytes=10; charset=utf-8", "text/plain; charset=utf-8"),
    ("a/b ; SWIFT_BYTES=7", "a/b"),
    ("a/b;swift_bytes=x;swift_bytes=2", "a/b"),
    ("a/b;swift_bytesx=1", "a/b;swift_bytesx=1"),
    ("a/b; charset=utf-8", "a/b; charset=utf-8"),
    ("a/b", "a/b"),
])
def test_without_swift_bytes(given, expected):
    assert slo.without_swift_bytes(given) == expected


def test_with_swift_bytes_and_mark_total():
    assert slo.with_swift_bytes("video/mp4", 300) == "video/mp4;swift_bytes=300"
    assert slo.with_swift_bytes("video/mp4;swift_bytes=1", "300") == "video/mp4;swift_bytes=300"
    assert slo.with_swift_bytes("text/plain; charset=utf-8", 5) == "text/plain; charset=utf-8;swift_bytes=5"
    headers = {"content-type": "video/mp4", slo.SYSMETA_SIZE: "300"}
    slo.mark_total(headers)
    assert headers["content-type"] == "video/mp4;swift_bytes=300"
    headers = {slo.SYSMETA_SIZE: "7"}
    slo.mark_total(headers)
    assert headers["content-type"] == "application/octet-stream;swift_bytes=7"
    plain = {"content-type": "text/plain"}
    slo.mark_total(plain)
    assert plain == {"content-type": "text/plain"}


def test_delete_body_plain_and_json():
    ctype, body = slo.delete_body(3, 1, [], "application/json")
    assert ctype.startswith("application/json")
    assert json.loads(body) == {"Number Deleted": 3, "Number Not Found": 1, "Response Body": "",
                                "Response Status": "200 OK", "Errors": []}
    ctype, body = slo.delete_body(0, 0, [["/c/o", "503 Service Unavailable"]], None)
    assert ctype.startswith("text/plain")
    assert body.decode().splitlines() == ["Number Deleted: 0", "Number Not Found: 0", "Response Body: ",
                                          "Response Status: 400 Bad Request", "Errors:",
                                          "/c/o, 503 Service Unavailable"]


# --- through the proxy ------------------------------------------------------------------


@pytest.fixture
def segs(cluster):
    """``(app, [(path, body)])``: containers c and segs, three segments of SEG bytes."""
    app = cluster
    for container in ("c", "segs"):
        assert call(app, "PUT", "/v1/AUTH_test/%s" % container).status_int in (201, 202)
    made = []
    for index in range(3):
        body = bytes([65 + index]) * SEG
        path = "/segs/part%d" % index
        assert call(app, "PUT", "/v1/AUTH_test" + path, body=body).status_int == 201
        made.append((path, body))
    return app, made


def manifest_of(made, **extra):
    return json.dumps([dict({"path": path, "etag": md5(body), "size_bytes": len(body)}, **extra)
                       for path, body in made]).encode()


def put_slo(app, made, name="/c/big", headers=None):
    return call(app, "PUT", "/v1/AUTH_test%s?multipart-manifest=put" % name,
                dict({"Content-Type": "video/mp4"}, **(headers or {})), manifest_of(made))


def test_put_get_head_of_a_three_segment_slo(segs):
    app, made = segs
    whole = b"".join(body for _path, body in made)
    etag = md5("".join(md5(body) for _p, body in made).encode())
    resp = put_slo(app, made)
    assert resp.status_int == 201
    assert resp.headers["Etag"] == '"%s"' % etag
    resp = call(app, "GET", "/v1/AUTH_test/c/big")
    assert resp.status_int == 200
    assert resp.body == whole
    assert resp.headers["Content-Length"] == str(3 * SEG)
    assert resp.headers["Etag"] == '"%s"' % etag
    assert resp.headers["X-Static-Large-Object"] == "True"
    assert resp.headers["Content-Type"] == "video/mp4"
    assert not any(key.lower().startswith("x-object-sysmeta") for key in resp.headers)
    head = call(app, "HEAD", "/v1/AUTH_test/c/big")
    assert head.status_int == 200
    assert head.headers["Content-Length"] == str(3 * SEG)
    assert head.headers["Etag"] == '"%s"' % etag
    assert head.headers["X-Static-Large-Object"] == "True"
    # the manifest PUT may carry the ETag the client expects (quoted or not)
    assert put_slo(app, made, headers={"ETag": '"%s"' % etag}).status_int == 201
    resp = put_slo(app, made, headers={"ETag": "0" * 32})
    assert resp.status_int == 422


def test_the_body_is_streamed_segment_by_segment(segs):
    app, made = segs
    put_slo(app, made)
    resp = Request.blank("/v1/AUTH_test/c/big").call_application(app)
    _status, _headers, app_iter = resp
    chunks = list(app_iter)
    assert len(chunks) >= 6  # never one big piece: each segment comes in object_chunk_size reads
    assert max(len(chunk) for chunk in chunks) <= 65536


@pytest.mark.parametrize("spec, span", [
    ("bytes=%d-%d" % (SEG - 10, 2 * SEG + 9), (SEG - 10, 2 * SEG + 10)),  # across all three
    ("bytes=5-9", (5, 10)),
    ("bytes=-7", (3 * SEG - 7, 3 * SEG)),
    ("bytes=%d-" % (2 * SEG - 1), (2 * SEG - 1, 3 * SEG)),
])
def test_single_ranges(segs, spec, span):
    app, made = segs
    whole = b"".join(body for _path, body in made)
    put_slo(app, made)
    resp = call(app, "GET", "/v1/AUTH_test/c/big", {"Range": spec})
    assert resp.status_int == 206
    assert resp.body == whole[span[0]:span[1]]
    assert resp.headers["Content-Range"] == "bytes %d-%d/%d" % (span[0], span[1] - 1, 3 * SEG)


def test_multiple_ranges_and_unsatisfiable(segs):
    app, made = segs
    whole = b"".join(body for _path, body in made)
    put_slo(app, made)
    resp = call(app, "GET", "/v1/AUTH_test/c/big", {"Range": "bytes=0-1,%d-%d" % (SEG - 1, SEG)})
    assert resp.status_int == 206
    assert resp.headers["Content-Type"].startswith("multipart/byteranges")
    assert int(resp.headers["Content-Length"]) == len(resp.body)
    assert b"\r\n\r\n" + whole[0:2] + b"\r\n" in resp.body
    assert b"\r\n\r\n" + whole[SEG - 1:SEG + 1] + b"\r\n" in resp.body
    assert call(app, "GET", "/v1/AUTH_test/c/big", {"Range": "bytes=%d-" % (3 * SEG)}).status_int == 416


def test_conditional_requests_use_the_slo_etag(segs):
    app, made = segs
    etag = put_slo(app, made).headers["Etag"]
    assert call(app, "GET", "/v1/AUTH_test/c/big", {"If-Match": etag}).status_int == 200
    assert call(app, "GET", "/v1/AUTH_test/c/big", {"If-Match": '"nope"'}).status_int == 412
    assert call(app, "HEAD", "/v1/AUTH_test/c/big", {"If-Match": etag}).status_int == 200
    resp = call(app, "GET", "/v1/AUTH_test/c/big", {"If-None-Match": etag})
    assert resp.status_int == 304
    assert resp.headers["Etag"] == etag
    ranged = call(app, "GET", "/v1/AUTH_test/c/big", {"If-Match": etag, "Range": "bytes=0-3"})
    assert (ranged.status_int, ranged.body) == (206, b"AAAA")


def test_manifest_get_and_raw_format(segs):
    app, made = segs
    put_slo(app, made)
    resp = call(app, "GET", "/v1/AUTH_test/c/big?multipart-manifest=get")
    assert resp.status_int == 200
    assert resp.headers["X-Static-Large-Object"] == "True"
    items = json.loads(resp.body)
    assert [(i["name"], i["hash"], i["bytes"]) for i in items] == [(p, md5(b), SEG) for p, b in made]
    assert all(i["content_type"] and i["last_modified"] for i in items)
    assert resp.headers["Etag"] == '"%s"' % md5(resp.body)
    again = call(app, "GET", "/v1/AUTH_test/c/big?multipart-manifest=get", {"If-None-Match": resp.headers["Etag"]})
    assert again.status_int == 304
    raw = json.loads(call(app, "GET", "/v1/AUTH_test/c/big?multipart-manifest=get&format=raw").body)
    assert raw == [{"path": p, "etag": md5(b), "size_bytes": SEG} for p, b in made]
    # what format=raw gives back is a manifest PUT body
    again = call(app, "PUT", "/v1/AUTH_test/c/copy?multipart-manifest=put", body=json.dumps(raw).encode())
    assert again.status_int == 201


def test_bad_manifests_are_400_with_every_reason(segs):
    app, made = segs
    call(app, "PUT", "/v1/AUTH_test/segs/empty", body=b"")
    call(app, "PUT", "/v1/AUTH_test/segs/dlo", {"X-Object-Manifest": "segs/part"}, b"")
    manifest = [
        {"path": made[0][0], "etag": md5(made[0][1]), "size_bytes": SEG},  # fine
        {"path": "/segs/missing", "etag": None, "size_bytes": None},
        {"path": made[1][0], "etag": "0" * 32, "size_bytes": None},
        {"path": made[2][0], "etag": None, "size_bytes": 3},
        {"path": "/segs/empty", "etag": None, "size_bytes": None},
        {"path": "/segs/dlo", "etag": None, "size_bytes": None},
        {"path": made[0][0], "range": "%d-" % (SEG + 5)},
    ]
    resp = call(app, "PUT", "/v1/AUTH_test/c/bad?multipart-manifest=put", body=json.dumps(manifest).encode())
    assert resp.status_int == 400
    lines = resp.body.decode().splitlines()
    assert lines[0] == "Errors:"
    assert lines[1:] == ["/segs/missing, 404 Not Found", "/segs/part1, Etag Mismatch",
                         "/segs/part2, Size Mismatch (manifest 3, segment %d)" % SEG,
                         "/segs/empty, Too small; each segment must be at least 1 byte",
                         "/segs/dlo, Segment is a dynamic large object manifest",
                         "/segs/part0, unsatisfiable range '%d-'" % (SEG + 5)]
    assert call(app, "HEAD", "/v1/AUTH_test/c/bad").status_int == 404
    resp = call(app, "PUT", "/v1/AUTH_test/c/bad?multipart-manifest=put", body=b'[{"path": "nope"}]')
    assert (resp.status_int, resp.body) == (400, b"Index 0: path 'nope' is not /container/object\n")
    too_big = b" " * (slo.MAX_MANIFEST_SIZE + 1)
    assert call(app, "PUT", "/v1/AUTH_test/c/bad?multipart-manifest=put", body=too_big).status_int == 413


def test_a_plain_put_may_not_claim_to_be_an_slo(segs):
    app, _made = segs
    resp = call(app, "PUT", "/v1/AUTH_test/c/fake", {"X-Static-Large-Object": "True"}, b"[]")
    assert resp.status_int == 400
    call(app, "PUT", "/v1/AUTH_test/c/plain", body=b"x")
    call(app, "POST", "/v1/AUTH_test/c/plain", {"X-Static-Large-Object": "True"})
    assert "X-Static-Large-Object" not in call(app, "HEAD", "/v1/AUTH_test/c/plain").headers


def test_post_keeps_an_slo_an_slo(segs):
    app, made = segs
    put_slo(app, made, headers={"X-Object-Manifest": "segs/part"})  # dropped: one kind of large object
    assert call(app, "POST", "/v1/AUTH_test/c/big", {"X-Object-Meta-Color": "blue"}).status_int == 202
    resp = call(app, "GET", "/v1/AUTH_test/c/big")
    assert resp.headers["X-Object-Meta-Color"] == "blue"
    assert "X-Object-Manifest" not in resp.headers
    assert len(resp.body) == 3 * SEG


def test_segment_ranges_and_nested_slos(segs):
    app, made = segs
    whole = b"".join(body for _path, body in made)
    inner = [{"path": made[0][0], "range": "-3"}, {"path": made[1][0], "range": "0-1"}]
    resp = call(app, "PUT", "/v1/AUTH_test/c/inner?multipart-manifest=put", body=json.dumps(inner).encode())
    assert resp.status_int == 201
    inner_etag = md5(("%s:%d-%d;%s:0-1;" % (md5(made[0][1]), SEG - 3, SEG - 1, md5(made[1][1]))).encode())
    assert resp.headers["Etag"] == '"%s"' % inner_etag
    assert call(app, "GET", "/v1/AUTH_test/c/inner").body == b"AAABB"
    outer = [{"path": "/c/inner", "etag": inner_etag, "size_bytes": 5}, {"path": made[2][0]}]
    resp = call(app, "PUT", "/v1/AUTH_test/c/outer?multipart-manifest=put", body=json.dumps(outer).encode())
    assert resp.status_int == 201
    got = call(app, "GET", "/v1/AUTH_test/c/outer")
    assert got.body == b"AAABB" + whole[2 * SEG:]
    assert got.headers["Content-Length"] == str(5 + SEG)
    ranged = call(app, "GET", "/v1/AUTH_test/c/outer", {"Range": "bytes=3-6"})
    assert ranged.body == b"BBCC"


def test_missing_segment_before_the_first_byte_is_409(segs):
    app, made = segs
    put_slo(app, made)
    call(app, "DELETE", "/v1/AUTH_test" + made[0][0])
    resp = call(app, "GET", "/v1/AUTH_test/c/big")
    assert resp.status_int == 409
    assert b"part0" in resp.body
    # HEAD does not read the segments
    assert call(app, "HEAD", "/v1/AUTH_test/c/big").status_int == 200


def test_a_changed_first_segment_is_409(segs):
    app, made = segs
    put_slo(app, made)
    call(app, "PUT", "/v1/AUTH_test" + made[0][0], body=b"Z" * SEG)
    resp = call(app, "GET", "/v1/AUTH_test/c/big")
    assert resp.status_int == 409
    assert b"changed" in resp.body


def test_a_segment_missing_mid_body_cuts_the_response(segs):
    app, made = segs
    put_slo(app, made)
    call(app, "DELETE", "/v1/AUTH_test" + made[2][0])
    status, headers, app_iter = Request.blank("/v1/AUTH_test/c/big").call_application(app)
    assert status.startswith("200")
    assert dict(headers)["Content-Length"] == str(3 * SEG)
    received = 0
    with pytest.raises(BackendError):
        for chunk in app_iter:
            received += len(chunk)
    assert received == 2 * SEG


def test_segments_are_read_with_the_clients_authorization(segs):
    app, made = segs
    put_slo(app, made)

    def authorize(req, _info):
        if "/segs/" in req.path_info and req.method == "GET":
            return error_response(403)
        return None

    resp = call(app, "GET", "/v1/AUTH_test/c/big", environ={"objstore.authorize": authorize})
    assert resp.status_int == 409
    assert b"403" in resp.body
    resp = call(app, "PUT", "/v1/AUTH_test/c/other?multipart-manifest=put", body=manifest_of(made),
                environ={"objstore.authorize": lambda req, _info: error_response(403)
                         if req.method == "HEAD" else None})
    assert resp.status_int == 400
    assert b"/segs/part0, 403 Forbidden" in resp.body


def test_multipart_manifest_delete_removes_segments_then_manifest(segs):
    app, made = segs
    put_slo(app, made)
    call(app, "DELETE", "/v1/AUTH_test" + made[1][0])
    resp = call(app, "DELETE", "/v1/AUTH_test/c/big?multipart-manifest=delete", {"Accept": "application/json"})
    assert resp.status_int == 200
    assert json.loads(resp.body) == {"Number Deleted": 3, "Number Not Found": 1, "Response Body": "",
                                     "Response Status": "200 OK", "Errors": []}
    for path in ["/c/big"] + [path for path, _body in made]:
        assert call(app, "HEAD", "/v1/AUTH_test" + path).status_int == 404
    resp = call(app, "DELETE", "/v1/AUTH_test/c/big?multipart-manifest=delete")
    assert resp.headers["Content-Type"].startswith("text/plain")
    assert b"Number Not Found: 1" in resp.body


def test_plain_delete_keeps_the_segments_and_non_slo_is_an_error(segs):
    app, made = segs
    put_slo(app, made)
    assert call(app, "DELETE", "/v1/AUTH_test/c/big").status_int == 204
    assert all(call(app, "HEAD", "/v1/AUTH_test" + path).status_int == 200 for path, _b in made)
    resp = call(app, "DELETE", "/v1/AUTH_test%s?multipart-manifest=delete" % made[0][0],
                {"Accept": "application/json"})
    result = json.loads(resp.body)
    assert result["Response Status"] == "400 Bad Request"
    assert result["Errors"] == [["/segs/part0", "400 Not an SLO manifest"]]
    assert call(app, "HEAD", "/v1/AUTH_test" + made[0][0]).status_int == 200


def test_info_announces_slo(cluster):
    info = json.loads(call(cluster, "GET", "/info").body)
    assert info["slo"] == {"max_manifest_segments": 1000, "max_manifest_size": 8388608, "min_segment_size": 1}


def test_copy_of_an_slo_copies_the_content_or_with_manifest_get_the_manifest(segs):
    app, made = segs
    whole = b"".join(body for _path, body in made)
    put_slo(app, made)
    resp = call(app, "PUT", "/v1/AUTH_test/c/flat", {"X-Copy-From": "/c/big", "Content-Length": "0"})
    assert resp.status_int == 201
    flat = call(app, "GET", "/v1/AUTH_test/c/flat")
    assert flat.body == whole
    assert "X-Static-Large-Object" not in flat.headers
    assert flat.headers["Etag"].strip('"') == md5(whole)
    assert flat.headers["Content-Type"] == "video/mp4"
    resp = call(app, "COPY", "/v1/AUTH_test/c/big?multipart-manifest=get", {"Destination": "/c/twin"})
    assert resp.status_int == 201
    twin = call(app, "GET", "/v1/AUTH_test/c/twin")
    assert twin.body == whole
    assert twin.headers["X-Static-Large-Object"] == "True"
    assert twin.headers["Etag"] == call(app, "HEAD", "/v1/AUTH_test/c/big").headers["Etag"]
    call(app, "DELETE", "/v1/AUTH_test" + made[0][0])
    resp = call(app, "PUT", "/v1/AUTH_test/c/flat2", {"X-Copy-From": "/c/big", "Content-Length": "0"})
    assert resp.status_int == 409
    assert call(app, "HEAD", "/v1/AUTH_test/c/flat2").status_int == 404


# --- container listings show an SLO's total (swift_bytes) -----------------------------------
def listing(app, query="format=json", container="c"):
    resp = call(app, "GET", "/v1/AUTH_test/%s?%s" % (container, query))
    assert resp.status_int == 200, resp.body
    return resp


def test_listings_show_the_slo_total_and_a_clean_content_type(segs):
    app, made = segs
    # a client's own swift_bytes is dropped: the total is the proxy's to set
    put_slo(app, made, headers={"Content-Type": "video/mp4;swift_bytes=1"})
    manifest_size = int(call(app, "GET", "/v1/AUTH_test/c/big?multipart-manifest=get").headers["Content-Length"])
    assert manifest_size < SEG
    entries = json.loads(listing(app).body)
    assert [(e["name"], e["bytes"], e["content_type"]) for e in entries] == [("big", 3 * SEG, "video/mp4")]
    assert entries[0]["hash"]  # the row's etag, as Swift lists it
    root = ET.fromstring(listing(app, "format=xml").body)
    fields = {field.tag: field.text for field in root[0]}
    assert (fields["name"], fields["bytes"], fields["content_type"]) == ("big", str(3 * SEG), "video/mp4")
    assert listing(app, "format=plain").body == b"big\n"
    assert json.loads(listing(app, "format=json&prefix=b&delimiter=/").body)[0]["bytes"] == 3 * SEG
    # Bytes-Used counts the manifest's own bytes: the segments are counted in "segs"
    head = call(app, "HEAD", "/v1/AUTH_test/c")
    assert head.headers["X-Container-Bytes-Used"] == str(manifest_size)
    assert call(app, "HEAD", "/v1/AUTH_test/segs").headers["X-Container-Bytes-Used"] == str(3 * SEG)


def test_get_and_head_of_the_manifest_never_show_swift_bytes(segs):
    app, made = segs
    put_slo(app, made, headers={"Content-Type": "text/plain; charset=utf-8"})
    etag = call(app, "HEAD", "/v1/AUTH_test/c/big").headers["Etag"]
    answers = [
        call(app, "GET", "/v1/AUTH_test/c/big"),
        call(app, "HEAD", "/v1/AUTH_test/c/big"),
        call(app, "GET", "/v1/AUTH_test/c/big", {"Range": "bytes=0-3"}),
        call(app, "GET", "/v1/AUTH_test/c/big", {"If-None-Match": etag}),
        call(app, "GET", "/v1/AUTH_test/c/big?multipart-manifest=get"),
        call(app, "HEAD", "/v1/AUTH_test/c/big?multipart-manifest=get"),
    ]
    assert [resp.status_int for resp in answers] == [200, 200, 206, 304, 200, 200]
    for resp in answers:
        assert "swift_bytes" not in str(resp.headers).lower()
    assert answers[0].headers["Content-Type"] == "text/plain; charset=utf-8"
    assert answers[1].headers["Content-Type"] == "text/plain; charset=utf-8"
    multi = call(app, "GET", "/v1/AUTH_test/c/big", {"Range": "bytes=0-1,5-6"})
    assert multi.status_int == 206 and b"swift_bytes" not in multi.body
    assert b"Content-Type: text/plain; charset=utf-8\r\n" in multi.body


def test_a_post_keeps_the_total(segs):
    app, made = segs
    put_slo(app, made)
    resp = call(app, "POST", "/v1/AUTH_test/c/big", {"X-Object-Meta-Color": "blue", "Content-Type": "text/html"})
    assert resp.status_int == 202
    head = call(app, "HEAD", "/v1/AUTH_test/c/big")
    assert head.headers["X-Object-Meta-Color"] == "blue"
    assert "swift_bytes" not in head.headers["Content-Type"]
    entries = json.loads(listing(app).body)
    assert [(e["name"], e["bytes"]) for e in entries] == [("big", 3 * SEG)]
    assert "swift_bytes" not in entries[0]["content_type"]


def test_copies_list_the_total_only_when_they_are_slos(segs):
    app, made = segs
    put_slo(app, made)
    assert call(app, "PUT", "/v1/AUTH_test/c/twin?multipart-manifest=get",
                {"X-Copy-From": "/c/big", "Content-Length": "0", "Content-Type": "audio/ogg"}).status_int == 201
    assert call(app, "PUT", "/v1/AUTH_test/c/flat", {"X-Copy-From": "/c/big", "Content-Length": "0"}).status_int == 201
    entries = {e["name"]: (e["bytes"], e["content_type"]) for e in json.loads(listing(app).body)}
    assert entries == {"big": (3 * SEG, "video/mp4"), "twin": (3 * SEG, "audio/ogg"), "flat": (3 * SEG, "video/mp4")}
    assert call(app, "HEAD", "/v1/AUTH_test/c/twin").headers["Content-Type"] == "audio/ogg"
    flat = call(app, "HEAD", "/v1/AUTH_test/c/flat")
    assert (flat.headers["Content-Type"], flat.headers["Content-Length"]) == ("video/mp4", str(3 * SEG))
    # the flat copy is a plain object: its row's size is its own
    assert call(app, "HEAD", "/v1/AUTH_test/c").headers["X-Container-Bytes-Used"] == str(
        3 * SEG + 2 * int(call(app, "HEAD", "/v1/AUTH_test/c/big?multipart-manifest=get").headers["Content-Length"]))


def test_a_nested_slo_is_listed_with_its_total_in_the_outer_manifest_cleanly(segs):
    app, made = segs
    put_slo(app, made, name="/c/inner")
    outer = [{"path": "/c/inner"}, {"path": made[0][0]}]
    resp = call(app, "PUT", "/v1/AUTH_test/c/outer?multipart-manifest=put", body=json.dumps(outer).encode())
    assert resp.status_int == 201
    items = json.loads(call(app, "GET", "/v1/AUTH_test/c/outer?multipart-manifest=get").body)
    assert [(i["bytes"], i["content_type"]) for i in items] == [(3 * SEG, "video/mp4"), (SEG, items[1]["content_type"])]
    assert "swift_bytes" not in items[1]["content_type"]
    entries = {e["name"]: e["bytes"] for e in json.loads(listing(app).body)}
    assert entries == {"inner": 3 * SEG, "outer": 4 * SEG}
