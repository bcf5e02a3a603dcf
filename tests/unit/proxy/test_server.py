"""The proxy app against fake storage nodes (real HTTP servers on 127.0.0.1)."""

import hashlib
import io
import os
import threading

import pytest

from objstore.proxy.controllers import putter
from objstore.web.app import Request
from tests.unit.proxy.conftest import dead_port

OBJ = "/v1/AUTH_a/c/o"


def call(app, method, path, headers=None, body=None, environ=None):
    req = Request.blank(path, method=method, headers=headers or {}, body=body)
    if environ:
        req.environ.update(environ)
    return req.get_response(app)


def test_put_streams_to_every_primary(proxy):
    app, nodes, _log = proxy
    resp = call(app, "PUT", OBJ, body=b"payload")
    assert resp.status_int == 201 and resp.headers["Etag"] == "321c3cf486ed509164edec1e1981fec8"
    for node in nodes[:3]:
        headers, body = node.objects[("AUTH_a", "c", "o")]
        assert body == b"payload"
    puts = [r for r in nodes[0].requests if r[0] == "PUT"]
    # a small body goes with the head, without the 100-continue round trip
    assert "Expect" not in puts[0][2] and puts[0][2]["X-Container-Device"] == "sd0"
    assert {n.objects[("AUTH_a", "c", "o")][0]["X-Timestamp"] for n in nodes[:3]}.__len__() == 1
    assert not nodes[3].objects


def test_a_small_put_does_not_wait_for_a_stalled_third_replica(proxy):
    app, nodes, _log = proxy
    nodes[2].hold = threading.Event()
    try:
        resp = call(app, "PUT", OBJ, body=b"quorum")
        assert resp.status_int == 201  # answered after post_quorum_timeout, the third still stalled
        assert ("AUTH_a", "c", "o") not in nodes[2].objects
    finally:
        nodes[2].hold.set()


def test_a_small_if_none_match_put_still_asks_first(proxy):
    app, nodes, _log = proxy
    assert call(app, "PUT", OBJ, body=b"x").status_int == 201
    assert call(app, "PUT", OBJ, headers={"If-None-Match": "*"}, body=b"y").status_int == 412
    puts = [r for r in nodes[0].requests if r[0] == "PUT"]  # the 100-continue handshake decides
    assert puts[-1][2]["Expect"] == "100-continue"


def test_a_bigger_body_waits_for_100_continue(proxy):
    app, nodes, _log = proxy
    body = b"b" * (putter.SMALL_BODY + 1)
    assert call(app, "PUT", OBJ, body=body).status_int == 201
    puts = [r for r in nodes[0].requests if r[0] == "PUT"]
    assert puts[0][2]["Expect"] == "100-continue"
    assert all(node.objects[("AUTH_a", "c", "o")][1] == body for node in nodes[:3])


def test_a_bigger_body_carries_its_md5_and_crc_in_a_footer(proxy):
    app, nodes, _log = proxy
    body = os.urandom(putter.SMALL_BODY * 3)
    resp = call(app, "PUT", OBJ, body=body)
    assert resp.status_int == 201 and resp.headers["ETag"] == hashlib.md5(body).hexdigest()
    for node in nodes[:3]:
        (put,) = [r for r in node.requests if r[0] == "PUT"]
        assert put[2]["X-Backend-Body-Footer"] == "md5,crc32"
        assert put[2]["Content-Length"] == str(len(body) + 40)
        assert node.objects[("AUTH_a", "c", "o")][1] == body


def test_an_object_server_without_footers_is_passed_over(proxy):
    """An older object server would store the footer as object bytes: the
    proxy sees no footer in its 100 Continue and takes the next node."""
    app, nodes, log = proxy
    nodes[1].footers = False
    body = b"f" * (putter.SMALL_BODY * 2)
    assert call(app, "PUT", OBJ, body=body).status_int == 201
    assert ("AUTH_a", "c", "o") not in nodes[1].objects
    assert nodes[3].objects[("AUTH_a", "c", "o")][1] == body  # the handoff took its place
    assert any("no body footer support" in line for line in log.lines())


def test_client_x_timestamp_is_not_trusted(proxy):
    app, nodes, _log = proxy
    call(app, "PUT", OBJ, headers={"X-Timestamp": "1000000000.00000"}, body=b"x")
    assert nodes[0].objects[("AUTH_a", "c", "o")][0]["X-Timestamp"] != "1000000000.00000"


def test_chunked_put(proxy):
    app, nodes, _log = proxy
    req = Request.blank(OBJ, method="PUT", headers={"Transfer-Encoding": "chunked"})
    req.environ["wsgi.input"] = io.BytesIO(b"x" * 200000)
    req.environ.pop("CONTENT_LENGTH", None)
    resp = req.get_response(app)
    assert resp.status_int == 201
    assert nodes[1].objects[("AUTH_a", "c", "o")][1] == b"x" * 200000


def test_unreachable_primary_is_replaced_by_a_handoff(proxy):
    app, nodes, log = proxy
    nodes[1].node["port"] = dead_port()
    resp = call(app, "PUT", OBJ, body=b"handoff")
    assert resp.status_int == 201
    assert nodes[3].objects[("AUTH_a", "c", "o")][1] == b"handoff"
    assert any("Handoff used" in line for line in log.lines())


def test_no_quorum_is_503(proxy):
    app, nodes, _log = proxy
    for node in nodes[1:]:
        node.node["port"] = dead_port()
    assert call(app, "PUT", OBJ, body=b"x").status_int == 503


def test_if_none_match_star_is_412(proxy):
    app, _nodes, _log = proxy
    assert call(app, "PUT", OBJ, body=b"x").status_int == 201
    assert call(app, "PUT", OBJ, headers={"If-None-Match": "*"}, body=b"x").status_int == 412
    assert call(app, "PUT", OBJ, headers={"If-None-Match": "abc"}, body=b"x").status_int == 400


def test_length_required_and_too_large(proxy):
    app, _nodes, _log = proxy
    req = Request.blank(OBJ, method="PUT")
    req.environ.pop("CONTENT_LENGTH", None)
    assert req.get_response(app).status_int == 411
    assert call(app, "PUT", OBJ, headers={"Content-Length": str(6 * 1024 ** 3)}).status_int == 413


def test_client_short_body_is_499_and_nothing_stored(proxy):
    app, nodes, _log = proxy
    req = Request.blank(OBJ, method="PUT", headers={"Content-Length": "100000"})
    req.environ["wsgi.input"] = io.BytesIO(b"x" * 1000)
    assert req.get_response(app).status_int == 499
    import time

    time.sleep(0.2)
    assert not any(node.objects for node in nodes)


def test_client_short_small_body_is_499_before_any_node_is_asked(proxy):
    app, nodes, _log = proxy
    req = Request.blank(OBJ, method="PUT", headers={"Content-Length": "4096"})
    req.environ["wsgi.input"] = io.BytesIO(b"x" * 1000)
    assert req.get_response(app).status_int == 499
    assert not any(r[0] == "PUT" for node in nodes for r in node.requests)


def test_get_failover_and_mid_stream_resume(proxy):
    app, nodes, log = proxy
    data = bytes(range(256)) * 1024
    assert call(app, "PUT", OBJ, body=data).status_int == 201
    nodes[0].objects.clear()  # the first primary lost its copy
    nodes[1].die_after = 70000  # the second dies mid-body
    resp = call(app, "GET", OBJ)
    assert resp.status_int == 200 and resp.body == data
    ranged = [r for r in nodes[2].requests if r[0] == "GET"]
    assert ranged[-1][2]["Range"].startswith("bytes=")
    assert any("mid-stream" in line for line in log.lines())


def test_read_404_vs_503(proxy):
    app, nodes, _log = proxy
    assert call(app, "GET", OBJ).status_int == 404
    for node in nodes[:3]:
        node.node["port"] = dead_port()
    assert call(app, "GET", OBJ).status_int == 503


def test_error_limiting_skips_a_failing_node(proxy):
    app, nodes, log = proxy
    call(app, "PUT", OBJ, body=b"x")
    nodes[0].status = 500
    for _ in range(4):
        assert call(app, "GET", OBJ).status_int == 200
    count = len(nodes[0].requests)
    assert call(app, "GET", OBJ).status_int == 200
    assert len(nodes[0].requests) == count  # not asked any more
    assert any("error limited" in line for line in log.lines())


def test_delete_and_post_quorum(proxy):
    app, _nodes, _log = proxy
    assert call(app, "DELETE", OBJ).status_int == 404
    call(app, "PUT", OBJ, body=b"x")
    assert call(app, "POST", OBJ, headers={"X-Object-Meta-A": "b"}).status_int == 202
    assert call(app, "DELETE", OBJ).status_int == 204


def test_trans_id_on_every_response_and_info(proxy):
    app, _nodes, _log = proxy
    for path in ("/info", "/v1/AUTH_a/c/o", "/nowhere", "/v2/AUTH_a"):
        resp = call(app, "GET", path)
        assert resp.headers["X-Trans-Id"] == resp.headers["X-Openstack-Request-Id"]
    assert call(app, "GET", "/info").json["swift"]["max_meta_count"] == 90


@pytest.mark.parametrize("path,parts", [
    ("/v1/a", ("v1", "a", None, None)),
    ("/v1/a/", ("v1", "a", None, None)),
    ("/v1/a/c/", ("v1", "a", "c", None)),
    ("/v1/a/c/o/with/slashes/", ("v1", "a", "c", "o/with/slashes/")),
    ("/v1//c", None),
    ("/v1/a//o", None),
    ("/", None),
])
def test_parse_path(path, parts):
    from objstore.proxy.server import parse_path

    assert parse_path(path) == parts


def test_utf8_metadata_counts_characters_bytes_once(proxy):
    app, _nodes, _log = proxy
    value = ("\u00e9" * 128).encode("utf-8").decode("latin-1")  # 256 bytes of UTF-8, as WSGI passes it
    assert call(app, "PUT", OBJ, headers={"X-Object-Meta-Accent": value}, body=b"x").status_int == 201
    too_long = ("\u00e9" * 129).encode("utf-8").decode("latin-1")
    assert call(app, "PUT", OBJ, headers={"X-Object-Meta-Accent": too_long}, body=b"x").status_int == 400
