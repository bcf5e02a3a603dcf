"""Account and container listings: query validation, the JSON the proxy asks
the backends for, and rendering it as json, xml or plain text for the client.
Pure apart from reading the request's params/headers.
"""

import json
import urllib.parse
from xml.sax.saxutils import escape, quoteattr

from objstore.common.exceptions import BadRequest, PreconditionFailed
from objstore.web.app import accept_qualities

PASSED_PARAMS = ("marker", "end_marker", "prefix", "delimiter", "path", "reverse")

CONTENT_TYPES = {
    "json": "application/json",
    "xml": "application/xml",
    "plain": "text/plain",
}


def listing_format(req):
    """``json``, ``xml`` or ``plain`` from ``?format=`` or the Accept header."""
    fmt = req.params.get("format")
    if fmt:
        fmt = fmt.strip().lower()
        if fmt in ("json", "application/json"):
            return "json"
        if fmt in ("xml", "application/xml", "text/xml"):
            return "xml"
        return "plain"
    accept = req.headers.get("Accept", "")
    if not accept:
        return "plain"
    best = None
    best_q = -1.0
    for media, q in accept_qualities(accept):
        fmt = {"application/json": "json", "application/xml": "xml", "text/xml": "xml",
               "text/plain": "plain", "*/*": "plain", "text/*": "plain", "application/*": "json"}.get(media)
        if fmt and q > best_q:
            best, best_q = fmt, q
    return best or "plain"


def backend_query(req, max_limit):
    """The query string for the backend listing (always JSON).

    :raises PreconditionFailed: a bad or too large ``limit``.
    :raises BadRequest: a parameter that is not valid UTF-8.
    """
    params = req.params
    query = [("format", "json")]
    limit = params.get("limit")
    if limit is not None:
        try:
            value = int(limit)
        except ValueError:
            raise PreconditionFailed("Value of limit must be a positive integer") from None
        if value < 0:
            raise PreconditionFailed("Value of limit must be a positive integer")
        if value > max_limit:
            raise PreconditionFailed("Maximum limit is %d" % max_limit)
        query.append(("limit", str(value)))
    else:
        query.append(("limit", str(max_limit)))
    for key in PASSED_PARAMS:
        value = params.get(key)
        if value is None:
            continue
        if "\x00" in value:
            raise BadRequest("Invalid UTF8 or contains NULL")
        query.append((key, value))
    return urllib.parse.urlencode(query, quote_via=urllib.parse.quote)


def decode_listing(body):
    """The backend's JSON listing as a list of dicts.

    :raises ValueError: when it is not a JSON list.
    """
    entries = json.loads(body or b"[]")
    if not isinstance(entries, list):
        raise ValueError("listing is not a list")
    return entries


def render(entries, fmt, kind, name):
    """Body bytes of a listing.

    :param kind: ``account`` (entries are containers) or ``container``.
    :param name: the account or container name (for the xml root).
    """
    if fmt == "json":
        return json.dumps(entries, ensure_ascii=True).encode("ascii")
    if fmt == "xml":
        return _render_xml(entries, kind, name)
    lines = []
    for entry in entries:
        lines.append(entry.get("subdir") if "subdir" in entry else entry.get("name", ""))
    if not lines:
        return b""
    return ("\n".join(lines) + "\n").encode("utf-8")


def _render_xml(entries, kind, name):
    child = "container" if kind == "account" else "object"
    fields = ("name", "count", "bytes", "last_modified") if kind == "account" else (
        "name", "hash", "bytes", "content_type", "last_modified")
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n<%s name=%s>' % (kind, quoteattr(name))]
    for entry in entries:
        if "subdir" in entry:
            sub = entry["subdir"]
            out.append("<subdir name=%s><name>%s</name></subdir>" % (quoteattr(sub), escape(sub)))
            continue
        out.append("<%s>" % child)
        for field in fields:
            if field in entry:
                out.append("<%s>%s</%s>" % (field, escape(str(entry[field])), field))
        out.append("</%s>" % child)
    out.append("</%s>" % kind)
    return "".join(out).encode("utf-8")
