"""Static large objects (SLO): an object whose body is a JSON manifest naming
its segments, served as their concatenation. The object controller calls
this (as it calls manifest.py for dynamic large objects); manifest.py calls
``stream_span`` for an SLO that is one of a dynamic large object's segments.

Theory of operation:

- ``PUT ?multipart-manifest=put`` takes a JSON list of ``{"path":
  "/cont/obj", "etag", "size_bytes", "range"}`` (etag/size_bytes may be
  null, range optional). Every segment is HEADed with the client's own
  authorization: it must exist, match the etag/size given, be at least
  MIN_SEGMENT_SIZE bytes and not be a dynamic manifest; a segment that is
  itself an SLO is kept as a nested one (``sub_slo``). All problems are
  answered at once: 400 with one ``<path>, <reason>`` line each. The stored
  body is the manifest as GET ``?multipart-manifest=get`` gives it back
  (name, hash, bytes, content_type, last_modified[, range][, sub_slo]);
  sysmeta marks the object (SYSMETA_SLO) and keeps the total size and the
  SLO etag, so that HEAD never reads the manifest and a POST (which keeps
  sysmeta) cannot unmark it.
- The manifest's content type is stored with a ``swift_bytes=<total>``
  parameter (``video/mp4;swift_bytes=300``), as Swift does: the object
  server passes the stored type on in its container update, so the
  container's listing can show the SLO's total as the object's ``bytes``
  (container/server.py strips the parameter there). Clients never see it:
  every answer built here from the manifest's headers drops it, and a
  client's own ``swift_bytes`` is dropped on PUT (``without_swift_bytes``).
  A POST keeps it: the object server keeps the content type of the data
  file and sends no container update on POST, so the row is untouched.
- The SLO etag is the md5 of the segments' etags laid end to end, a
  segment with a range adding ``<etag>:<start>-<end>;`` instead; the proxy
  answers it quoted, as Swift does for SLOs.
- GET reads the manifest and streams the segments in order, each fetched
  through the controller (failover, resume) with the client's
  authorization. The first segment is opened before the headers are sent:
  if it is missing or its etag changed the answer is 409. A later one that
  fails raises mid-body, so the server cuts the connection short of the
  Content-Length and the client notices.
- ``DELETE ?multipart-manifest=delete`` deletes every segment (nested
  manifests' segments too), then the manifest when no segment failed, and
  answers as a bulk delete does (plain text, or JSON on Accept:
  application/json).

Pure parts (parsing, etag, ranges, the delete body) are plain functions;
the I/O goes through the controller passed in. Dynamic large objects are
manifest.py's.
"""

import datetime
import hashlib
import json

from objstore.common import green
from objstore.common.exceptions import BackendError, BadRequest, ObjstoreError, RequestEntityTooLarge
from objstore.proxy import conditional
from objstore.proxy.controllers.base import client_headers
from objstore.web.app import Response, error_response
from objstore.web.backend import quote_path

MAX_MANIFEST_SEGMENTS = 1000
MAX_MANIFEST_SIZE = 8 * 1024 * 1024
MIN_SEGMENT_SIZE = 1  # Swift's docs: every segment must be at least 1 byte
MAX_NESTING = 10  # manifests within manifests a GET follows
HEAD_CONCURRENCY = 8  # segments HEADed at once on a manifest PUT
CAPABILITY = {"max_manifest_segments": MAX_MANIFEST_SEGMENTS, "max_manifest_size": MAX_MANIFEST_SIZE,
              "min_segment_size": MIN_SEGMENT_SIZE}

SYSMETA_SLO = "x-object-sysmeta-slo"
SYSMETA_ETAG = "x-object-sysmeta-slo-etag"
SYSMETA_SIZE = "x-object-sysmeta-slo-size"
PUT_KEYS = frozenset(("path", "etag", "size_bytes", "range"))
STATUS_TEXT = {200: "200 OK", 400: "400 Bad Request"}


class SegmentError(ObjstoreError):
    """A segment cannot be served (missing, changed); 409 before the first byte.

    ``backend_status`` is what the storage nodes answered, when they did.
    """

    status = 409

    def __init__(self, message, backend_status=None):
        super().__init__(message)
        self.backend_status = backend_status


# --- pure parts ----------------------------------------------------------------------
def multipart_manifest(req):
    """The request's ``multipart-manifest`` query parameter (``put``, ``get``,
    ``delete``), or None. Read from the query string only: ``req.params``
    would parse a form-encoded body (urllib's default, curl -d) as fields and
    leave the body empty. Cheap when absent, as on nearly every request."""
    if "multipart-manifest" not in req.environ.get("QUERY_STRING", ""):
        return None
    return req.GET.get("multipart-manifest")


def is_slo(headers):
    """Whether backend response ``headers`` (lower-case keys) are an SLO manifest's."""
    return (headers.get(SYSMETA_SLO) or "").lower() in ("true", "yes", "1", "on")


def without_swift_bytes(content_type):
    """``content_type`` without any ``swift_bytes`` parameter (other parameters as written)."""
    if ";" not in content_type:
        return content_type
    pieces = content_type.split(";")
    kept = [piece for piece in pieces[1:] if piece.partition("=")[0].strip().lower() != "swift_bytes"]
    if len(kept) == len(pieces) - 1:
        return content_type
    return ";".join([pieces[0]] + kept).rstrip()


def with_swift_bytes(content_type, total):
    """``content_type`` carrying the SLO's ``total`` bytes as its (only) ``swift_bytes`` parameter."""
    return "%s;swift_bytes=%d" % (without_swift_bytes(content_type), int(total))


def mark_total(headers):
    """Give the content type of an object's headers (lower-case keys) for
    the nodes the SLO total, when they make an SLO (``SYSMETA_SIZE``):
    a manifest PUT, or a copy of the manifest. Changes ``headers`` in place."""
    total = headers.get(SYSMETA_SIZE)
    if total is not None:
        headers["content-type"] = with_swift_bytes(headers.get("content-type") or "application/octet-stream",
                                                   total)


def parse_put_manifest(body):
    """The segment descriptions of a manifest PUT body.

    :returns: ``[{"path": "/c/o", "container", "obj", "etag": str|None,
        "size_bytes": int|None, "range": str|None}]``.
    :raises BadRequest: not JSON, not a list, empty, a bad entry (every
        bad entry is named).
    :raises RequestEntityTooLarge: more than MAX_MANIFEST_SEGMENTS entries.
    """
    try:
        entries = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("Manifest must be valid JSON") from None
    if not isinstance(entries, list):
        raise BadRequest("Manifest must be a JSON list of segments")
    if not entries:
        raise BadRequest("Manifest must name at least one segment")
    if len(entries) > MAX_MANIFEST_SEGMENTS:
        raise RequestEntityTooLarge("Too many segments: %d (at most %d)" % (len(entries), MAX_MANIFEST_SEGMENTS))
    result = []
    errors = []
    for index, entry in enumerate(entries):
        try:
            result.append(_put_entry(entry))
        except BadRequest as err:
            errors.append("Index %d: %s" % (index, err))
    if errors:
        raise BadRequest("\n".join(errors))
    return result


def _put_entry(entry):
    if not isinstance(entry, dict):
        raise BadRequest("not a JSON object")
    extra = sorted(set(entry) - PUT_KEYS)
    if extra:
        raise BadRequest("unknown keys %s" % ", ".join(extra))
    path = entry.get("path")
    if not isinstance(path, str):
        raise BadRequest("path must be a string /container/object")
    container, _, obj = path.lstrip("/").partition("/")
    if not container or not obj:
        raise BadRequest("path %r is not /container/object" % path)
    etag = entry.get("etag")
    if etag is not None and not isinstance(etag, str):
        raise BadRequest("etag must be a string or null")
    size = entry.get("size_bytes")
    if size is not None:
        if isinstance(size, str) and size.isdigit():
            size = int(size)
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise BadRequest("size_bytes must be a non-negative integer or null")
    rng = entry.get("range")
    if rng is not None and not isinstance(rng, str):
        raise BadRequest("range must be a string")
    return {"path": "/%s/%s" % (container, obj), "container": container, "obj": obj,
            "etag": etag.strip('"') if etag else None, "size_bytes": size, "range": rng}


def resolve_range(spec, size):
    """A manifest entry's ``range`` ("a-b", "a-", "-n") against a segment of ``size`` bytes.

    :returns: ``(start, end_exclusive)``.
    :raises BadRequest: malformed, several ranges, or unsatisfiable.
    """
    ranges = conditional.parse_range("bytes=" + spec, size)
    if ranges is None:
        raise BadRequest("invalid range %r" % spec)
    if len(ranges) > 1 or "," in spec:
        raise BadRequest("multiple ranges in one segment")
    if not ranges:
        raise BadRequest("unsatisfiable range %r" % spec)
    return ranges[0]


def item_span(item):
    """``(start, end_exclusive)`` of the bytes an item takes from its segment."""
    rng = item.get("range")
    if rng:
        first, _, last = rng.partition("-")
        return int(first), int(last) + 1
    return 0, int(item["bytes"])


def item_length(item):
    start, end = item_span(item)
    return end - start


def slo_etag(items):
    """The SLO's etag (unquoted) from its manifest items."""
    md5 = hashlib.md5(usedforsecurity=False)
    for item in items:
        if item.get("range"):
            md5.update(("%s:%s;" % (item["hash"], item["range"])).encode("ascii"))
        else:
            md5.update(item["hash"].encode("ascii"))
    return md5.hexdigest()


def manifest_item(entry, headers):
    """The stored manifest item for a PUT ``entry`` and its segment's HEAD ``headers``.

    :returns: ``(item, None)``, or ``(None, reason)`` when the segment does
        not fit the entry.
    """
    if "x-object-manifest" in headers:
        return None, "Segment is a dynamic large object manifest"
    nested = is_slo(headers)
    if nested:
        size = int(headers.get(SYSMETA_SIZE) or 0)
        etag = headers.get(SYSMETA_ETAG, "")
    else:
        size = int(headers.get("content-length") or 0)
        etag = headers.get("etag", "").strip('"')
    reasons = []
    if entry["size_bytes"] is not None and entry["size_bytes"] != size:
        reasons.append("Size Mismatch (manifest %d, segment %d)" % (entry["size_bytes"], size))
    if entry["etag"] is not None and entry["etag"] != etag:
        reasons.append("Etag Mismatch")
    if size < MIN_SEGMENT_SIZE:
        reasons.append("Too small; each segment must be at least %d byte" % MIN_SEGMENT_SIZE)
    item = {"name": entry["path"], "hash": etag, "bytes": size,
            "content_type": without_swift_bytes(headers.get("content-type", "application/octet-stream")),
            "last_modified": _iso(headers.get("x-timestamp"))}
    if entry["range"] is not None and not reasons:
        try:
            start, end = resolve_range(entry["range"], size)
        except BadRequest as err:
            reasons.append(str(err))
        else:
            item["range"] = "%d-%d" % (start, end - 1)
    if nested:
        item["sub_slo"] = True
    if reasons:
        return None, ", ".join(reasons)
    return item, None


def _iso(stamp):
    try:
        moment = datetime.datetime.fromtimestamp(float(stamp), datetime.timezone.utc)
    except (TypeError, ValueError):
        return ""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")


def raw_manifest(items):
    """The stored items in the form a manifest PUT takes (``format=raw``)."""
    result = []
    for item in items:
        entry = {"path": item["name"], "etag": item["hash"], "size_bytes": item["bytes"]}
        if item.get("range"):
            entry["range"] = item["range"]
        result.append(entry)
    return result


def pieces(items, start, end):
    """The parts of the manifest's items that make bytes [start, end) of the SLO.

    :returns: ``[(item, seg_start, seg_end)]``: byte spans of each item's
        segment (already shifted by the item's own range), in order.
    """
    result = []
    offset = 0
    for item in items:
        first, last = item_span(item)
        length = last - first
        lo, hi = max(start, offset), min(end, offset + length)
        if lo < hi:
            result.append((item, first + lo - offset, first + hi - offset))
        offset += length
        if offset >= end:
            break
    return result


def delete_body(deleted, not_found, errors, accept):
    """A bulk-delete style answer: ``(content_type, body bytes)``.

    :param errors: ``[[path, status text]]``.
    """
    status = STATUS_TEXT[400 if errors else 200]
    if "application/json" in (accept or ""):
        body = json.dumps({"Number Deleted": deleted, "Number Not Found": not_found, "Response Body": "",
                           "Response Status": status, "Errors": errors}, sort_keys=True)
        return "application/json; charset=utf-8", body.encode("utf-8")
    lines = ["Number Deleted: %d" % deleted, "Number Not Found: %d" % not_found, "Response Body: ",
             "Response Status: %s" % status, "Errors:"]
    lines.extend("%s, %s" % (path, reason) for path, reason in errors)
    return "text/plain; charset=utf-8", ("\n".join(lines) + "\n").encode("utf-8")


# --- I/O through the controller -----------------------------------------------------------
def sub_request(req, method, account, container, obj):
    """A body-less copy of ``req`` (same auth, transaction) for another object."""
    sub = req.copy_get()
    sub.method = method
    sub.environ["PATH_INFO"] = quote_path("v1", account, container, obj)
    sub.environ["QUERY_STRING"] = ""
    for key in ("Range", "If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since", "If-Range"):
        sub.headers.pop(key, None)
    return sub


def check_put(req):
    """A plain PUT may not mark an object as an SLO itself."""
    if "X-Static-Large-Object" in req.headers and multipart_manifest(req) != "put":
        raise BadRequest("X-Static-Large-Object is reserved: PUT with ?multipart-manifest=put to make an SLO")


def put_manifest(controller, req, account, container, obj):
    """``PUT ?multipart-manifest=put``: check the segments, store the manifest."""
    raw = req.headers.get("Content-Length")
    if raw is not None and raw.isdigit() and int(raw) > MAX_MANIFEST_SIZE:
        raise RequestEntityTooLarge("Manifest larger than %d bytes" % MAX_MANIFEST_SIZE)
    body = req.body_file.read(MAX_MANIFEST_SIZE + 1)
    if len(body) > MAX_MANIFEST_SIZE:
        raise RequestEntityTooLarge("Manifest larger than %d bytes" % MAX_MANIFEST_SIZE)
    entries = parse_put_manifest(body)
    pile = green.GreenPile(min(HEAD_CONCURRENCY, len(entries)))
    for entry in entries:
        pile.spawn(_check_segment, controller, req, account, entry)
    items = []
    errors = []
    for entry, (item, reason) in zip(entries, pile):
        if reason:
            errors.append("%s, %s" % (entry["path"], reason))
        items.append(item)
    if errors:
        return error_response(400, "Errors:\n" + "\n".join(errors))
    etag = slo_etag(items)
    sent = (req.headers.get("ETag") or "").strip('"')
    if sent and sent != etag:
        return error_response(422, "Manifest ETag %s does not match the segments' %s" % (sent, etag))
    manifest = json.dumps(items).encode("utf-8")
    headers = controller._object_headers(req, obj)
    headers.pop("etag", None)
    headers.pop("x-static-large-object", None)
    headers.pop("x-object-manifest", None)  # one kind of large object at a time
    headers[SYSMETA_SLO] = "True"
    headers[SYSMETA_ETAG] = etag
    headers[SYSMETA_SIZE] = str(sum(item_length(item) for item in items))
    mark_total(headers)
    chunks = iter([manifest])
    resp = controller._put(req, account, container, obj, headers, lambda: next(chunks, b""), len(manifest), False)
    if resp.status_int == 201:
        resp.headers["Etag"] = '"%s"' % etag
    return resp


def _check_segment(controller, req, account, entry):
    """``(item, None)`` or ``(None, reason)`` for one PUT entry."""
    head = sub_request(req, "HEAD", account, entry["container"], entry["obj"])
    denied = controller.authorize(head, account, entry["container"])
    if denied is not None:
        return None, denied.status
    try:
        source, _out, status, _body = controller.fetch(head, account, entry["container"], entry["obj"], "HEAD",
                                                       range_header="", apply_conditions=False)
    except ObjstoreError as err:
        return None, "%d %s" % (err.status, err)
    if source is None or status != 200:
        return None, {404: "404 Not Found"}.get(status, "%s" % status)
    return manifest_item(entry, source.headers)


def read_manifest(controller, req, account, container, obj, body_iter=None):
    """The stored items and backend headers of an SLO manifest.

    :param body_iter: the manifest body already being read (a 200 GET), or
        None to fetch it.
    :returns: ``(items, backend headers)``.
    :raises SegmentError: gone, not an SLO, or not readable.
    """
    headers = None
    if body_iter is None:
        sub = sub_request(req, "GET", account, container, obj)
        source, _out, status, body_iter = controller.fetch(sub, account, container, obj, "GET",
                                                           range_header="", apply_conditions=False)
        if source is None or status != 200:
            _close(body_iter)
            raise SegmentError("manifest /%s/%s answered %s" % (container, obj, status), status)
        headers = source.headers
        if not is_slo(headers):
            _close(body_iter)
            raise SegmentError("/%s/%s is not an SLO manifest" % (container, obj), 400)
    parts = []
    total = 0
    try:
        for data in body_iter:
            parts.append(data)
            total += len(data)
            if total > MAX_MANIFEST_SIZE:
                raise SegmentError("manifest /%s/%s is too big" % (container, obj))
    except BackendError as err:
        raise SegmentError("manifest /%s/%s: %s" % (container, obj, err)) from None
    finally:
        _close(body_iter)
    try:
        items = json.loads(b"".join(parts))
    except ValueError:
        raise SegmentError("manifest /%s/%s is not JSON" % (container, obj)) from None
    return items, headers


def _close(body_iter):
    close = getattr(body_iter, "close", None)
    if close is not None:
        close()


def serve(controller, req, account, container, obj, backend_headers, status, body_iter):
    """The client Response for GET/HEAD of an SLO manifest.

    :param backend_headers: the manifest's backend headers (sysmeta included).
    :param status, body_iter: what the controller's fetch gave; a 200 GET
        without a Range is the whole manifest and is read from, anything
        else is dropped and the manifest fetched again.
    """
    if multipart_manifest(req) == "get":
        _close(body_iter)
        return _serve_manifest(controller, req, account, container, obj)
    items = None
    if req.method == "GET":
        reuse = body_iter if status == 200 and not req.headers.get("Range") else None
        if reuse is None:
            _close(body_iter)
        try:
            items, fresh = read_manifest(controller, req, account, container, obj, reuse)
        except SegmentError as err:
            return error_response(404 if err.backend_status == 404 else 503, str(err))
        backend_headers = fresh or backend_headers
    else:
        _close(body_iter)
    etag = backend_headers.get(SYSMETA_ETAG, "")
    length = int(backend_headers.get(SYSMETA_SIZE) or 0)
    out = {key: value for key, value in client_headers(backend_headers).items()
           if key not in ("Content-Length", "Etag", "Content-Range", "X-Static-Large-Object")}
    out["Etag"] = '"%s"' % etag
    out["X-Static-Large-Object"] = "True"
    out["Accept-Ranges"] = "bytes"
    if "Content-Type" in out:
        out["Content-Type"] = without_swift_bytes(out["Content-Type"])
    cond = conditional.evaluate_conditions(req.method, req.headers, etag, backend_headers.get("last-modified"))
    if cond is not None:
        keep = {k: v for k, v in out.items() if k in ("Etag", "Last-Modified", "X-Timestamp")}
        return Response(status=cond, headerlist=list(keep.items()), app_iter=[])
    ranges = None
    if req.method == "GET" and req.headers.get("Range"):
        ranges = conditional.parse_range(req.headers["Range"], length)
        if ranges == []:
            return Response(status=416, headerlist=[("Content-Range", "bytes */%d" % length),
                                                    ("Content-Length", "0")], app_iter=[])
    if req.method == "HEAD":
        out["Content-Length"] = str(length)
        return Response(status=200, headerlist=list(out.items()), app_iter=[])
    if not ranges:
        spans, code = [(0, length)], 200
    else:
        spans, code = (ranges if len(ranges) == 1 else conditional.merge_ranges(ranges)), 206
    try:
        first = _open_first(controller, req, account, items, spans[0])
    except SegmentError as err:
        controller.app.logger.error("SLO /%s/%s/%s: %s", account, container, obj, err)
        return error_response(409, str(err))
    if code == 206 and len(spans) == 1:
        start, end = spans[0]
        out["Content-Range"] = conditional.content_range(start, end, length)
        out["Content-Length"] = str(end - start)
        body = _stream(controller, req, account, items, start, end, first)
    elif code == 206:
        boundary = conditional.new_boundary()
        ctype = out.get("Content-Type", "application/octet-stream")
        out["Content-Type"] = "multipart/byteranges; boundary=%s" % boundary
        out["Content-Length"] = str(conditional.multipart_length(boundary, ctype, spans, length))
        body = _multipart(controller, req, account, items, spans, length, boundary, ctype, first)
    else:
        out["Content-Length"] = str(length)
        body = _stream(controller, req, account, items, 0, length, first)
    return Response(status=code, headerlist=list(out.items()), app_iter=body)


def _serve_manifest(controller, req, account, container, obj):
    """``?multipart-manifest=get``: the stored manifest (``&format=raw``: as PUT takes it)."""
    try:
        items, headers = read_manifest(controller, req, account, container, obj)
    except SegmentError as err:
        return error_response(503, str(err))
    if req.GET.get("format") == "raw":
        items = raw_manifest(items)
    body = json.dumps(items).encode("utf-8")
    out = {key: value for key, value in client_headers(headers).items()
           if key not in ("Content-Length", "Content-Range", "Content-Type")}
    etag = hashlib.md5(body, usedforsecurity=False).hexdigest()
    out["Etag"] = '"%s"' % etag
    out["X-Static-Large-Object"] = "True"
    cond = conditional.evaluate_conditions(req.method, req.headers, etag, headers.get("last-modified"))
    if cond is not None:  # against the manifest's own etag, as a manifest GET is the manifest
        keep = {k: v for k, v in out.items() if k in ("Etag", "Last-Modified", "X-Timestamp")}
        return Response(status=cond, headerlist=list(keep.items()), app_iter=[])
    out["Content-Type"] = "application/json; charset=utf-8"
    out["Content-Length"] = str(len(body))
    return Response(status=200, headerlist=list(out.items()), app_iter=[] if req.method == "HEAD" else [body])


def _leaves(controller, req, account, items, start, end, depth=0):
    """``(container, obj, etag, seg_start, seg_end)`` of the plain segments
    holding bytes [start, end), nested manifests expanded (lazily)."""
    if depth > MAX_NESTING:
        raise SegmentError("manifests nested more than %d deep" % MAX_NESTING)
    for item, lo, hi in pieces(items, start, end):
        container, _, obj = item["name"].lstrip("/").partition("/")
        if item.get("sub_slo"):
            sub_items, headers = read_manifest(controller, req, account, container, obj)
            if headers.get(SYSMETA_ETAG) != item["hash"]:
                raise SegmentError("nested manifest %s changed" % item["name"])
            yield from _leaves(controller, req, account, sub_items, lo, hi, depth + 1)
        else:
            yield container, obj, item["hash"], lo, hi


def _open_segment(controller, req, account, leaf):
    """Fetch one segment span: ``(source body iterator)``.

    :raises SegmentError: missing, not readable, or its etag changed.
    """
    container, obj, etag, lo, hi = leaf
    sub = sub_request(req, "GET", account, container, obj)
    denied = controller.authorize(sub, account, container)
    if denied is not None:
        raise SegmentError("segment /%s/%s: %s" % (container, obj, denied.status))
    ranged = "bytes=%d-%d" % (lo, hi - 1)
    try:
        source, headers, status, body = controller.fetch(sub, account, container, obj, "GET",
                                                         range_header=ranged, apply_conditions=False)
    except ObjstoreError as err:
        raise SegmentError("segment /%s/%s: %s" % (container, obj, err)) from None
    if source is None or status not in (200, 206) or body is None:
        _close(body)
        raise SegmentError("segment /%s/%s answered %s" % (container, obj, status))
    if headers.get("Etag", "").strip('"') != etag:
        _close(body)
        raise SegmentError("segment /%s/%s changed: etag %s, manifest says %s"
                           % (container, obj, headers.get("Etag"), etag))
    if status == 200 and (lo, hi) != (0, int(headers.get("Content-Length") or 0)):
        # a node that ignored the Range (should not happen): cut it ourselves
        return _cut(body, lo, hi)
    return body


def _cut(body, lo, hi):
    pos = 0
    try:
        for data in body:
            take = data[max(0, lo - pos):max(0, hi - pos)]
            pos += len(data)
            if take:
                yield take
            if pos >= hi:
                return
    finally:
        _close(body)


def _open_first(controller, req, account, items, span):
    """The first leaf and its open body, so that a missing first segment is a 409."""
    leaves = _leaves(controller, req, account, items, span[0], span[1])
    leaf = next(leaves, None)
    if leaf is None:
        return None
    return leaves, _open_segment(controller, req, account, leaf)


def _stream(controller, req, account, items, start, end, first):
    """Yield bytes [start, end) of the SLO; ``first`` is _open_first's
    result for this span. A failure after the first byte raises (the
    server then cuts the connection short of its Content-Length)."""
    if first is None:
        return
    leaves, body = first
    try:
        while body is not None:
            try:
                yield from body
            finally:
                _close(body)
            body = None
            leaf = next(leaves, None)
            if leaf is not None:
                body = _open_segment(controller, req, account, leaf)
    except SegmentError as err:
        controller.app.logger.error("SLO GET cut short: %s", err)
        raise BackendError(str(err)) from None


def stream_span(controller, req, account, container, obj, start, end):
    """Yield bytes [start, end) of the SLO /container/obj, nested manifests
    expanded: what a dynamic large object whose segment is this SLO sends
    (manifest.py). The manifest is read on the first ``next``.

    :raises BackendError: the manifest or one of its segments is gone,
        changed or unreadable (the headers are sent by then: the server cuts
        the body short of its Content-Length).
    """
    try:
        items, _headers = read_manifest(controller, req, account, container, obj)
        first = _open_first(controller, req, account, items, (start, end))
    except SegmentError as err:
        controller.app.logger.error("SLO segment /%s/%s of a DLO: %s", container, obj, err)
        raise BackendError(str(err)) from None
    yield from _stream(controller, req, account, items, start, end, first)


def _multipart(controller, req, account, items, spans, length, boundary, ctype, first):
    for index, (start, end) in enumerate(spans):
        yield conditional.part_head(boundary, ctype, start, end, length)
        if index > 0:
            try:
                first = _open_first(controller, req, account, items, (start, end))
            except SegmentError as err:
                controller.app.logger.error("SLO GET cut short: %s", err)
                raise BackendError(str(err)) from None
        yield from _stream(controller, req, account, items, start, end, first)
        yield b"\r\n"
    yield conditional.closing(boundary)


def copy_source(controller, req, account, container, obj, backend_headers, body_iter):
    """What COPY / X-Copy-From of an SLO writes: its concatenated content,
    or with ``?multipart-manifest=get`` the manifest itself (the copy is
    then an SLO over the same segments).

    :param req: the source GET (the copy request's query string).
    :param body_iter: the source's whole manifest body (a 200 GET).
    The client headers never hold ``swift_bytes``; the controller gives a
    copied manifest its total back with ``mark_total``.

    :returns: ``(client headers, body iterator, sysmeta for the copy)``, or
        ``(None, error Response, None)``.
    """
    try:
        items, _headers = read_manifest(controller, req, account, container, obj, body_iter)
    except SegmentError as err:
        return None, error_response(503, str(err)), None
    headers = client_headers(backend_headers)
    if "Content-Type" in headers:
        headers["Content-Type"] = without_swift_bytes(headers["Content-Type"])
    if multipart_manifest(req) == "get":
        manifest = json.dumps(items).encode("utf-8")
        headers["Content-Length"] = str(len(manifest))
        sysmeta = {key: backend_headers[key] for key in (SYSMETA_SLO, SYSMETA_ETAG, SYSMETA_SIZE)}
        return headers, [manifest], sysmeta
    length = int(backend_headers.get(SYSMETA_SIZE) or 0)
    if length > controller.app.constraints.max_file_size:
        return None, error_response(413, "The SLO is larger than an object may be (%d bytes)"
                                    % controller.app.constraints.max_file_size), None
    try:
        first = _open_first(controller, req, account, items, (0, length))
    except SegmentError as err:
        return None, error_response(409, str(err)), None
    headers["Content-Length"] = str(length)
    return headers, _stream(controller, req, account, items, 0, length, first), {}


def delete(controller, req, account, container, obj):
    """``DELETE ?multipart-manifest=delete``: the segments, then the manifest."""
    counts = {"deleted": 0, "not_found": 0}
    errors = []
    try:
        items, _headers = read_manifest(controller, req, account, container, obj)
    except SegmentError as err:
        if err.backend_status == 404:
            counts["not_found"] += 1
        else:
            errors.append([quote_path(container, obj), "400 Not an SLO manifest" if err.backend_status == 400
                           else "503 Service Unavailable"])
    else:
        _delete_segments(controller, req, account, items, counts, errors, 0)
        if not errors:
            _delete_one(controller, req, account, container, obj, counts, errors)
    ctype, body = delete_body(counts["deleted"], counts["not_found"], errors, req.headers.get("Accept"))
    resp = Response(status=200, body=body)
    resp.headers["Content-Type"] = ctype
    return resp


def _delete_segments(controller, req, account, items, counts, errors, depth):
    for item in items:
        container, _, obj = item["name"].lstrip("/").partition("/")
        if item.get("sub_slo") and depth < MAX_NESTING:
            try:
                sub_items, _headers = read_manifest(controller, req, account, container, obj)
            except SegmentError:
                sub_items = []  # gone or changed: delete only the object itself
            _delete_segments(controller, req, account, sub_items, counts, errors, depth + 1)
        _delete_one(controller, req, account, container, obj, counts, errors)


def _delete_one(controller, req, account, container, obj, counts, errors):
    sub = sub_request(req, "DELETE", account, container, obj)
    path = quote_path(container, obj)
    denied = controller.authorize(sub, account, container)
    if denied is not None:
        errors.append([path, denied.status])
        return
    try:
        resp = controller._write_object(sub, account, container, obj, "DELETE", {})
    except ObjstoreError as err:
        errors.append([path, "%d %s" % (err.status, err)])
        return
    if resp.status_int == 404:
        counts["not_found"] += 1
    elif resp.status_int < 300:
        counts["deleted"] += 1
    else:
        errors.append([path, resp.status])
