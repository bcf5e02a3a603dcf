"""The Swift v1 API through the whole cluster: python-swiftclient and raw HTTP."""

import hashlib
import json
import socket
import time
import uuid
import xml.etree.ElementTree as ET

import pytest
from swiftclient.exceptions import ClientException


def unique(prefix="c"):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:10])


@pytest.fixture
def acct(cluster, admin):
    """``(path_prefix, headers)`` for raw requests as test:tester."""
    url, token = admin
    return "/v1/" + url.rsplit("/", 1)[1], {"X-Auth-Token": token}


@pytest.fixture
def container(swift):
    name = unique()
    swift.put_container(name)
    return name


def test_info_and_healthcheck_need_no_auth(cluster):
    status, headers, body = cluster.request("GET", "/info")
    info = json.loads(body)
    assert status == 200 and headers["content-type"].startswith("application/json")
    assert info["swift"]["max_file_size"] == 5368709122
    assert info["swift"]["container_listing_limit"] == 10000
    assert "tempauth" in info
    assert cluster.request("GET", "/healthcheck")[:3:2] == (200, b"OK")
    status, headers, _ = cluster.request("GET", "/healthcheck")
    assert headers["x-trans-id"] == headers["x-openstack-request-id"]


def test_every_response_carries_a_transaction_id(cluster, acct):
    prefix, auth = acct
    for method, path, headers in [("GET", "/info", {}), ("GET", "/nope", {}), ("GET", prefix, {}),
                                  ("GET", prefix + "/missing-container", auth), ("GET", "/auth/v1.0", {})]:
        _status, got, _body = cluster.request(method, path, headers)
        assert got["x-trans-id"].startswith("tx") and got["x-openstack-request-id"] == got["x-trans-id"]


def test_container_lifecycle_and_listing_formats(swift, cluster, acct):
    prefix, auth = acct
    name = unique()
    swift.put_container(name, headers={"X-Container-Meta-Color": "blue"})
    for obj in ("a", "b/1", "b/2", "c"):
        swift.put_object(name, obj, b"x" * 3, content_type="text/plain")
    headers = swift.head_container(name)
    assert headers["x-container-object-count"] == "4" and headers["x-container-bytes-used"] == "12"
    assert headers["x-container-meta-color"] == "blue"
    _h, listing = swift.get_container(name)
    assert [o["name"] for o in listing] == ["a", "b/1", "b/2", "c"]
    assert listing[0]["bytes"] == 3 and listing[0]["content_type"] == "text/plain"
    assert listing[0]["hash"] == hashlib.md5(b"xxx").hexdigest()
    _h, listing = swift.get_container(name, delimiter="/")
    assert [o.get("name") or o.get("subdir") for o in listing] == ["a", "b/", "c"]
    _h, listing = swift.get_container(name, prefix="b/")
    assert [o["name"] for o in listing] == ["b/1", "b/2"]
    _h, listing = swift.get_container(name, marker="a", end_marker="c")
    assert [o["name"] for o in listing] == ["b/1", "b/2"]
    _h, listing = swift.get_container(name, limit=2)
    assert [o["name"] for o in listing] == ["a", "b/1"]
    status, _h, body = cluster.request("GET", "%s/%s?reverse=on" % (prefix, name), auth)
    assert body == b"c\nb/2\nb/1\na\n"
    status, _h, body = cluster.request("GET", "%s/%s?path=b" % (prefix, name), auth)
    assert status == 200 and body == b"b/1\nb/2\n"
    status, headers, body = cluster.request("GET", "%s/%s" % (prefix, name), dict(auth, Accept="application/xml"))
    root = ET.fromstring(body)
    assert headers["content-type"].startswith("application/xml") and root.tag == "container"
    assert root.attrib["name"] == name and [o.find("name").text for o in root] == ["a", "b/1", "b/2", "c"]
    status, _h, body = cluster.request("GET", "%s/%s?format=xml&delimiter=/" % (prefix, name), auth)
    assert ET.fromstring(body)[1].tag == "subdir"
    status, headers, body = cluster.request("GET", "%s/%s?format=json&limit=1" % (prefix, name), auth)
    assert headers["content-type"].startswith("application/json") and json.loads(body)[0]["name"] == "a"
    assert cluster.request("GET", "%s/%s?limit=10001" % (prefix, name), auth)[0] == 412
    assert cluster.request("GET", "%s/%s?limit=x" % (prefix, name), auth)[0] == 412
    # not empty → 409; empty → 204; gone → 404
    with pytest.raises(ClientException) as err:
        swift.delete_container(name)
    assert err.value.http_status == 409
    for obj in ("a", "b/1", "b/2", "c"):
        swift.delete_object(name, obj)
    status, _h, body = cluster.request("GET", "%s/%s" % (prefix, name), auth)
    assert status == 204 and body == b""
    assert cluster.request("GET", "%s/%s?format=json" % (prefix, name), auth)[2] == b"[]"
    swift.delete_container(name)
    assert cluster.request("HEAD", "%s/%s" % (prefix, name), auth)[0] == 404
    assert cluster.request("DELETE", "%s/%s" % (prefix, name), auth)[0] == 404


def test_container_put_twice_is_202_and_metadata_post_and_remove(cluster, acct):
    prefix, auth = acct
    path = "%s/%s" % (prefix, unique())
    assert cluster.request("PUT", path, auth)[0] == 201
    assert cluster.request("PUT", path, auth)[0] == 202
    assert cluster.request("POST", path, dict(auth, **{"X-Container-Meta-A": "1", "X-Container-Meta-B": "2"}))[0] == 204
    headers = cluster.request("HEAD", path, auth)[1]
    assert headers["x-container-meta-a"] == "1" and headers["x-container-meta-b"] == "2"
    assert cluster.request("POST", path, dict(auth, **{"X-Remove-Container-Meta-A": "x"}))[0] == 204
    headers = cluster.request("HEAD", path, auth)[1]
    assert "x-container-meta-a" not in headers and headers["x-container-meta-b"] == "2"
    assert cluster.request("POST", "%s/%s" % (prefix, unique()), auth)[0] == 404


def test_metadata_limits_are_400_with_the_reason(cluster, acct):
    prefix, auth = acct
    path = "%s/%s" % (prefix, unique())
    status, _h, body = cluster.request("PUT", path, dict(auth, **{"X-Container-Meta-" + "k" * 129: "v"}))
    assert status == 400 and b"Metadata name too long" in body
    status, _h, body = cluster.request("PUT", path, dict(auth, **{"X-Container-Meta-K": "v" * 257}))
    assert status == 400 and b"Metadata value longer than 256" in body
    many = {"X-Container-Meta-K%d" % i: "v" for i in range(91)}
    status, _h, body = cluster.request("PUT", path, dict(auth, **many))
    assert status == 400 and b"Too many metadata items" in body
    assert cluster.request("PUT", path, auth)[0] == 201
    status, _h, body = cluster.request("PUT", path + "/o", dict(auth, **{"X-Object-Meta-K": "v" * 257}), body=b"")
    assert status == 400 and b"Metadata value" in body
    status, _h, body = cluster.request("POST", prefix, dict(auth, **{"X-Account-Meta-" + "k" * 129: "v"}))
    assert status == 400
    long_name = "o" * 1025
    assert cluster.request("PUT", "%s/%s" % (path, long_name), auth, body=b"")[0] == 400
    assert cluster.request("PUT", "%s/%s" % (prefix, "c" * 257), auth)[0] == 400


def test_account_head_get_post_and_remove_meta(cluster, acct, swift):
    prefix, auth = acct
    assert cluster.request("POST", prefix, dict(auth, **{"X-Account-Meta-Team": "blue"}))[0] == 204
    headers = swift.head_account()
    assert headers["x-account-meta-team"] == "blue"
    assert int(headers["x-account-container-count"]) >= 0 and "x-account-bytes-used" in headers
    assert cluster.request("POST", prefix, dict(auth, **{"X-Remove-Account-Meta-Team": "x"}))[0] == 204
    assert "x-account-meta-team" not in swift.head_account()
    name = unique()
    swift.put_container(name)
    status, headers, body = cluster.request("GET", prefix + "?format=json&prefix=" + name, auth)
    assert status == 200 and [c["name"] for c in json.loads(body)] == [name]
    status, headers, body = cluster.request("GET", prefix + "?format=xml&prefix=" + name, auth)
    root = ET.fromstring(body)
    assert root.tag == "account" and root[0].find("name").text == name
    assert cluster.request("GET", prefix + "?prefix=" + name, auth)[2] == name.encode() + b"\n"


def test_object_put_get_head_post_delete(swift, container, cluster, acct):
    prefix, auth = acct
    data = b"hello world" * 1000
    etag = swift.put_object(container, "dir/obj.txt", data, headers={"X-Object-Meta-Fruit": "apple"})
    assert etag == hashlib.md5(data).hexdigest()
    headers, body = swift.get_object(container, "dir/obj.txt")
    assert body == data and headers["etag"] == etag and headers["content-type"] == "text/plain"
    assert headers["x-object-meta-fruit"] == "apple" and "x-timestamp" in headers and "last-modified" in headers
    assert headers["accept-ranges"] == "bytes"
    head = swift.head_object(container, "dir/obj.txt")
    assert head["content-length"] == str(len(data))
    swift.post_object(container, "dir/obj.txt", headers={"X-Object-Meta-Color": "red"})
    head = swift.head_object(container, "dir/obj.txt")
    assert head["x-object-meta-color"] == "red" and "x-object-meta-fruit" not in head
    swift.delete_object(container, "dir/obj.txt")
    with pytest.raises(ClientException) as err:
        swift.get_object(container, "dir/obj.txt")
    assert err.value.http_status == 404
    assert cluster.request("DELETE", "%s/%s/dir/obj.txt" % (prefix, container), auth)[0] == 404
    assert cluster.request("POST", "%s/%s/dir/obj.txt" % (prefix, container), auth)[0] == 404


def test_object_names_with_unicode_and_slashes(swift, container):
    name = "d\u00e9j\u00e0/vu/\u2603 snow//double"
    swift.put_object(container, name, b"snow")
    assert swift.get_object(container, name)[1] == b"snow"
    assert [o["name"] for o in swift.get_container(container)[1]] == [name]


def test_put_status_codes(cluster, acct, container):
    prefix, auth = acct
    path = "%s/%s/obj" % (prefix, container)
    # no length, not chunked → 411 (http.client would add Content-Length: 0, so speak raw HTTP)
    with socket.create_connection(("127.0.0.1", cluster.proxy_port), timeout=10) as sock:
        sock.sendall(("PUT %s HTTP/1.1\r\nHost: x\r\nX-Auth-Token: %s\r\nConnection: close\r\n\r\n"
                      % (path, auth["X-Auth-Token"])).encode())
        assert sock.recv(100).startswith(b"HTTP/1.1 411 ")
    assert cluster.request("PUT", path, dict(auth, ETag="0" * 32), body=b"abc")[0] == 422
    assert cluster.request("PUT", path, dict(auth, **{"Content-Length": "5368709123"}))[0] == 413
    assert cluster.request("PUT", path, dict(auth, ETag=hashlib.md5(b"abc").hexdigest()), body=b"abc")[0] == 201
    assert cluster.request("PUT", path, dict(auth, **{"If-None-Match": "*"}), body=b"abc")[0] == 412
    assert cluster.request("PUT", path + "2", dict(auth, **{"If-None-Match": "*"}), body=b"abc")[0] == 201
    assert cluster.request("PUT", "%s/%s/obj" % (prefix, unique()), auth, body=b"abc")[0] == 404


def test_chunked_put(cluster, acct, container):
    import http.client

    prefix, auth = acct
    conn = http.client.HTTPConnection("127.0.0.1", cluster.proxy_port, timeout=30)
    conn.putrequest("PUT", "%s/%s/chunked" % (prefix, container))
    conn.putheader("X-Auth-Token", auth["X-Auth-Token"])
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    for piece in (b"a" * 70000, b"b" * 10, b"c" * 100000):
        conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
    conn.send(b"0\r\n\r\n")
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 201
    status, headers, body = cluster.request("GET", "%s/%s/chunked" % (prefix, container), auth)
    assert body == b"a" * 70000 + b"b" * 10 + b"c" * 100000
    assert headers["content-length"] == str(170010)


def test_content_type_guessed_from_the_name(cluster, acct, container):
    prefix, auth = acct
    base = "%s/%s/" % (prefix, container)
    cluster.request("PUT", base + "pic.png", auth, body=b"x")
    assert cluster.request("HEAD", base + "pic.png", auth)[1]["content-type"] == "image/png"
    cluster.request("PUT", base + "noext", auth, body=b"x")
    assert cluster.request("HEAD", base + "noext", auth)[1]["content-type"] == "application/octet-stream"
    cluster.request("PUT", base + "page.html", dict(auth, **{"Content-Type": "text/plain", "X-Detect-Content-Type": "true"}), body=b"x")
    assert cluster.request("HEAD", base + "page.html", auth)[1]["content-type"].startswith("text/html")
    cluster.request("PUT", base + "given.html", dict(auth, **{"Content-Type": "text/plain"}), body=b"x")
    assert cluster.request("HEAD", base + "given.html", auth)[1]["content-type"] == "text/plain"


def test_ranges_and_multirange(cluster, acct, container):
    prefix, auth = acct
    path = "%s/%s/r" % (prefix, container)
    data = bytes(range(256)) * 40
    cluster.request("PUT", path, auth, body=data)
    status, headers, body = cluster.request("GET", path, dict(auth, Range="bytes=10-19"))
    assert status == 206 and body == data[10:20] and headers["content-range"] == "bytes 10-19/%d" % len(data)
    status, headers, body = cluster.request("GET", path, dict(auth, Range="bytes=-5"))
    assert status == 206 and body == data[-5:]
    status, headers, body = cluster.request("GET", path, dict(auth, Range="bytes=10000-"))
    assert status == 206 and body == data[10000:]
    status, headers, body = cluster.request("GET", path, dict(auth, Range="bytes=999999-"))
    assert status == 416
    status, headers, body = cluster.request("GET", path, dict(auth, Range="bytes=0-1,5-6"))
    assert status == 206 and headers["content-type"].startswith("multipart/byteranges")
    assert data[0:2] in body and data[5:7] in body and len(body) == int(headers["content-length"])


def test_conditional_get(cluster, acct, container):
    prefix, auth = acct
    path = "%s/%s/cond" % (prefix, container)
    cluster.request("PUT", path, auth, body=b"cond")
    etag = hashlib.md5(b"cond").hexdigest()
    assert cluster.request("GET", path, dict(auth, **{"If-None-Match": etag}))[0] == 304
    assert cluster.request("GET", path, dict(auth, **{"If-Match": etag}))[0] == 200
    assert cluster.request("GET", path, dict(auth, **{"If-Match": "nope"}))[0] == 412
    last = cluster.request("HEAD", path, auth)[1]["last-modified"]
    assert cluster.request("GET", path, dict(auth, **{"If-Modified-Since": last}))[0] == 304
    assert cluster.request("GET", path, dict(auth, **{"If-Unmodified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"}))[0] == 412
    assert cluster.request("HEAD", path, dict(auth, **{"If-None-Match": "*"}))[0] == 304


def test_x_newest(cluster, acct, container):
    prefix, auth = acct
    path = "%s/%s/newest" % (prefix, container)
    cluster.request("PUT", path, auth, body=b"v1")
    cluster.request("PUT", path, auth, body=b"v2")
    status, _h, body = cluster.request("GET", path, dict(auth, **{"X-Newest": "true"}))
    assert status == 200 and body == b"v2"
    assert cluster.request("HEAD", "%s/%s" % (prefix, container), dict(auth, **{"X-Newest": "true"}))[0] == 204


def test_delete_at_and_delete_after(cluster, acct, container):
    prefix, auth = acct
    path = "%s/%s/expiring" % (prefix, container)
    at = int(time.time()) + 3600
    assert cluster.request("PUT", path, dict(auth, **{"X-Delete-At": str(at)}), body=b"x")[0] == 201
    assert cluster.request("HEAD", path, auth)[1]["x-delete-at"] == str(at)
    assert cluster.request("POST", path, dict(auth, **{"X-Delete-After": "600"}))[0] == 202
    got = int(cluster.request("HEAD", path, auth)[1]["x-delete-at"])
    assert time.time() + 500 < got < time.time() + 700
    assert cluster.request("PUT", path, dict(auth, **{"X-Delete-At": "1"}), body=b"x")[0] == 400
    assert cluster.request("PUT", path, dict(auth, **{"X-Delete-After": "soon"}), body=b"x")[0] == 400
    assert cluster.request("PUT", path, dict(auth, **{"X-Delete-After": "1"}), body=b"x")[0] == 201
    time.sleep(2.1)
    assert cluster.request("GET", path, auth)[0] == 404


def test_copy_from_and_copy_verb(cluster, acct, container, swift):
    prefix, auth = acct
    src = "%s/%s/src" % (prefix, container)
    cluster.request("PUT", src, dict(auth, **{"X-Object-Meta-Kept": "yes", "Content-Type": "text/x-src"}), body=b"payload")
    status, headers, _ = cluster.request("PUT", "%s/%s/dst1" % (prefix, container),
                                         dict(auth, **{"X-Copy-From": "/%s/src" % container, "Content-Length": "0",
                                                       "X-Object-Meta-Extra": "1"}))
    assert status == 201 and headers["x-copied-from"] == "%s/src" % container
    headers, body = swift.get_object(container, "dst1")
    assert body == b"payload" and headers["x-object-meta-kept"] == "yes" and headers["x-object-meta-extra"] == "1"
    assert headers["content-type"] == "text/x-src"
    other = unique()
    swift.put_container(other)
    status, headers, _ = cluster.request("COPY", src, dict(auth, Destination="%s/copied" % other))
    assert status == 201
    assert swift.get_object(other, "copied")[1] == b"payload"
    swift.copy_object(container, "src", "/%s/viaclient" % other)
    assert swift.get_object(other, "viaclient")[1] == b"payload"
    status, _h, _b = cluster.request("COPY", "%s/%s/missing" % (prefix, container), dict(auth, Destination="%s/x" % other))
    assert status == 404
    assert cluster.request("COPY", src, auth)[0] == 400


def test_bad_paths(cluster, acct):
    prefix, auth = acct
    assert cluster.request("GET", "/v2/AUTH_test", auth)[0] == 404
    assert cluster.request("GET", "/", auth)[0] == 404
    assert cluster.request("PUT", prefix + "/c/", auth)[0] in (201, 202)  # trailing slash: the container
    assert cluster.request("GET", "/v1.0/" + prefix.split("/")[2], auth)[0] in (200, 204)


def test_unknown_verb_is_405(cluster, acct):
    prefix, auth = acct
    status, headers, _ = cluster.request("PATCH", prefix, auth)
    assert status == 405 and "GET" in headers["allow"]


def test_cors_preflight_from_container_metadata(cluster, acct, container):
    prefix, auth = acct
    path = "%s/%s" % (prefix, container)
    cluster.request("POST", path, dict(auth, **{"X-Container-Meta-Access-Control-Allow-Origin": "http://good.example",
                                                "X-Container-Meta-Access-Control-Max-Age": "60"}))
    status, headers, _ = cluster.request("OPTIONS", path + "/obj", {"Origin": "http://good.example",
                                                                      "Access-Control-Request-Method": "GET"})
    assert status == 200 and headers["access-control-allow-origin"] == "http://good.example"
    assert "GET" in headers["access-control-allow-methods"] and headers["access-control-max-age"] == "60"
    status, headers, _ = cluster.request("OPTIONS", path + "/obj", {"Origin": "http://evil.example",
                                                                      "Access-Control-Request-Method": "GET"})
    assert status == 401
    status, headers, _ = cluster.request("OPTIONS", path + "/obj")
    assert status == 200 and "PUT" in headers["allow"]
    cluster.request("PUT", path + "/obj", auth, body=b"x")
    status, headers, _ = cluster.request("GET", path + "/obj", dict(auth, Origin="http://good.example"))
    assert headers["access-control-allow-origin"] == "http://good.example"
    assert "etag" in headers["access-control-expose-headers"]


def test_swiftclient_account_listing_and_stat(swift):
    name = unique()
    swift.put_container(name)
    swift.put_object(name, "x", b"12345")
    headers, containers = swift.get_account(prefix=name)
    assert [c["name"] for c in containers] == [name]
    assert "x-account-container-count" in headers


def test_autocreate_and_reseller_account_management(cluster):
    url, token = cluster.auth("admin:admin", "admin")
    auth = {"X-Auth-Token": token}
    account = "/v1/AUTH_" + unique("acct")
    status, headers, _ = cluster.request("HEAD", account, auth)
    assert status == 204 and headers["x-account-container-count"] == "0"  # autocreate: an empty account
    assert cluster.request("PUT", account, auth)[0] == 201
    assert cluster.request("PUT", account + "/c", auth)[0] == 201
    assert cluster.request("DELETE", account, auth)[0] == 204
    _u, owner_token = cluster.auth("test:tester", "testing")
    assert cluster.request("PUT", "/v1/AUTH_test", {"X-Auth-Token": owner_token})[0] == 403
    assert cluster.request("DELETE", "/v1/AUTH_test", {"X-Auth-Token": owner_token})[0] == 403
