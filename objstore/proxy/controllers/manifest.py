"""Dynamic large objects: an object whose ``X-Object-Manifest:
<container>/<prefix>`` names its segments is served as the concatenation of
every object under that prefix, in listing order (what the ``swift`` CLI's
segmented uploads produce). ``?multipart-manifest=get`` returns the manifest
itself. Only the object controller calls this.

A segment that is a static large object manifest is sent expanded (its own
segments laid end to end, by slo.stream_span), as Swift does: the listing's
``bytes`` for it is the SLO's total, so sending the manifest's JSON would end
the body short of the Content-Length. A segment that is itself a dynamic
manifest is sent as it is stored (its listing ``bytes`` is its own size).
"""

import hashlib
import json
import urllib.parse

from objstore.common.exceptions import BackendError
from objstore.proxy import conditional
from objstore.proxy.controllers import slo
from objstore.web.app import Response, error_response
from objstore.web.backend import quote_path

LISTING_PAGE = 10000


def is_manifest(req, headers):
    return "X-Object-Manifest" in headers and slo.multipart_manifest(req) != "get"


def list_segments(controller, req, account, container, prefix):
    """``[{"name", "bytes", "hash"}]`` of the segments, or None on 404/503."""
    ring = controller.app.container_ring
    part, nodes = ring.get_nodes(account, container)
    segments = []
    marker = ""
    while True:
        query = urllib.parse.urlencode({"format": "json", "prefix": prefix, "marker": marker,
                                        "limit": str(LISTING_PAGE)}, quote_via=urllib.parse.quote)
        resp, _node, _iter, _status = controller.read(req, ring, part, nodes, "GET",
                                                      quote_path(account, container) + "?" + query,
                                                      controller.backend_headers(req), kind="Container")
        if resp is None:
            return None
        try:
            body = resp.read_all()
            resp.release()
        except BackendError:
            resp.close()
            return None
        if resp.status == 204:
            return segments
        if resp.status != 200:
            return None
        page = [entry for entry in json.loads(body or b"[]") if "name" in entry]
        segments.extend(page)
        if len(page) < LISTING_PAGE:
            return segments
        marker = page[-1]["name"]


def serve(controller, req, account, headers):
    """The client Response for a manifest object whose headers are ``headers``."""
    container, _, prefix = urllib.parse.unquote(headers["X-Object-Manifest"]).partition("/")
    if not container:
        return error_response(503, "Bad X-Object-Manifest")
    denied = controller.authorize(req, account, container)
    if denied is not None:
        return denied
    segments = list_segments(controller, req, account, container, prefix)
    if segments is None:
        return error_response(503, "Segment listing unavailable")
    length = sum(int(seg.get("bytes", 0)) for seg in segments)
    etag = '"%s"' % hashlib.md5("".join(seg.get("hash", "") for seg in segments).encode("ascii"),
                               usedforsecurity=False).hexdigest()
    out = {key: value for key, value in headers.items()
           if key not in ("Content-Length", "Etag", "Content-Range")}
    out["Etag"] = etag
    cond = conditional.evaluate_conditions(req.method, req.headers, etag, headers.get("Last-Modified"))
    if cond is not None:
        keep = {k: v for k, v in out.items() if k in ("Etag", "Last-Modified", "X-Timestamp")}
        return Response(status=cond, headerlist=list(keep.items()), app_iter=[])
    status = 200
    start, end = 0, length
    if req.method == "GET" and req.headers.get("Range"):
        ranges = conditional.parse_range(req.headers["Range"], length)
        if ranges == []:
            return Response(status=416, headerlist=[("Content-Range", "bytes */%d" % length),
                                                    ("Content-Length", "0")], app_iter=[])
        if ranges and len(ranges) == 1:
            start, end = ranges[0]
            status = 206
            out["Content-Range"] = conditional.content_range(start, end, length)
    out["Content-Length"] = str(end - start)
    if req.method == "HEAD":
        return Response(status=status, headerlist=list(out.items()), app_iter=[])
    body = _concatenate(controller, req, account, container, segments, start, end)
    return Response(status=status, headerlist=list(out.items()), app_iter=body)


def _concatenate(controller, req, account, container, segments, start, end):
    """Yield bytes [start, end) of the segments laid end to end."""
    offset = 0
    for seg in segments:
        size = int(seg.get("bytes", 0))
        seg_start, seg_end = offset, offset + size
        offset = seg_end
        if seg_end <= start or size == 0:
            continue
        if seg_start >= end:
            return
        lo, hi = max(start, seg_start) - seg_start, min(end, seg_end) - seg_start
        ranged = "bytes=%d-%d" % (lo, hi - 1) if (lo, hi) != (0, size) else ""
        source, _headers, status, body = controller.fetch(req, account, container, seg["name"], "GET",
                                                          range_header=ranged, apply_conditions=False)
        if source is not None and slo.is_slo(source.headers):
            # the range was of the manifest's JSON (maybe a 416): serve the SLO's bytes instead
            _close(body)
            if source.conn is not None:  # closing a body never started leaves its source open
                source.close()
            yield from slo.stream_span(controller, req, account, container, seg["name"], lo, hi)
            continue
        if source is None or status not in (200, 206) or body is None:
            controller.app.logger.error("DLO segment %s/%s answered %s", container, seg["name"], status)
            raise BackendError("segment %s/%s unavailable" % (container, seg["name"]))
        yield from body


def _close(body):
    close = getattr(body, "close", None)
    if close is not None:
        close()
