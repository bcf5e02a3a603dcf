"""Conditional requests and byte ranges, decided on literals."""

import pytest

from objstore.proxy import conditional

LAST = "Wed, 01 Jan 2025 00:00:00 GMT"
EARLIER = "Tue, 31 Dec 2024 00:00:00 GMT"
LATER = "Thu, 02 Jan 2025 00:00:00 GMT"


@pytest.mark.parametrize("method,headers,expected", [
    ("GET", {}, None),
    ("GET", {"If-Match": '"abc"'}, None),
    ("GET", {"If-Match": "abc, def"}, None),
    ("GET", {"If-Match": "*"}, None),
    ("GET", {"If-Match": "zzz"}, 412),
    ("GET", {"If-None-Match": "abc"}, 304),
    ("HEAD", {"If-None-Match": "*"}, 304),
    ("GET", {"If-None-Match": "zzz"}, None),
    ("GET", {"If-Modified-Since": LAST}, 304),
    ("GET", {"If-Modified-Since": LATER}, 304),
    ("GET", {"If-Modified-Since": EARLIER}, None),
    ("GET", {"If-Unmodified-Since": EARLIER}, 412),
    ("GET", {"If-Unmodified-Since": LAST}, None),
    ("GET", {"If-Modified-Since": "garbage"}, None),
    ("GET", {"If-None-Match": "zzz", "If-Modified-Since": LATER}, None),
])
def test_evaluate_conditions(method, headers, expected):
    assert conditional.evaluate_conditions(method, headers, "abc", LAST) == expected


@pytest.mark.parametrize("header,ranges", [
    (None, None),
    ("bytes=0-9", [(0, 10)]),
    ("bytes=5-", [(5, 100)]),
    ("bytes=-10", [(90, 100)]),
    ("bytes=-1000", [(0, 100)]),
    ("bytes=95-200", [(95, 100)]),
    ("bytes=0-0,10-19", [(0, 1), (10, 20)]),
    ("bytes=100-", []),
    ("bytes=200-300", []),
    ("bytes=9-5", None),
    ("items=0-1", None),
    ("bytes=a-b", None),
    ("bytes=-0", []),
])
def test_parse_range(header, ranges):
    assert conditional.parse_range(header, 100) == ranges


def test_multipart_length_matches_the_framing():
    boundary = "b0undary"
    ranges = [(0, 2), (10, 15)]
    body = b""
    for start, end in ranges:
        body += conditional.part_head(boundary, "text/plain", start, end, 100) + b"x" * (end - start) + b"\r\n"
    body += conditional.closing(boundary)
    assert conditional.multipart_length(boundary, "text/plain", ranges, 100) == len(body)
    assert conditional.content_range(10, 15, 100) == "bytes 10-14/100"


def test_merge_ranges_sorts_and_joins_overlapping_or_touching_ones():
    assert conditional.merge_ranges([(10, 20), (0, 5), (5, 7), (15, 30), (40, 41)]) == [(0, 7), (10, 30), (40, 41)]
    assert conditional.merge_ranges([]) == []
