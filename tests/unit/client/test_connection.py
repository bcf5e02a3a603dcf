"""objstore.client.connection against a fake Swift-like server (fakeswift.py)."""

import io
import socket

import pytest

from objstore.client.connection import Connection, get_auth, listing_query, next_marker
from objstore.common.exceptions import ClientError
from tests.unit.client.fakeswift import FakeSwift


@pytest.fixture
def fake_swift():
    """A fresh in-memory FAKE of the object store's API (user test:tester / testing)."""
    store = FakeSwift().start()
    yield store
    store.stop()


def _free_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def test_listing_query_literals():
    assert listing_query() == "format=json"
    assert listing_query(marker="a b", limit=3, prefix="p/") == "format=json&marker=a%20b&limit=3&prefix=p%2F"
    assert listing_query(delimiter="/", end_marker="z", reverse=True) == (
        "format=json&delimiter=%2F&end_marker=z&reverse=true"
    )


def test_next_marker_literals():
    assert next_marker([{"name": "a"}, {"name": "b"}]) == "b"
    assert next_marker([{"name": "a"}, {"subdir": "d/"}]) == "d/"


def test_get_auth(fake_swift):
    url, token = get_auth(fake_swift.auth_url, "test:tester", "testing")
    assert url == fake_swift.url + "/v1/AUTH_test"
    assert token.startswith("AUTH_tk")
    with pytest.raises(ClientError) as info:
        get_auth(fake_swift.auth_url, "test:tester", "wrong")
    assert info.value.http_status == 401 and info.value.status == 401


def test_unreachable_is_status_zero():
    with pytest.raises(ClientError) as info:
        get_auth("http://127.0.0.1:%d/auth/v1.0" % _free_port(), "u", "k", timeout=2)
    assert info.value.http_status == 0 and info.value.status == 502


def test_needs_credentials():
    with pytest.raises(ClientError):
        Connection()


def test_container_and_object_round_trip(fake_swift):
    conn = Connection(fake_swift.auth_url, "test:tester", "testing")
    conn.put_container("c", headers={"X-Container-Meta-Color": "blue"})
    assert conn.head_container("c")["x-container-meta-color"] == "blue"
    etag = conn.put_object("c", "dir/o 1", b"hello", content_type="text/x-hi", headers={"X-Object-Meta-K": "v"})
    assert etag == "5d41402abc4b2a76b9719d911017c592"
    head = conn.head_object("c", "dir/o 1")
    assert head["content-length"] == "5" and head["x-object-meta-k"] == "v"
    assert head["content-type"].startswith("text/x-hi")
    headers, chunks = conn.get_object("c", "dir/o 1")
    assert b"".join(chunks) == b"hello"
    conn.post_object("c", "dir/o 1", {"X-Object-Meta-K": "w"})
    assert conn.head_object("c", "dir/o 1")["x-object-meta-k"] == "w"
    _, listing = conn.get_container("c")
    assert [(row["name"], row["bytes"]) for row in listing] == [("dir/o 1", 5)]
    _, listing = conn.get_container("c", delimiter="/")
    assert listing == [{"subdir": "dir/"}]
    with pytest.raises(ClientError) as info:
        conn.delete_container("c")
    assert info.value.http_status == 409
    conn.delete_object("c", "dir/o 1")
    with pytest.raises(ClientError) as info:
        conn.head_object("c", "dir/o 1")
    assert info.value.http_status == 404 and info.value.status == 404
    conn.delete_container("c")
    _, containers = conn.get_account()
    assert containers == []
    conn.close()


def test_account_headers_and_listing(fake_swift):
    conn = Connection(fake_swift.auth_url, "test:tester", "testing")
    conn.post_account({"X-Account-Meta-Team": "x"})
    for name in ("b", "a", "c"):
        conn.put_container(name)
    conn.put_object("a", "o", b"12345")
    head = conn.head_account()
    assert head["x-account-container-count"] == "3" and head["x-account-bytes-used"] == "5"
    assert head["x-account-meta-team"] == "x"
    _, containers = conn.get_account(limit=2)
    assert [c["name"] for c in containers] == ["a", "b"]
    _, containers = conn.get_account(marker="a")
    assert [c["name"] for c in containers] == ["b", "c"]


def test_full_listing_pages(fake_swift):
    fake_swift.listing_limit = 3
    conn = Connection(fake_swift.auth_url, "test:tester", "testing")
    conn.put_container("c")
    names = ["o%02d" % i for i in range(10)]
    for name in names:
        conn.put_object("c", name, name.encode())
    _, page = conn.get_container("c")
    assert len(page) == 3
    before = len(fake_swift.requests)
    _, everything = conn.get_container("c", full_listing=True)
    assert [row["name"] for row in everything] == names
    assert len(fake_swift.requests) - before == 5  # 3+3+3+1 then an empty page
    _, some = conn.get_container("c", prefix="o0", full_listing=True)
    assert len(some) == 10
    _, some = conn.get_container("c", marker="o07", full_listing=True)
    assert [row["name"] for row in some] == ["o08", "o09"]


def test_streaming_upload_from_file_and_download_to_file(fake_swift, tmp_path):
    data = bytes(range(256)) * 1000  # 256000 bytes, several chunks
    src = tmp_path / "src"
    src.write_bytes(data)
    conn = Connection(fake_swift.auth_url, "test:tester", "testing")
    conn.put_container("c")
    with open(src, "rb") as handle:
        handle.read(6)  # uploads from the current position
        conn.put_object("c", "o", handle, chunk_size=4096)
    dst = io.BytesIO()
    headers, written = conn.download_object("c", "o", dst, chunk_size=1000)
    assert written == len(data) - 6 and dst.getvalue() == data[6:]


def test_chunked_upload_of_unknown_length(fake_swift):
    conn = Connection(fake_swift.auth_url, "test:tester", "testing")
    conn.put_container("c")
    conn.put_object("c", "gen", (b"x" * 1000 for _ in range(10)))
    headers, chunks = conn.get_object("c", "gen")
    assert b"".join(chunks) == b"x" * 10000


def test_download_detects_corruption(fake_swift):
    conn = Connection(fake_swift.auth_url, "test:tester", "testing")
    conn.put_container("c")
    conn.put_object("c", "o", b"payload")
    fake_swift.corrupt("AUTH_test", "c", "o")
    with pytest.raises(ClientError) as info:
        conn.download_object("c", "o", io.BytesIO())
    assert "MD5" in str(info.value)


def test_reauthenticates_once_on_401(fake_swift):
    conn = Connection(fake_swift.auth_url, "test:tester", "testing")
    conn.put_container("c")
    old = conn.token
    fake_swift.tokens.clear()  # the token expired
    conn.put_object("c", "o", io.BytesIO(b"body"))
    assert conn.token != old
    assert conn.head_object("c", "o")["content-length"] == "4"


def test_token_only_connection_gets_401(fake_swift):
    url, token = get_auth(fake_swift.auth_url, "test:tester", "testing")
    conn = Connection(storage_url=url, token=token + "x")
    with pytest.raises(ClientError) as info:
        conn.head_account()
    assert info.value.http_status == 401


def test_keepalive_reuses_one_socket(fake_swift):
    conn = Connection(fake_swift.auth_url, "test:tester", "testing")
    conn.put_container("c")
    sock = conn._http.sock
    conn.put_object("c", "o", b"1")
    conn.head_object("c", "o")
    assert conn._http.sock is sock


def test_partly_read_download_does_not_break_the_next_request(fake_swift):
    conn = Connection(fake_swift.auth_url, "test:tester", "testing")
    conn.put_container("c")
    conn.put_object("c", "big", b"y" * 300000)
    _, chunks = conn.get_object("c", "big", chunk_size=1000)
    next(chunks)
    chunks.close()
    assert conn.head_object("c", "big")["content-length"] == "300000"
