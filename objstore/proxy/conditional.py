"""HTTP conditional requests (RFC 7232) and byte ranges (RFC 7233) decided on
an object's headers, plus the multipart/byteranges framing. Pure: plain
strings and ints in, decisions out; the object controller does the I/O.
"""

import email.utils
import uuid


def _etags(value):
    return [tag.strip().strip('"') for tag in value.split(",") if tag.strip()]


def _http_time(value):
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None:
        return None
    return parsed.timestamp()


def evaluate_conditions(method, req_headers, etag, last_modified):
    """The status a conditional GET/HEAD answers before sending the entity.

    :param req_headers: the client's headers (a case-insensitive mapping).
    :param etag: the object's ETag (quotes optional); ``last_modified`` the
        Last-Modified header value.
    :returns: None to answer normally, 304 or 412.
    """
    etag = (etag or "").strip('"')
    if_match = req_headers.get("If-Match")
    if if_match is not None:
        tags = _etags(if_match)
        if "*" not in tags and etag not in tags:
            return 412
    else:
        since = _http_time(req_headers.get("If-Unmodified-Since"))
        modified = _http_time(last_modified)
        if since is not None and modified is not None and modified > since:
            return 412
    if_none = req_headers.get("If-None-Match")
    if if_none is not None:
        tags = _etags(if_none)
        if "*" in tags or etag in tags:
            return 304 if method in ("GET", "HEAD") else 412
    elif method in ("GET", "HEAD"):
        since = _http_time(req_headers.get("If-Modified-Since"))
        modified = _http_time(last_modified)
        if since is not None and modified is not None and modified <= since:
            return 304
    return None


def parse_range(value, length):
    """Resolve a ``Range`` header against an entity of ``length`` bytes.

    :returns: None when the header is absent or not a bytes range we honour
        (then the whole entity is sent, as RFC 7233 allows), a list of
        ``(start, end_exclusive)``, or [] when no range is satisfiable (416).
    """
    if not value:
        return None
    unit, _, spec = value.partition("=")
    if unit.strip().lower() != "bytes" or not spec.strip():
        return None
    result = []
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        first, dash, last = part.partition("-")
        first, last = first.strip(), last.strip()
        if not dash or (first and not first.isdigit()) or (last and not last.isdigit()):
            return None
        if not first:
            if not last:
                return None
            suffix = int(last)
            if suffix == 0:
                continue
            result.append((max(0, length - suffix), length))
            continue
        start = int(first)
        end = int(last) + 1 if last else length
        if last and end <= start:
            return None  # syntactically invalid: the whole header is ignored
        if start >= length:
            continue
        result.append((start, min(end, length)))
    if len(result) > 100:
        return None  # too many ranges: serve the entity, not a DoS
    return result


def merge_ranges(ranges):
    """``[(start, end)]`` (end exclusive) sorted, with overlapping or touching ones joined."""
    merged = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def content_range(start, end, length):
    return "bytes %d-%d/%d" % (start, end - 1, length)


def new_boundary():
    return uuid.uuid4().hex


def part_head(boundary, content_type, start, end, length):
    """The bytes that open one part of a multipart/byteranges body."""
    return (
        "--%s\r\nContent-Type: %s\r\nContent-Range: %s\r\n\r\n"
        % (boundary, content_type, content_range(start, end, length))
    ).encode("latin-1", "replace")


def multipart_length(boundary, content_type, ranges, length):
    """Content-Length of the multipart/byteranges body for ``ranges``."""
    total = 0
    for start, end in ranges:
        total += len(part_head(boundary, content_type, start, end, length)) + (end - start) + 2
    return total + len(closing(boundary))


def closing(boundary):
    return ("--%s--\r\n" % boundary).encode("ascii")
