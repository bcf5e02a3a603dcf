"""COPY with the client's own headers (controllers/obj.py) and dynamic large
objects whose segments include a static large object (controllers/manifest.py
expanding it with slo.py), through the proxy over real storage servers
(conftest.py)."""

import hashlib
import json

import pytest

from objstore.common.exceptions import BackendError
from objstore.web.app import Request
from tests.unit.proxy.realnodes import call

SEG = 100 * 1024  # bigger than the proxy's object_chunk_size (64 KiB) in the fixture


def md5(data):
    return hashlib.md5(data).hexdigest()




@pytest.fixture
def app(cluster):
    """The proxy with container c holding ``src`` (text/plain, meta color=red)."""
    assert call(cluster, "PUT", "/v1/AUTH_test/c").status_int in (201, 202)
    resp = call(cluster, "PUT", "/v1/AUTH_test/c/src", {"Content-Type": "text/plain", "X-Object-Meta-Color": "red"},
                b"hello")
    assert resp.status_int == 201
    return cluster


# --- COPY honours the request's headers as PUT + X-Copy-From does --------------------------
def test_copy_takes_the_clients_content_type_and_metadata(app):
    resp = call(app, "COPY", "/v1/AUTH_test/c/src",
                {"Destination": "c/o2", "Content-Type": "text/html", "X-Object-Meta-Size": "big"})
    assert resp.status_int == 201
    head = call(app, "HEAD", "/v1/AUTH_test/c/o2")
    assert head.headers["Content-Type"] == "text/html"
    assert (head.headers["X-Object-Meta-Color"], head.headers["X-Object-Meta-Size"]) == ("red", "big")
    assert call(app, "GET", "/v1/AUTH_test/c/o2").body == b"hello"
    listed = {e["name"]: e["content_type"] for e in json.loads(call(app, "GET", "/v1/AUTH_test/c?format=json").body)}
    assert listed["o2"] == "text/html"
    # the same as PUT with X-Copy-From
    resp = call(app, "PUT", "/v1/AUTH_test/c/o3",
                {"X-Copy-From": "c/src", "Content-Length": "0", "Content-Type": "text/html"})
    assert resp.status_int == 201
    assert call(app, "HEAD", "/v1/AUTH_test/c/o3").headers["Content-Type"] == "text/html"


def test_copy_without_a_content_type_keeps_the_sources(app):
    # what eventlet gives the app when the client sent no Content-Type: a
    # CONTENT_TYPE of its own, and the raw headers without one
    environ = {"headers_raw": (("Destination", "c/o2"),), "CONTENT_TYPE": "text/plain"}
    assert call(app, "PUT", "/v1/AUTH_test/c/pic", {"Content-Type": "image/png"}, b"png").status_int == 201
    resp = call(app, "COPY", "/v1/AUTH_test/c/pic", {"Destination": "c/o2"}, environ=environ)
    assert resp.status_int == 201
    assert call(app, "HEAD", "/v1/AUTH_test/c/o2").headers["Content-Type"] == "image/png"
    resp = call(app, "COPY", "/v1/AUTH_test/c/pic", {"Destination": "c/o3"})
    assert resp.status_int == 201
    assert call(app, "HEAD", "/v1/AUTH_test/c/o3").headers["Content-Type"] == "image/png"


def test_copy_with_fresh_metadata_is_the_put_copys(app):
    headers = {"X-Fresh-Metadata": "true", "X-Object-Meta-Size": "big", "Content-Type": "text/html"}
    assert call(app, "COPY", "/v1/AUTH_test/c/src", dict(headers, Destination="c/by-copy")).status_int == 201
    assert call(app, "PUT", "/v1/AUTH_test/c/by-put",
                dict(headers, **{"X-Copy-From": "c/src", "Content-Length": "0"})).status_int == 201
    for name in ("by-copy", "by-put"):
        head = call(app, "HEAD", "/v1/AUTH_test/c/" + name)
        assert head.headers["Content-Type"] == "text/html"
        assert head.headers["X-Object-Meta-Size"] == "big"
        assert "X-Object-Meta-Color" not in head.headers


# --- a DLO whose segments include an SLO --------------------------------------------------
@pytest.fixture
def dlo(cluster):
    """``(app, whole)``: /c/dlo over segs/p-0 (plain), segs/p-1 (an SLO of
    three plain segments under other/), segs/p-2 (plain)."""
    app = cluster
    for container in ("c", "segs", "other"):
        assert call(app, "PUT", "/v1/AUTH_test/%s" % container).status_int in (201, 202)
    inner = []
    for index in range(3):
        body = bytes([ord("a") + index]) * SEG
        assert call(app, "PUT", "/v1/AUTH_test/other/s%d" % index, body=body).status_int == 201
        inner.append({"path": "/other/s%d" % index, "etag": md5(body), "size_bytes": SEG})
    first, last = b"X" * SEG, b"Z" * 1000
    assert call(app, "PUT", "/v1/AUTH_test/segs/p-0", body=first).status_int == 201
    assert call(app, "PUT", "/v1/AUTH_test/segs/p-1?multipart-manifest=put",
                body=json.dumps(inner).encode()).status_int == 201
    assert call(app, "PUT", "/v1/AUTH_test/segs/p-2", body=last).status_int == 201
    assert call(app, "PUT", "/v1/AUTH_test/c/dlo", {"X-Object-Manifest": "segs/p-"}, b"").status_int == 201
    whole = first + b"a" * SEG + b"b" * SEG + b"c" * SEG + last
    return app, whole


def test_a_dlo_expands_an_slo_segment(dlo):
    app, whole = dlo
    head = call(app, "HEAD", "/v1/AUTH_test/c/dlo")
    assert head.headers["Content-Length"] == str(len(whole))
    resp = call(app, "GET", "/v1/AUTH_test/c/dlo")
    assert resp.status_int == 200
    assert resp.headers["Content-Length"] == str(len(whole))
    assert resp.body == whole


@pytest.mark.parametrize("first, last", [
    (SEG - 10, 2 * SEG + 9),  # from the plain segment into the SLO's second segment
    (2 * SEG - 5, 4 * SEG + 99),  # inside the SLO across its segments, then the last plain one
    (SEG + 3, SEG + 7),  # a few bytes of the SLO's first segment
    (0, 4 * SEG + 999),  # everything
])
def test_a_range_across_the_slo_segment(dlo, first, last):
    app, whole = dlo
    resp = call(app, "GET", "/v1/AUTH_test/c/dlo", {"Range": "bytes=%d-%d" % (first, last)})
    assert resp.status_int == 206
    assert resp.headers["Content-Range"] == "bytes %d-%d/%d" % (first, last, len(whole))
    assert resp.body == whole[first:last + 1]


def test_a_dlo_whose_slo_segment_lost_a_segment_is_cut_short(dlo):
    app, whole = dlo
    assert call(app, "DELETE", "/v1/AUTH_test/other/s1").status_int == 204
    _status, headers, app_iter = Request.blank("/v1/AUTH_test/c/dlo").call_application(app)
    assert dict(headers)["Content-Length"] == str(len(whole))
    got = []
    with pytest.raises(BackendError):
        for chunk in app_iter:
            got.append(chunk)
    assert b"".join(got) == whole[:2 * SEG]
