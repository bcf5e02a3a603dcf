"""Listings: validating the query parameters, walking a sorted name index page
by page with prefix / delimiter / marker / end_marker / reverse / path, and
rendering entries as JSON, XML or plain text the way Swift's API does.

Pure code: the walk takes a ``fetch`` callable that runs the query, so the
SQL lives in the brokers and these functions are tested with lists. No HTTP
types here (the servers turn the results into responses).
"""

import functools
import json
import time
from xml.sax.saxutils import escape, quoteattr

from objstore.common.exceptions import BadRequest, PreconditionFailed
from objstore.common.timestamp import Timestamp
from objstore.web.app import accept_qualities

FORMATS = {"json": "application/json", "xml": "application/xml", "plain": "text/plain"}
ACCEPT_TYPES = {
    "application/json": "json",
    "application/xml": "xml",
    "text/xml": "xml",
    "text/plain": "plain",
}


def parse_params(params, max_limit):
    """Validate listing parameters from a query-string mapping.

    :returns: dict with ``limit``, ``marker``, ``end_marker``, ``prefix``,
        ``delimiter``, ``reverse`` (bool), ``path`` (None unless given).
    :raises PreconditionFailed: limit above ``max_limit`` or not a
        non-negative integer; a delimiter longer than one character.
    :raises BadRequest: a parameter that is not valid UTF-8 or holds NUL.
    """
    out = {}
    for key in ("marker", "end_marker", "prefix", "delimiter"):
        value = params.get(key) or ""
        if "\x00" in value or any(0xD800 <= ord(ch) <= 0xDFFF for ch in value):
            raise BadRequest("Invalid %s" % key)
        out[key] = value
    if len(out["delimiter"]) > 1:
        raise PreconditionFailed("Bad delimiter")
    raw_limit = params.get("limit")
    if raw_limit in (None, ""):
        limit = max_limit
    else:
        try:
            limit = int(raw_limit)
        except ValueError:
            raise PreconditionFailed("Value of limit must be a positive integer") from None
        if limit < 0:
            raise PreconditionFailed("Value of limit must be a positive integer")
        if limit > max_limit:
            raise PreconditionFailed("Maximum limit is %d" % max_limit)
    out["limit"] = limit
    out["reverse"] = str(params.get("reverse", "")).lower() in ("1", "true", "yes", "on", "t", "y")
    path = params.get("path")
    out["path"] = path
    return out


def choose_format(format_param, accept):
    """``json``, ``xml`` or ``plain`` from ``?format=`` or else the Accept header.

    :raises BadRequest: an unknown ``format`` value.
    """
    if format_param:
        fmt = format_param.lower()
        if fmt not in FORMATS:
            raise BadRequest("Invalid format %r" % format_param)
        return fmt
    if accept:
        best = None
        for media, quality in accept_qualities(accept):
            fmt = ACCEPT_TYPES.get(media)
            if media in ("*/*", "text/*"):
                fmt = "plain"
            elif media == "application/*":
                fmt = "json"
            if fmt and quality > 0 and (best is None or quality > best[0]):
                best = (quality, fmt)
        if best:
            return best[1]
    return "plain"


def _after(text):
    """The smallest string greater than every string starting with ``text``
    (None when no such string exists)."""
    while text:
        last = ord(text[-1])
        if last < 0x10FFFF:
            return text[:-1] + chr(last + 1)
        text = text[:-1]
    return None


def walk(fetch, limit, marker="", end_marker="", prefix="", delimiter="", reverse=False, path=None):
    """One page of a sorted listing.

    :param fetch: ``callable(lower, lower_inclusive, upper, upper_inclusive,
        count, reverse)`` returning an iterable of row dicts with ``name``,
        ascending (descending when ``reverse``), bounds None for open; the
        iterable is consumed lazily so a cursor costs only what is read.
    :returns: list of row dicts and ``{"subdir": name}`` entries, at most ``limit``.
    """
    if path is not None:
        prefix = path.rstrip("/") + "/" if path.rstrip("/") else ""
        delimiter = "/"
    if not reverse:
        lower, lower_incl = (marker, False) if marker > prefix else (prefix or None, True)
        upper, upper_incl = end_marker or None, False
        prefix_end = _after(prefix) if prefix else None
        if prefix_end is not None and (upper is None or prefix_end < upper):
            upper = prefix_end
    else:
        lower, lower_incl = (end_marker, False) if end_marker and end_marker >= prefix else (prefix or None, True)
        upper, upper_incl = marker or None, False
        prefix_end = _after(prefix) if prefix else None
        if prefix_end is not None and (upper is None or prefix_end < upper):
            upper = prefix_end
    results = []
    while len(results) < limit:
        want = limit - len(results)
        seen = 0
        last = None
        jumped = False
        for row in fetch(lower, lower_incl, upper, upper_incl, want, reverse):
            seen += 1
            name = row["name"]
            last = name
            if delimiter:
                index = name.find(delimiter, len(prefix))
                if index >= 0:
                    subdir = name[:index + 1]
                    if path is None and not (results and results[-1].get("subdir") == subdir):
                        results.append({"subdir": subdir})
                    if reverse:
                        upper, upper_incl = subdir, False
                    else:
                        nxt = _after(subdir)
                        if nxt is None:
                            return results
                        lower, lower_incl = nxt, True
                    jumped = True
                    break
            results.append(row)
            if len(results) >= limit:
                break
        if jumped:
            continue
        if seen < want or len(results) >= limit:
            break
        if reverse:
            upper, upper_incl = last, False
        else:
            lower, lower_incl = last, False
    return results[:limit]


@functools.lru_cache(maxsize=65536)
def _utc_seconds(seconds):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


def last_modified(timestamp):
    """``2026-11-23T20:18:31.123450``: a timestamp as Swift's listings show it.

    This runs once per listed row, so the stored form (``normal`` or
    ``internal``, 5 decimals) is sliced rather than parsed, and the
    whole-second part is cached (bulk uploads share seconds).
    """
    text = timestamp if isinstance(timestamp, str) else Timestamp(timestamp).internal
    whole, _, frac = text.partition("_")[0].partition(".")
    if not whole.isdigit() or len(frac) > 5 or (frac and not frac.isdigit()):
        ticks = Timestamp(text).ticks
        whole, frac = str(ticks // 100000), "%05d" % (ticks % 100000)
    return "%s.%s0" % (_utc_seconds(int(whole)), (frac + "00000")[:5])


def object_entry(row):
    """A container listing's JSON entry for an object row (or a subdir)."""
    if "subdir" in row:
        return {"subdir": row["subdir"]}
    return {
        "name": row["name"],
        "hash": row["etag"],
        "bytes": row["size"],
        "content_type": row["content_type"],
        "last_modified": last_modified(row["created_at"]),
    }


def container_entry(row):
    """An account listing's JSON entry for a container row (or a subdir)."""
    if "subdir" in row:
        return {"subdir": row["subdir"]}
    return {
        "name": row["name"],
        "count": row["object_count"],
        "bytes": row["bytes_used"],
        "last_modified": last_modified(row["put_timestamp"]),
    }


def render(entries, fmt, root_tag, root_name, item_tag):
    """The body of a listing.

    :param entries: JSON entries (from ``object_entry``/``container_entry``).
    :param fmt: ``json``, ``xml`` or ``plain``.
    :param root_tag: ``container`` (object listings) or ``account``.
    :param item_tag: ``object`` or ``container``.
    :returns: ``(body bytes, content type)``
    """
    if fmt == "json":
        return json.dumps(entries).encode("utf-8"), FORMATS["json"]
    if fmt == "xml":
        parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<%s name=%s>' % (root_tag, quoteattr(root_name))]
        for entry in entries:
            if "subdir" in entry:
                parts.append("<subdir name=%s><name>%s</name></subdir>"
                             % (quoteattr(entry["subdir"]), escape(entry["subdir"])))
                continue
            fields = "".join("<%s>%s</%s>" % (key, escape(str(value)), key) for key, value in entry.items())
            parts.append("<%s>%s</%s>" % (item_tag, fields, item_tag))
        parts.append("</%s>" % root_tag)
        return "".join(parts).encode("utf-8"), FORMATS["xml"]
    lines = [entry.get("subdir", entry.get("name")) for entry in entries]
    body = "".join(line + "\n" for line in lines)
    return body.encode("utf-8"), FORMATS["plain"]
