"""Conditional requests and ranges as pure functions, with literals."""

import pytest

from objstore.obj import conditions as c

TS = 1700000000.5  # Last-Modified: Tue, 14 Nov 2023 22:13:21 GMT (rounded up)
LM = "Tue, 14 Nov 2023 22:13:21 GMT"
BEFORE = "Tue, 14 Nov 2023 22:13:20 GMT"
AFTER = "Tue, 14 Nov 2023 22:13:22 GMT"


@pytest.mark.parametrize("value,expected", [
    (None, []), ("*", ["*"]), ('"abc"', ["abc"]), ('"a", "b"', ["a", "b"]), ('W/"x", y', ["x", "y"]),
])
def test_parse_etags(value, expected):
    assert c.parse_etags(value) == expected


def test_parse_http_date():
    assert c.parse_http_date(LM) == 1700000001
    assert c.parse_http_date("garbage") is None
    assert c.parse_http_date("") is None


@pytest.mark.parametrize("method,headers,etag,expected", [
    ("GET", {}, "e", None),
    ("GET", {"If-Match": '"e"'}, "e", None),
    ("GET", {"If-Match": "*"}, "e", None),
    ("GET", {"If-Match": '"x"'}, "e", 412),
    ("GET", {"If-Match": "*"}, None, 412),
    ("GET", {"If-None-Match": '"e"'}, "e", 304),
    ("HEAD", {"If-None-Match": "*"}, "e", 304),
    ("PUT", {"If-None-Match": "*"}, "e", 412),
    ("GET", {"If-None-Match": '"x"'}, "e", None),
    ("GET", {"If-Modified-Since": LM}, "e", 304),
    ("GET", {"If-Modified-Since": AFTER}, "e", 304),
    ("GET", {"If-Modified-Since": BEFORE}, "e", None),
    ("GET", {"If-Modified-Since": "junk"}, "e", None),
    ("GET", {"If-Unmodified-Since": BEFORE}, "e", 412),
    ("GET", {"If-Unmodified-Since": LM}, "e", None),
    # If-None-Match wins over If-Modified-Since (RFC 7232 section 6)
    ("GET", {"If-None-Match": '"x"', "If-Modified-Since": AFTER}, "e", None),
    # If-Match wins over If-Unmodified-Since
    ("GET", {"If-Match": '"e"', "If-Unmodified-Since": BEFORE}, "e", None),
])
def test_check_conditions(method, headers, etag, expected):
    assert c.check_conditions(method, headers, etag, TS) == expected


@pytest.mark.parametrize("value,length,expected", [
    (None, 10, None),
    ("bytes=0-3", 10, [(0, 4)]),
    ("bytes=5-", 10, [(5, 10)]),
    ("bytes=-3", 10, [(7, 10)]),
    ("bytes=-30", 10, [(0, 10)]),
    ("bytes=8-100", 10, [(8, 10)]),
    ("bytes=0-1,4-5", 10, [(0, 2), (4, 6)]),
    ("bytes=0-1,20-30", 10, [(0, 2)]),
    ("bytes=20-30", 10, []),
    ("bytes=-0", 10, []),
    ("bytes=0-", 0, []),
    ("bytes=3-1", 10, None),
    ("bytes=a-b", 10, None),
    ("items=0-1", 10, None),
    ("bytes=" + ",".join(["0-0"] * 51), 10, None),
])
def test_parse_ranges(value, length, expected):
    assert c.parse_ranges(value, length) == expected


def test_if_range():
    assert c.if_range_allows(None, "e", TS)
    assert c.if_range_allows('"e"', "e", TS)
    assert not c.if_range_allows('"x"', "e", TS)
    assert c.if_range_allows(LM, "e", TS)
    assert not c.if_range_allows(BEFORE, "e", TS)


def test_multipart_layout_length_matches_body():
    parts, closing, total = c.multipart_layout([(0, 2), (5, 10)], 10, "text/plain", "BOUND")
    body = b"".join(head + b"x" * (stop - start) + b"\r\n" for head, start, stop in parts) + closing
    assert len(body) == total
    assert parts[1][0] == b"--BOUND\r\nContent-Type: text/plain\r\nContent-Range: bytes 5-9/10\r\n\r\n"
    assert closing == b"--BOUND--\r\n"
