"""The object server app called directly (Request.blank) over real temp
devices with real xattrs: every verb, header, condition and failure."""

import hashlib
import http.server
import io
import os
import socket
import threading
import zlib

import pytest

from objstore.common import encoding, footer
from objstore.common.hashing import hash_path
from objstore.common.timestamp import Timestamp
from objstore.obj import metadata as meta_mod
from objstore.obj.server import ObjectServerConfig, container_nodes, split_object_path, stored_headers
from objstore.common.exceptions import BadRequest, DiskFileQuarantined
from objstore.web.app import Request

T1, T2, T3, T4 = (Timestamp(1700000000 + i).internal for i in range(1, 5))
PATH = "/sda/1/a/c/o"


def call(app, method, path=PATH, headers=None, body=None):
    req = Request.blank(path, environ={"REQUEST_METHOD": method}, headers=headers or {})
    if body is not None:
        req.body = body
    resp = req.get_response(app)
    resp.body  # consume (closes the reader)
    return resp


def put(app, body=b"hello", ts=T1, path=PATH, **headers):
    all_headers = {"X-Timestamp": ts, "Content-Type": "text/plain"}
    all_headers.update({k.replace("_", "-"): v for k, v in headers.items()})
    return call(app, "PUT", path, all_headers, body)


def hash_dir(devices, path=PATH):
    _dev, part, a, c, o = path.lstrip("/").split("/", 4)
    name_hash = hash_path(a, c, o)
    return os.path.join(devices, "sda", "objects", part, name_hash[-3:], name_hash)


# --- pure parts ------------------------------------------------------------------
def test_split_object_path_validates_before_io():
    assert split_object_path("/sda/1/a/c/o/with/slashes") == ("sda", "1", "a", "c", "o/with/slashes")
    for bad in ("/sda/x/a/c/o", "/../1/a/c/o", "/sda/1/../c/o", "/sda/1/a/./o", "/sda/1/a/c",
                "/sda/1//c/o", "/sda/1/a/c/"):
        with pytest.raises(BadRequest):
            split_object_path(bad)


def test_container_nodes():
    headers = {"X-Container-Host": "10.0.0.1:6001, 10.0.0.2:6001", "X-Container-Device": "sdb,sdc",
               "X-Container-Partition": "7"}
    assert container_nodes(headers) == [
        {"ip": "10.0.0.1", "port": 6001, "device": "sdb", "partition": "7"},
        {"ip": "10.0.0.2", "port": 6001, "device": "sdc", "partition": "7"},
    ]
    assert container_nodes({}) == []
    with pytest.raises(BadRequest):
        container_nodes({"X-Container-Host": "h:1,h:2", "X-Container-Device": "d", "X-Container-Partition": "1,2"})


def test_stored_headers():
    got = stored_headers({"x-object-meta-color": "b", "X-Object-Sysmeta-S": "1", "content-encoding": "gzip",
                          "X-Other": "no"}, ("Content-Encoding",))
    assert got == {"X-Object-Meta-Color": "b", "X-Object-Sysmeta-S": "1", "Content-Encoding": "gzip"}


# --- PUT / GET / HEAD ---------------------------------------------------------------
def test_put_get_head_round_trip(app, devices):
    body = os.urandom(200000)
    etag = hashlib.md5(body).hexdigest()
    resp = put(app, body, X_Object_Meta_Color="blue", X_Object_Sysmeta_Slo="x", Content_Encoding="gzip",
               Content_Disposition="inline", X_Static_Large_Object="True", X_Delete_At="4000000000",
               X_Ignored="zz", Content_Type="image/png")
    assert resp.status_int == 201 and resp.headers["ETag"] == etag
    resp = call(app, "GET")
    assert resp.status_int == 200 and resp.body == body
    h = resp.headers
    assert h["Content-Type"] == "image/png" and h["ETag"] == etag and h["Content-Length"] == str(len(body))
    assert h["X-Object-Meta-Color"] == "blue" and h["X-Object-Sysmeta-Slo"] == "x"
    assert h["Content-Encoding"] == "gzip" and h["Content-Disposition"] == "inline"
    assert h["X-Static-Large-Object"] == "True" and h["X-Delete-At"] == "4000000000"
    assert "X-Ignored" not in h
    assert not [key for key in h if "crc" in key.lower()]  # the body's CRC-32 stays internal
    assert h["X-Timestamp"] == Timestamp(T1).normal
    assert h["X-Backend-Timestamp"] == T1 and h["X-Backend-Data-Timestamp"] == T1
    assert h["Last-Modified"] == Timestamp(T1).http_date
    head = call(app, "HEAD")
    assert head.status_int == 200 and head.body == b""
    assert head.headers["Content-Length"] == str(len(body)) and head.headers["ETag"] == etag
    assert os.listdir(hash_dir(devices)) == [T1 + ".data"]
    assert os.listdir(os.path.join(devices, "sda", "tmp")) == []


def test_put_defaults_and_zero_bytes(app):
    resp = call(app, "PUT", headers={"X-Timestamp": T1, "Content-Length": "0"})
    assert resp.status_int == 201
    resp = call(app, "GET")
    assert resp.body == b"" and resp.headers["Content-Type"] == "application/octet-stream"
    assert resp.headers["ETag"] == hashlib.md5(b"").hexdigest()


def test_put_etag_mismatch_is_422_and_stores_nothing(app, devices):
    assert put(app, b"abc", ETag="0" * 32).status_int == 422
    assert put(app, b"abc", ETag='"%s"' % hashlib.md5(b"abc").hexdigest()).status_int == 201
    assert put(app, b"xyz", ts=T2, ETag="0" * 32).status_int == 422
    assert call(app, "GET").body == b"abc"
    assert os.listdir(os.path.join(devices, "sda", "tmp")) == []


def test_put_with_a_body_footer_takes_the_senders_md5_after_checking_the_crc(app, devices):
    body = os.urandom(300000)
    md5 = hashlib.md5(body).hexdigest()
    resp = put(app, body + footer.make(md5, zlib.crc32(body)), X_Backend_Body_Footer="md5,crc32")
    assert resp.status_int == 201 and resp.headers["ETag"] == md5
    got = call(app, "GET")
    assert got.body == body and got.headers["ETag"] == md5 and got.headers["Content-Length"] == str(len(body))


def test_a_body_changed_on_the_way_is_422_and_stores_nothing(app, devices):
    body = b"x" * 100000
    sent_crc = zlib.crc32(b"y" + body[1:])  # the sender hashed other bytes than arrived
    resp = put(app, body + footer.make(hashlib.md5(body).hexdigest(), sent_crc), X_Backend_Body_Footer="md5,crc32")
    assert resp.status_int == 422 and b"changed on the way" in resp.body
    assert call(app, "GET").status_int == 404
    assert os.listdir(os.path.join(devices, "sda", "tmp")) == []


def test_body_footer_with_an_etag_header_and_bad_footers(app, devices):
    body = b"abc" * 1000
    good = footer.make(hashlib.md5(body).hexdigest(), zlib.crc32(body))
    # the client's ETag is checked against the footer's md5
    assert put(app, body + good, ETag="0" * 32, X_Backend_Body_Footer="md5,crc32").status_int == 422
    assert put(app, body + good[:-1] + b"Z", X_Backend_Body_Footer="md5,crc32").status_int == 400  # not a footer
    assert put(app, body + good, X_Backend_Body_Footer="sha1").status_int == 400  # a format we do not know
    assert put(app, b"short", X_Backend_Body_Footer="md5,crc32").status_int == 400  # smaller than a footer
    req = Request.blank(PATH, environ={"REQUEST_METHOD": "PUT", "wsgi.input": io.BytesIO(body + good[:10])},
                        headers={"X-Timestamp": T1, "Content-Length": str(len(body) + 40),
                                 "X-Backend-Body-Footer": "md5,crc32"})
    assert req.get_response(app).status_int == 499  # the footer cut short
    assert call(app, "GET").status_int == 404
    assert os.listdir(os.path.join(devices, "sda", "tmp")) == []


def test_put_short_body_is_499_and_stores_nothing(app, devices):
    req = Request.blank(PATH, environ={"REQUEST_METHOD": "PUT", "wsgi.input": io.BytesIO(b"12345")},
                        headers={"X-Timestamp": T1, "Content-Length": "100"})
    assert req.get_response(app).status_int == 499
    assert call(app, "GET").status_int == 404
    assert os.listdir(os.path.join(devices, "sda", "tmp")) == []
    assert not os.path.exists(hash_dir(devices))


def test_put_needs_length_or_chunked(app):
    req = Request.blank(PATH, environ={"REQUEST_METHOD": "PUT", "wsgi.input": io.BytesIO(b"data")},
                        headers={"X-Timestamp": T1})
    req.environ.pop("CONTENT_LENGTH", None)
    assert req.get_response(app).status_int == 411
    req = Request.blank(PATH, environ={"REQUEST_METHOD": "PUT", "wsgi.input": io.BytesIO(b"chunked data")},
                        headers={"X-Timestamp": T1, "Transfer-Encoding": "chunked"})
    req.environ.pop("CONTENT_LENGTH", None)
    assert req.get_response(app).status_int == 201
    assert call(app, "GET").body == b"chunked data"
    assert call(app, "PUT", headers={"X-Timestamp": T2, "Content-Length": "x"}).status_int == 400


def test_put_requires_timestamp_and_checks_metadata(app):
    assert call(app, "PUT", headers={"Content-Length": "0"}).status_int == 400
    assert call(app, "PUT", headers={"X-Timestamp": "nope", "Content-Length": "0"}).status_int == 400
    assert put(app, **{"X-Object-Meta-Big": "v" * 257}).status_int == 400
    assert put(app, X_Delete_At="1000").status_int == 400  # in the past of X-Timestamp


def test_if_none_match_star(app):
    assert put(app, If_None_Match="*").status_int == 201
    assert put(app, ts=T2, If_None_Match="*").status_int == 412
    assert call(app, "DELETE", headers={"X-Timestamp": T3}).status_int == 204
    assert put(app, b"again", ts=T4, If_None_Match="*").status_int == 201


def test_older_or_equal_put_is_409_and_changes_nothing(app, devices):
    assert put(app, b"new", ts=T2).status_int == 201
    for ts in (T1, T2):
        resp = put(app, b"old", ts=ts)
        assert resp.status_int == 409 and resp.headers["X-Backend-Timestamp"] == T2
    assert call(app, "GET").body == b"new"
    assert os.listdir(hash_dir(devices)) == [T2 + ".data"]


def test_newer_put_replaces_and_removes_older_files(app, devices):
    put(app, b"one", ts=T1)
    call(app, "POST", headers={"X-Timestamp": T2, "X-Object-Meta-A": "1"})
    put(app, b"two", ts=T3)
    assert sorted(os.listdir(hash_dir(devices))) == [T3 + ".data"]
    resp = call(app, "GET")
    assert resp.body == b"two" and "X-Object-Meta-A" not in resp.headers


# --- conditions and ranges ------------------------------------------------------------
def test_conditional_get_and_head(app):
    put(app, b"0123456789")
    etag = hashlib.md5(b"0123456789").hexdigest()
    lm = Timestamp(T1).http_date
    early = Timestamp(1600000000).http_date
    cases = [
        ({"If-Match": '"%s"' % etag}, 200), ({"If-Match": '"nope"'}, 412), ({"If-Match": "*"}, 200),
        ({"If-None-Match": '"%s"' % etag}, 304), ({"If-None-Match": "*"}, 304), ({"If-None-Match": '"x"'}, 200),
        ({"If-Modified-Since": lm}, 304), ({"If-Modified-Since": early}, 200),
        ({"If-Unmodified-Since": early}, 412), ({"If-Unmodified-Since": lm}, 200),
    ]
    for headers, status in cases:
        for method in ("GET", "HEAD"):
            resp = call(app, method, headers=headers)
            assert resp.status_int == status, (method, headers)
            if status == 304:
                assert resp.body == b"" and resp.headers["ETag"] == etag
    assert call(app, "GET", "/sda/1/a/c/missing", {"If-Match": "*"}).status_int == 412
    assert call(app, "GET", "/sda/1/a/c/missing", {"If-None-Match": "*"}).status_int == 404


def test_ranges(app):
    put(app, b"0123456789", Content_Type="text/plain")
    resp = call(app, "GET", headers={"Range": "bytes=2-4"})
    assert resp.status_int == 206 and resp.body == b"234"
    assert resp.headers["Content-Range"] == "bytes 2-4/10" and resp.headers["Content-Length"] == "3"
    resp = call(app, "GET", headers={"Range": "bytes=-3"})
    assert resp.body == b"789"
    resp = call(app, "GET", headers={"Range": "bytes=0-1,5-6,100-200"})
    assert resp.status_int == 206
    ctype = resp.headers["Content-Type"]
    assert ctype.startswith("multipart/byteranges;boundary=")
    boundary = ctype.split("=", 1)[1]
    assert int(resp.headers["Content-Length"]) == len(resp.body)
    assert resp.body == (
        "--{b}\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-1/10\r\n\r\n01\r\n"
        "--{b}\r\nContent-Type: text/plain\r\nContent-Range: bytes 5-6/10\r\n\r\n56\r\n"
        "--{b}--\r\n".format(b=boundary)).encode()
    resp = call(app, "GET", headers={"Range": "bytes=50-60"})
    assert resp.status_int == 416 and resp.headers["Content-Range"] == "bytes */10"
    assert call(app, "GET", headers={"Range": "bytes=x"}).status_int == 200
    # If-Range that does not match: the whole object
    resp = call(app, "GET", headers={"Range": "bytes=0-1", "If-Range": '"other"'})
    assert resp.status_int == 200 and resp.body == b"0123456789"


def test_large_object_streams_in_chunks(make_app, devices):
    app = make_app(disk_chunk_size=4096)
    body = os.urandom(100000)
    put(app, body)
    req = Request.blank(PATH)
    resp = req.get_response(app)
    chunks = list(resp.app_iter)
    resp.app_iter.close()
    assert b"".join(chunks) == body
    assert max(len(c) for c in chunks) == 4096 and len(chunks) > 20


# --- DELETE ---------------------------------------------------------------------------
def test_delete_writes_tombstone(app, devices):
    put(app)
    resp = call(app, "DELETE", headers={"X-Timestamp": T2})
    assert resp.status_int == 204
    assert os.listdir(hash_dir(devices)) == [T2 + ".ts"]
    for method in ("GET", "HEAD"):
        resp = call(app, method)
        assert resp.status_int == 404 and resp.headers["X-Backend-Timestamp"] == T2
    # a put older than the tombstone loses
    assert put(app, ts=T1).status_int == 409
    # deleting again, newer: 404 but a newer tombstone
    resp = call(app, "DELETE", headers={"X-Timestamp": T3})
    assert resp.status_int == 404
    assert os.listdir(hash_dir(devices)) == [T3 + ".ts"]
    # equal: 404, nothing changes; older: 409
    assert call(app, "DELETE", headers={"X-Timestamp": T3}).status_int == 404
    assert call(app, "DELETE", headers={"X-Timestamp": T2}).status_int == 409
    assert os.listdir(hash_dir(devices)) == [T3 + ".ts"]


def test_delete_of_nothing_still_writes_tombstone(app, devices):
    resp = call(app, "DELETE", headers={"X-Timestamp": T1})
    assert resp.status_int == 404
    assert os.listdir(hash_dir(devices)) == [T1 + ".ts"]
    assert meta_mod.read_metadata_path(os.path.join(hash_dir(devices), T1 + ".ts"))[0]["name"] == "/a/c/o"


def test_older_delete_is_409(app, devices):
    put(app, ts=T2)
    for ts in (T1, T2):
        resp = call(app, "DELETE", headers={"X-Timestamp": ts})
        assert resp.status_int == 409 and resp.headers["X-Backend-Timestamp"] == T2
    assert call(app, "GET").status_int == 200


def test_x_if_delete_at(app):
    put(app, X_Delete_At="4000000000")
    assert call(app, "DELETE", headers={"X-Timestamp": T2, "X-If-Delete-At": "4000000001"}).status_int == 412
    assert call(app, "DELETE", headers={"X-Timestamp": T2, "X-If-Delete-At": "4000000000"}).status_int == 204


# --- POST -----------------------------------------------------------------------------
def test_post_replaces_user_metadata_keeps_data(app, devices):
    put(app, b"data", X_Object_Meta_Old="1", X_Object_Sysmeta_Keep="s", Content_Encoding="gzip",
        Content_Type="text/x")
    resp = call(app, "POST", headers={"X-Timestamp": T2, "X-Object-Meta-New": "2",
                                      "X-Object-Sysmeta-Keep": "changed", "Content-Type": "ignored/x"})
    assert resp.status_int == 202
    assert sorted(os.listdir(hash_dir(devices))) == [T1 + ".data", T2 + ".meta"]
    resp = call(app, "GET")
    h = resp.headers
    assert resp.body == b"data" and h["X-Object-Meta-New"] == "2" and "X-Object-Meta-Old" not in h
    assert h["X-Object-Sysmeta-Keep"] == "s" and "Content-Encoding" not in h and h["Content-Type"] == "text/x"
    assert h["X-Timestamp"] == Timestamp(T2).normal and h["X-Backend-Data-Timestamp"] == T1
    assert not [key for key in h if "crc" in key.lower()]
    # a newer POST replaces the .meta
    assert call(app, "POST", headers={"X-Timestamp": T3, "X-Object-Meta-Third": "3"}).status_int == 202
    assert sorted(os.listdir(hash_dir(devices))) == [T1 + ".data", T3 + ".meta"]
    # older or equal POST: 409
    resp = call(app, "POST", headers={"X-Timestamp": T3, "X-Object-Meta-X": "x"})
    assert resp.status_int == 409 and resp.headers["X-Backend-Timestamp"] == T3
    # a DELETE newer than the .meta wins
    assert call(app, "DELETE", headers={"X-Timestamp": T4}).status_int == 204
    assert call(app, "GET").status_int == 404


def test_post_missing_or_deleted(app):
    assert call(app, "POST", headers={"X-Timestamp": T1}).status_int == 404
    put(app, ts=T1)
    call(app, "DELETE", headers={"X-Timestamp": T2})
    resp = call(app, "POST", headers={"X-Timestamp": T3})
    assert resp.status_int == 404 and resp.headers["X-Backend-Timestamp"] == T2


def test_x_delete_at_in_past_is_404(app):
    put(app, X_Delete_At="1700000100")  # after X-Timestamp, before now
    for method in ("GET", "HEAD"):
        assert call(app, method).status_int == 404
    assert call(app, "POST", headers={"X-Timestamp": T2}).status_int == 404
    assert call(app, "DELETE", headers={"X-Timestamp": T2}).status_int == 404
    # POST can set a future X-Delete-At on a live object
    put(app, ts=T3)
    assert call(app, "POST", headers={"X-Timestamp": T4, "X-Delete-At": "4000000000"}).status_int == 202
    assert call(app, "HEAD").headers["X-Delete-At"] == "4000000000"


# --- devices and paths ------------------------------------------------------------------
def test_bad_paths_are_400(app, devices):
    for path in ("/sda/abc/a/c/o", "/../1/a/c/o", "/sda/1/../c/o", "/sda/1/a/c"):
        assert call(app, "GET", path).status_int == 400
    assert sorted(os.listdir(devices)) == ["sda"]


def test_missing_or_unmounted_device_is_507(make_app, devices):
    app = make_app()
    assert put(app, path="/sdz/1/a/c/o").status_int == 507
    assert call(app, "GET", "/sdz/1/a/c/o").status_int == 507
    assert not os.path.exists(os.path.join(devices, "sdz"))
    app = make_app(mount_check=True)  # tmp dirs are not mount points
    assert put(app).status_int == 507
    assert call(app, "REPLICATE", "/sda/1").status_int == 507


def test_fallocate_reserve_refuses_writes(make_app):
    app = make_app(fallocate_reserve="100%")
    assert put(app).status_int == 507
    app = make_app(fallocate_reserve=str(2 ** 62))
    assert put(app).status_int == 507
    app = make_app(fallocate_reserve="1")
    assert put(app).status_int == 201
    app = make_app(fallocate_reserve=str(2 ** 62))
    assert call(app, "DELETE", headers={"X-Timestamp": T2}).status_int == 204  # tombstones still go in


def test_config_rejects_bad_reserve():
    from objstore.common.config import build
    from objstore.common.exceptions import ConfigError
    with pytest.raises(ConfigError):
        build(ObjectServerConfig, {"fallocate_reserve": "lots"})
    assert build(ObjectServerConfig, {"fallocate_reserve": "5%"}).fallocate_reserve == "5%"


# --- metadata at the API limits ------------------------------------------------------------
def test_largest_allowed_metadata_round_trips(app, devices, big_xattrs_fit):
    # 90 items, 4096 bytes of names + values; the longest object name
    obj = "o" * 1024
    path = "/sda/1/a/c/" + obj
    headers = {}
    for i in range(90):
        name = "k%02d" % i + "n" * 9  # 12 bytes
        headers["X-Object-Meta-" + name] = "v" * (34 if i < 46 else 33)
    size = sum(len(k) - len("X-Object-Meta-") + len(v) for k, v in headers.items())
    assert size == 4096 and len(headers) == 90
    assert put(app, b"body", path=path, **headers).status_int == 201
    resp = call(app, "GET", path)
    assert resp.body == b"body"
    for key, value in headers.items():
        assert resp.headers[key] == value
    # on ext4 (what the tests run on here) this does not fit in xattrs: the trailer holds it
    data = os.path.join(hash_dir(devices, path), T1 + ".data")
    assert (os.path.getsize(data) > len(b"body")) is not big_xattrs_fit
    # and POST can store as much
    post = {k: v.upper() for k, v in headers.items()}
    post["X-Timestamp"] = T2
    assert call(app, "POST", path, post).status_int == 202
    resp = call(app, "HEAD", path)
    assert all(resp.headers[k] == v.upper() for k, v in headers.items())
    # one item more is refused
    headers["X-Object-Meta-Extra"] = "x"
    assert put(app, ts=T3, path=path, **headers).status_int == 400


# --- quarantine -------------------------------------------------------------------------
def test_flipped_byte_quarantines_on_full_read(app, devices):
    body = os.urandom(300000)
    put(app, body)
    data = os.path.join(hash_dir(devices), T1 + ".data")
    with open(data, "r+b") as handle:
        handle.seek(1000)
        byte = handle.read(1)
        handle.seek(1000)
        handle.write(bytes([byte[0] ^ 0xFF]))
    resp = Request.blank(PATH).get_response(app)
    got = []
    with pytest.raises(DiskFileQuarantined):
        for chunk in resp.app_iter:
            got.append(chunk)
    resp.app_iter.close()
    assert len(b"".join(got)) < len(body)  # the response ends short
    assert call(app, "GET").status_int == 404
    quarantined = os.path.join(devices, "sda", "quarantined", "objects", os.path.basename(hash_dir(devices)))
    assert os.listdir(quarantined) == [T1 + ".data"]
    assert not os.path.exists(hash_dir(devices))


def test_truncated_data_quarantines_at_open(app, devices):
    put(app, b"x" * 1000)
    data = os.path.join(hash_dir(devices), T1 + ".data")
    os.truncate(data, 500)
    assert call(app, "GET").status_int == 404
    assert os.path.isdir(os.path.join(devices, "sda", "quarantined", "objects"))
    assert put(app, b"fresh", ts=T2).status_int == 201
    assert call(app, "GET").body == b"fresh"


def test_range_read_does_not_check_md5(app, devices):
    put(app, b"0123456789")
    data = os.path.join(hash_dir(devices), T1 + ".data")
    with open(data, "r+b") as handle:
        handle.seek(9)
        handle.write(b"X")
    assert call(app, "GET", headers={"Range": "bytes=0-3"}).body == b"0123"
    resp = Request.blank(PATH).get_response(app)
    assert resp.status_int == 200
    with pytest.raises(DiskFileQuarantined):  # the first full read ends short, and quarantines
        list(resp.app_iter)
    resp.app_iter.close()
    assert call(app, "GET").status_int == 404


# --- REPLICATE --------------------------------------------------------------------------
def test_replicate_hashes_change_after_put(app, devices):
    resp = call(app, "REPLICATE", "/sda/1")
    assert resp.status_int == 200 and encoding.unpack(resp.body)[1] == {}
    put(app)
    suffix = os.path.basename(os.path.dirname(hash_dir(devices)))
    first = encoding.unpack(call(app, "REPLICATE", "/sda/1").body)[1]
    assert list(first) == [suffix] and len(first[suffix]) == 32
    call(app, "POST", headers={"X-Timestamp": T2, "X-Object-Meta-A": "b"})
    second = encoding.unpack(call(app, "REPLICATE", "/sda/1").body)[1]
    assert second[suffix] != first[suffix]
    assert encoding.unpack(call(app, "REPLICATE", "/sda/1/%s-abc" % suffix).body)[1] == second
    assert call(app, "REPLICATE", "/sda/1/zzzz").status_int == 400
    assert call(app, "REPLICATE", "/sda/x").status_int == 400


def test_replication_put_stores_metadata_without_container_update(app, devices):
    resp = put(app, b"rep", X_Backend_Replication="true", X_Object_Meta_M="1",
               X_Container_Host="127.0.0.1:1", X_Container_Device="sdb", X_Container_Partition="1")
    assert resp.status_int == 201
    assert call(app, "GET").headers["X-Object-Meta-M"] == "1"
    assert not os.path.exists(os.path.join(devices, "sda", "async_pending"))
    resp = call(app, "DELETE", headers={"X-Timestamp": T2, "X-Backend-Replication": "true",
                                        "X-Container-Host": "127.0.0.1:1", "X-Container-Device": "sdb",
                                        "X-Container-Partition": "1"})
    assert resp.status_int == 204
    assert not os.path.exists(os.path.join(devices, "sda", "async_pending"))


# --- container updates ------------------------------------------------------------------------
class _Recorder(http.server.BaseHTTPRequestHandler):
    def _answer(self):
        self.server.seen.append((self.command, self.path, dict(self.headers)))
        self.send_response(self.server.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_PUT = do_DELETE = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def container_server():
    server = http.server.HTTPServer(("127.0.0.1", 0), _Recorder)
    server.seen = []
    server.status = 201
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _dead_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def _async_files(devices):
    root = os.path.join(devices, "sda", "async_pending")
    found = []
    for dirpath, _dirs, files in os.walk(root):
        found.extend(os.path.join(dirpath, f) for f in files)
    return found


def test_container_update_sent(app, devices, container_server):
    host = "127.0.0.1:%d" % container_server.server_address[1]
    headers = {"X-Container-Host": host, "X-Container-Device": "sdc", "X-Container-Partition": "5",
               "X-Trans-Id": "tx123"}
    assert put(app, b"abc", Content_Type="text/x", **{k.replace("-", "_"): v for k, v in headers.items()}).status_int == 201
    method, path, sent = container_server.seen[0]
    assert (method, path) == ("PUT", "/sdc/5/a/c/o")
    assert sent["X-Timestamp"] == T1 and sent["X-Size"] == "3" and sent["X-Content-Type"] == "text/x"
    assert sent["X-Etag"] == hashlib.md5(b"abc").hexdigest() and sent["X-Trans-Id"] == "tx123"
    headers["X-Timestamp"] = T2
    assert call(app, "DELETE", headers=headers).status_int == 204
    method, path, sent = container_server.seen[1]
    assert (method, path, sent["X-Timestamp"]) == ("DELETE", "/sdc/5/a/c/o", T2)
    assert _async_files(devices) == []


def test_container_update_failure_writes_async_pending(app, devices, container_server, capture):
    good = "127.0.0.1:%d" % container_server.server_address[1]
    bad = "127.0.0.1:%d" % _dead_port()
    resp = put(app, b"abc", X_Container_Host="%s,%s" % (good, bad), X_Container_Device="sdc,sdd",
               X_Container_Partition="5,5")
    assert resp.status_int == 201
    files = _async_files(devices)
    name_hash = hash_path("a", "c", "o")
    assert [os.path.relpath(f, os.path.join(devices, "sda", "async_pending")) for f in files] == [
        "%s/%s-%s" % (name_hash[-3:], name_hash, T1)]
    with open(files[0], "rb") as handle:
        version, body = encoding.unpack(handle.read())
    assert version == 1
    assert body["op"] == "PUT" and (body["account"], body["container"], body["obj"]) == ("a", "c", "o")
    assert body["headers"]["X-Size"] == "3" and body["headers"]["X-Timestamp"] == T1
    assert body["container_nodes"] == [{"ip": "127.0.0.1", "port": int(bad.split(":")[1]),
                                        "device": "sdd", "partition": "5"}]
    warnings = capture[1].lines("WARNING")
    assert len(warnings) == 1 and "sdd" in warnings[0] and "sdc" not in warnings[0]
    # an error status counts as a failure too
    container_server.status = 500
    resp = call(app, "DELETE", headers={"X-Timestamp": T2, "X-Container-Host": good,
                                        "X-Container-Device": "sdc", "X-Container-Partition": "5"})
    assert resp.status_int == 204
    assert len(_async_files(devices)) == 2


def test_conf_sample_lists_every_option():
    from objstore.common.config import format_value, options_of
    sample = os.path.join(os.path.dirname(__file__), "..", "..", "..", "etc", "object-server.conf-sample")
    with open(sample) as handle:
        lines = handle.read().splitlines()
    assert "[object-server]" in lines
    for name, default, doc in options_of(ObjectServerConfig):
        assert ("# %s = %s" % (name, format_value(default))).rstrip() in [l.rstrip() for l in lines], name
        assert "# " + doc in lines, name


def test_too_large_is_413(make_app, devices):
    import dataclasses
    from objstore.common.constraints import DEFAULT
    app = make_app()
    app.constraints = dataclasses.replace(DEFAULT, max_file_size=100)
    assert put(app, b"x" * 101).status_int == 413
    req = Request.blank(PATH, environ={"REQUEST_METHOD": "PUT", "wsgi.input": io.BytesIO(b"y" * 200000)},
                        headers={"X-Timestamp": T1, "Transfer-Encoding": "chunked"})
    req.environ.pop("CONTENT_LENGTH", None)
    assert req.get_response(app).status_int == 413
    assert os.listdir(os.path.join(devices, "sda", "tmp")) == []
    assert put(app, b"x" * 100).status_int == 201


def test_if_none_match_on_expired_or_by_etag(app):
    put(app, b"abc", X_Delete_At="1700000100")  # expired by now
    assert put(app, b"new", ts=T2, If_None_Match="*").status_int == 201
    etag = hashlib.md5(b"new").hexdigest()
    assert put(app, b"x", ts=T3, If_None_Match='"%s"' % etag).status_int == 412
    assert put(app, b"x", ts=T3, If_None_Match='"other"').status_int == 201


def test_utf8_metadata_value_at_the_limit_is_counted_in_bytes_once(app):
    # 128 two-byte characters = 256 bytes of UTF-8: exactly the value limit.
    # WSGI hands the value over latin-1 decoded (512 chars); it must not count twice.
    wire = ("\u00e9" * 128).encode("utf-8").decode("latin-1")
    assert put(app, X_Object_Meta_Name=wire).status_int == 201
    resp = call(app, "HEAD")
    assert resp.headers["X-Object-Meta-Name"].encode("latin-1").decode("utf-8") == "\u00e9" * 128
    too_long = ("\u00e9" * 129).encode("utf-8").decode("latin-1")
    assert put(app, ts=T2, X_Object_Meta_Name=too_long).status_int == 400
