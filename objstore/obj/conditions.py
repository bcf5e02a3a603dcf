"""Conditional requests (RFC 7232) and byte ranges (RFC 7233) for object
GET/HEAD, as plain functions over header values: no I/O, no webob.

What does not live here: reading the object (diskfile.py) and building the
response (server.py). The proxy passes these headers through to object
servers, so it does not need this module.
"""

import calendar
import email.utils
import math

MAX_RANGES = 50  # more ranges than this: serve the whole object (as Swift does)


def parse_etags(value):
    """An If-Match / If-None-Match value as a list of unquoted etags (or ``['*']``).

    Weak validators (``W/"x"``) compare by their opaque part.
    """
    if value is None:
        return []
    result = []
    for item in value.split(","):
        item = item.strip()
        if item.startswith("W/"):
            item = item[2:]
        item = item.strip('"')
        if item:
            result.append(item)
    return result


def parse_http_date(value):
    """POSIX seconds of an HTTP date, or None when it does not parse."""
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_tz(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None:
        return None
    try:
        return calendar.timegm(parsed[:9]) - (parsed[9] or 0)
    except (TypeError, ValueError, OverflowError):
        return None


def last_modified_seconds(timestamp):
    """Whole seconds of Last-Modified (rounded up, as the header shows it)."""
    return int(math.ceil(float(timestamp)))


def check_conditions(method, headers, etag, timestamp):
    """The status a conditional request gets instead of 200, or None.

    :param method: ``GET``, ``HEAD`` (304 allowed) or any other (412 only).
    :param headers: a mapping with ``.get`` (case-insensitive for webob).
    :param etag: the object's ETag, or None when it does not exist.
    :param timestamp: the object's X-Timestamp (float or Timestamp) or None.
    :returns: 304, 412 or None. Order of evaluation as RFC 7232 section 6.
    """
    exists = etag is not None
    safe = method in ("GET", "HEAD")
    if_match = headers.get("If-Match")
    if if_match is not None:
        tags = parse_etags(if_match)
        if not exists or not ("*" in tags or etag in tags):
            return 412
    elif exists:
        since = parse_http_date(headers.get("If-Unmodified-Since"))
        if since is not None and last_modified_seconds(timestamp) > since:
            return 412
    if_none = headers.get("If-None-Match")
    if if_none is not None:
        tags = parse_etags(if_none)
        if exists and ("*" in tags or etag in tags):
            return 304 if safe else 412
    elif exists and safe:
        since = parse_http_date(headers.get("If-Modified-Since"))
        if since is not None and last_modified_seconds(timestamp) <= since:
            return 304
    return None


def if_range_allows(value, etag, timestamp):
    """Whether an If-Range value lets the Range header apply (RFC 7233 3.2)."""
    if value is None:
        return True
    value = value.strip()
    if value.startswith('"') or value.startswith("W/"):
        return not value.startswith("W/") and value.strip('"') == etag
    since = parse_http_date(value)
    return since is not None and last_modified_seconds(timestamp) == since


def parse_ranges(value, length):
    """The satisfiable byte ranges of a Range header for a body of ``length``.

    :returns: None when the header is absent, not ``bytes=``, malformed or has
        too many ranges (serve everything: 200); ``[]`` when none is
        satisfiable (416); else ``[(start, stop), ...]`` with ``stop``
        exclusive, in the order given.
    """
    if not value:
        return None
    unit, eq, spec = value.partition("=")
    if not eq or unit.strip().lower() != "bytes":
        return None
    items = [item.strip() for item in spec.split(",")]
    if len(items) > MAX_RANGES or not any(items):
        return None
    result = []
    for item in items:
        if not item:
            continue
        first, dash, last = item.partition("-")
        first, last = first.strip(), last.strip()
        if not dash or (first and not first.isdigit()) or (last and not last.isdigit()) or not (first or last):
            return None
        if not first:  # suffix range: the last N bytes
            count = int(last)
            if count and length:
                result.append((max(0, length - count), length))
            continue
        start = int(first)
        if last and int(last) < start:
            return None
        if start >= length:
            continue
        stop = min(int(last) + 1, length) if last else length
        result.append((start, stop))
    return result


def content_range(start, stop, length):
    """``bytes start-end/length`` for ``[start, stop)``."""
    return "bytes %d-%d/%d" % (start, stop - 1, length)


def multipart_layout(ranges, length, content_type, boundary):
    """How a multipart/byteranges body is laid out.

    :returns: ``(parts, closing, total)``: ``parts`` is ``[(head bytes,
        start, stop)]``, each part being head + the bytes + ``\\r\\n``;
        ``closing`` ends the body; ``total`` is the Content-Length.
    """
    parts = []
    total = 0
    for start, stop in ranges:
        head = ("--%s\r\nContent-Type: %s\r\nContent-Range: %s\r\n\r\n" % (
            boundary, content_type, content_range(start, stop, length))).encode("utf-8")
        parts.append((head, start, stop))
        total += len(head) + (stop - start) + 2
    closing = ("--%s--\r\n" % boundary).encode("ascii")
    return parts, closing, total + len(closing)
