"""Listing parameters, the page walk over a sorted list, and the renderings."""

import json

import pytest

from objstore.common.exceptions import BadRequest, PreconditionFailed
from objstore.db import listing

NAMES = ["a", "a/b", "a/b/c", "a/c", "b", "b/", "b/x", "b0", "c/d/e", "c/f", "d"]


def list_fetch(names):
    """A fetch over a sorted list, as the brokers' SQL does it."""
    names = sorted(names)

    def fetch(lower, lower_incl, upper, upper_incl, count, reverse):
        def ok(name):
            if lower is not None and (name < lower or (name == lower and not lower_incl)):
                return False
            if upper is not None and (name > upper or (name == upper and not upper_incl)):
                return False
            return True

        chosen = [n for n in names if ok(n)]
        if reverse:
            chosen.reverse()
        return iter([{"name": n} for n in chosen[:count]])

    return fetch


def walk(**kwargs):
    kwargs.setdefault("limit", 100)
    rows = listing.walk(list_fetch(NAMES), **kwargs)
    return [row.get("subdir", row.get("name")) if "subdir" not in row else "D:" + row["subdir"] for row in rows]


def test_walk_plain_and_limit():
    assert walk() == NAMES
    assert walk(limit=3) == NAMES[:3]
    assert walk(limit=0) == []


def test_walk_marker_end_marker():
    assert walk(marker="b") == ["b/", "b/x", "b0", "c/d/e", "c/f", "d"]
    assert walk(marker="b", end_marker="c/f") == ["b/", "b/x", "b0", "c/d/e"]
    assert walk(end_marker="a/b") == ["a"]
    assert walk(marker="zzz") == []


def test_walk_prefix():
    assert walk(prefix="a/") == ["a/b", "a/b/c", "a/c"]
    assert walk(prefix="b") == ["b", "b/", "b/x", "b0"]
    assert walk(prefix="a/", marker="a/b") == ["a/b/c", "a/c"]
    assert walk(prefix="a/", end_marker="a/c") == ["a/b", "a/b/c"]


def test_walk_delimiter():
    assert walk(delimiter="/") == ["a", "D:a/", "b", "D:b/", "b0", "D:c/", "d"]
    assert walk(delimiter="/", prefix="a/") == ["a/b", "D:a/b/", "a/c"]
    assert walk(delimiter="/", prefix="c/") == ["D:c/d/", "c/f"]
    # a marker inside a pseudo-directory still shows it; b0 (just past b/...) is not skipped
    assert walk(delimiter="/", marker="a/") == ["D:a/", "b", "D:b/", "b0", "D:c/", "d"]
    assert walk(delimiter="/", marker="b/") == ["D:b/", "b0", "D:c/", "d"]
    assert walk(delimiter="/", limit=2) == ["a", "D:a/"]


def test_walk_reverse():
    assert walk(reverse=True) == list(reversed(NAMES))
    assert walk(reverse=True, marker="b") == ["a/c", "a/b/c", "a/b", "a"]
    assert walk(reverse=True, marker="b0", end_marker="a/c") == ["b/x", "b/", "b"]
    assert walk(reverse=True, prefix="a/") == ["a/c", "a/b/c", "a/b"]
    assert walk(reverse=True, delimiter="/") == ["d", "D:c/", "b0", "D:b/", "b", "D:a/", "a"]


def test_walk_path():
    assert walk(path="a") == ["a/b", "a/c"]
    assert walk(path="c") == ["c/f"]
    assert walk(path="") == ["a", "b", "b0", "d"]


def test_walk_pages_through_many_rows_in_small_fetches():
    names = ["n%04d" % i for i in range(2500)]
    rows = listing.walk(list_fetch(names), 2000, marker="n0100")
    assert [r["name"] for r in rows] == names[101:2101]


def test_parse_params():
    params = listing.parse_params({"limit": "5", "marker": "m", "reverse": "true"}, 100)
    assert params == {"marker": "m", "end_marker": "", "prefix": "", "delimiter": "",
                      "limit": 5, "reverse": True, "path": None}
    assert listing.parse_params({}, 100)["limit"] == 100
    assert listing.parse_params({"limit": "100"}, 100)["limit"] == 100
    for bad in ("101", "-1", "x"):
        with pytest.raises(PreconditionFailed):
            listing.parse_params({"limit": bad}, 100)
    with pytest.raises(PreconditionFailed):
        listing.parse_params({"delimiter": "ab"}, 100)
    with pytest.raises(BadRequest):
        listing.parse_params({"prefix": "a\x00"}, 100)


@pytest.mark.parametrize("fmt,accept,expected", [
    ("json", None, "json"),
    ("XML", None, "xml"),
    ("plain", "application/json", "plain"),
    (None, "application/json", "json"),
    (None, "text/xml", "xml"),
    (None, "application/xml;q=0.9, application/json;q=0.5", "xml"),
    (None, "*/*", "plain"),
    (None, None, "plain"),
    (None, "image/png", "plain"),
])
def test_choose_format(fmt, accept, expected):
    assert listing.choose_format(fmt, accept) == expected


def test_choose_format_rejects_unknown():
    with pytest.raises(BadRequest):
        listing.choose_format("yaml", None)


def test_last_modified():
    assert listing.last_modified("1795465486.12345") == "2026-11-23T20:24:46.123450"
    assert listing.last_modified("0000000001.00000") == "1970-01-01T00:00:01.000000"


def test_render_object_listing_formats():
    rows = [{"name": "o&1", "created_at": "0000000002.00000", "size": 5, "content_type": "text/plain",
             "etag": "abc"}, {"subdir": "d/"}]
    entries = [listing.object_entry(row) for row in rows]
    body, ctype = listing.render(entries, "json", "container", "c", "object")
    assert ctype == "application/json"
    assert json.loads(body) == [
        {"name": "o&1", "hash": "abc", "bytes": 5, "content_type": "text/plain",
         "last_modified": "1970-01-01T00:00:02.000000"},
        {"subdir": "d/"},
    ]
    body, ctype = listing.render(entries, "xml", "container", "c<", "object")
    assert ctype == "application/xml"
    assert body.decode() == (
        '<?xml version="1.0" encoding="UTF-8"?>\n<container name="c&lt;">'
        "<object><name>o&amp;1</name><hash>abc</hash><bytes>5</bytes>"
        "<content_type>text/plain</content_type><last_modified>1970-01-01T00:00:02.000000"
        "</last_modified></object>"
        '<subdir name="d/"><name>d/</name></subdir></container>'
    )
    body, ctype = listing.render(entries, "plain", "container", "c", "object")
    assert (body, ctype) == (b"o&1\nd/\n", "text/plain")


def test_render_account_listing():
    entries = [listing.container_entry({"name": "c", "object_count": 2, "bytes_used": 7,
                                        "put_timestamp": "0000000003.50000"})]
    assert entries == [{"name": "c", "count": 2, "bytes": 7, "last_modified": "1970-01-01T00:00:03.500000"}]
    body, _ = listing.render(entries, "xml", "account", "AUTH_a", "container")
    assert b"<container><name>c</name><count>2</count><bytes>7</bytes>" in body
