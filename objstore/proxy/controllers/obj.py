"""Object paths ``/v1/<account>/<container>/<object>``: GET/HEAD with
failover (a GET whose node dies mid-body resumes on another replica at the
byte already sent), ranges and conditionals, PUT (streamed by putter.py),
COPY / X-Copy-From, POST and DELETE. Large objects are served by
manifest.py (dynamic) and slo.py (static), which this module calls.
"""

import mimetypes
import time
import urllib.parse

from objstore.common.constraints import check_metadata, check_name, check_object_size
from objstore.common.exceptions import BackendError, BadRequest, LengthRequired, ServiceUnavailable
from objstore.common.timestamp import Timestamp, normalize_delete_at
from objstore.proxy import conditional, quorum
from objstore.proxy.controllers import manifest, putter, slo
from objstore.proxy.controllers.base import Controller, client_headers, timestamp_of
from objstore.web.app import Response, error_response, meta_text
from objstore.web.backend import quote_path

CONDITIONAL_HEADERS = ("If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since")
# client headers an object keeps (besides X-Object-Meta-*)
KEPT_HEADERS = ("content-type", "content-encoding", "content-disposition", "content-language",
                "cache-control", "expires", "x-delete-at", "x-object-manifest")
COPIED_FROM_SOURCE = ("content-type", "content-encoding", "content-disposition", "content-language",
                      "cache-control", "expires", "x-object-manifest")


class ObjectController(Controller):
    server_type = "Object"

    def __init__(self, app):
        super().__init__(app)
        self.handlers = {"GET": self.GET, "HEAD": self.HEAD, "PUT": self.PUT, "POST": self.POST,
                         "DELETE": self.DELETE, "COPY": self.COPY}
        app.register_capability("slo", dict(slo.CAPABILITY))

    def _check_names(self, account, container, obj):
        constraints = self.app.constraints
        check_name(account, "account", constraints)
        check_name(container, "container", constraints)
        check_name(obj, "object", constraints)

    # --- GET / HEAD -------------------------------------------------------------
    def GET(self, req, account, container, obj):
        return self.GETorHEAD(req, account, container, obj)

    def HEAD(self, req, account, container, obj):
        return self.GETorHEAD(req, account, container, obj)

    def GETorHEAD(self, req, account, container, obj):
        self._check_names(account, container, obj)
        denied = self.authorize(req, account, container)
        if denied is not None:
            return denied
        source, headers_out, status, body_iter = self.fetch(req, account, container, obj, req.method)
        if source is None:
            return error_response(status)
        if status in (200, 206, 304, 412, 416) and slo.is_slo(source.headers):
            return slo.serve(self, req, account, container, obj, source.headers, status, body_iter)
        if manifest.is_manifest(req, headers_out) and status in (200, 206, 416):
            close = getattr(body_iter, "close", None)
            if close is not None:
                close()
            return manifest.serve(self, req, account, headers_out)
        if body_iter is None:
            body_iter = []
            if req.method == "GET" and status not in (204, 304):
                headers_out["Content-Length"] = "0"
        elif isinstance(body_iter, list):
            headers_out["Content-Length"] = str(sum(len(part) for part in body_iter))
        return Response(status=status, headerlist=list(headers_out.items()), app_iter=body_iter)

    def fetch(self, req, account, container, obj, method, range_header=None, apply_conditions=True):
        """Find the object and prepare what to send.

        :returns: ``(source, headers, status, body_iter)``; source None means
            ``status`` (404/503) is the answer; body_iter None means no body.
        """
        ring = self.app.object_ring
        part, nodes = ring.get_nodes(account, container, obj)
        path = quote_path(account, container, obj)
        headers = self.backend_headers(req)
        if apply_conditions:
            for key in CONDITIONAL_HEADERS:
                value = req.headers.get(key)
                if value is not None:
                    headers[key] = value
        if range_header is None and method == "GET":
            range_header = req.headers.get("Range")
        if range_header and method == "GET":
            headers["Range"] = range_header
        newest = (req.headers.get("X-Newest") or "").lower() in ("true", "1", "yes", "on", "t", "y")
        source, node, node_iter, status = self.read(req, ring, part, nodes, method, path, headers, newest=newest)
        if source is None:
            return None, None, status, None
        out = client_headers(source.headers)
        out.setdefault("Accept-Ranges", "bytes")
        if "Etag" in out:
            out["Etag"] = out["Etag"].strip('"')
        length = _int(source.headers.get("content-length"))
        if source.status >= 300 or source.status == 204:
            # 304/412/416/4xx from the node itself: pass it on
            body = source.read_all(limit=65536) if method == "GET" else b""
            source.release()
            if source.status >= 400:
                out.pop("Content-Type", None)
                out.pop("Etag", None)
                return source, out, source.status, [body] if body else None
            return source, out, source.status, None
        if apply_conditions and source.status == 200:
            cond = conditional.evaluate_conditions(method, req.headers, source.headers.get("etag"),
                                                   source.headers.get("last-modified"))
            if cond is not None:
                source.close()
                keep = {k: v for k, v in out.items() if k in ("Etag", "Last-Modified", "X-Timestamp")}
                return source, keep, cond, None
        if method == "HEAD":
            source.release()
            out["Content-Length"] = str(length or 0)
            return source, out, source.status, None
        etag = source.headers.get("etag", "").strip('"')
        stamp = timestamp_of(source.headers)
        resume = (node_iter, part, path, headers, etag, stamp)
        if source.status == 206:
            start, end = _content_range(source.headers.get("content-range"))
            if start is None:  # multipart from the node: no resume
                resume = None
                start, end = 0, length
            out["Content-Length"] = str(length)
            return source, out, 206, self._body(source, node, start, end, resume)
        if range_header:
            ranges = conditional.parse_range(range_header, length)
            if ranges == []:
                source.close()
                return source, {"Content-Range": "bytes */%d" % length}, 416, None
            if ranges:
                return self._ranged(source, node, out, length, ranges, resume)
        out["Content-Length"] = str(length)
        return source, out, 200, self._body(source, node, 0, length, resume)

    def _ranged(self, source, node, out, length, ranges, resume):
        """Serve ranges ourselves from a node that sent the whole object."""
        full = self._body(source, node, 0, length, resume)
        if len(ranges) == 1:
            start, end = ranges[0]
            out["Content-Range"] = conditional.content_range(start, end, length)
            out["Content-Length"] = str(end - start)
            return source, out, 206, _slice(full, [(start, end)], None, None, length)
        ranges = conditional.merge_ranges(ranges)
        boundary = conditional.new_boundary()
        ctype = out.get("Content-Type", "application/octet-stream")
        out["Content-Type"] = "multipart/byteranges; boundary=%s" % boundary
        out["Content-Length"] = str(conditional.multipart_length(boundary, ctype, ranges, length))
        return source, out, 206, _slice(full, ranges, boundary, ctype, length)

    def _body(self, source, node, start, end, resume):
        """Yield the body of ``source`` (bytes [start, end) of the object);
        when the node fails mid-stream, continue from the next node."""
        chunk = self.app.config.object_chunk_size
        pos = start
        try:
            while True:
                try:
                    data = source.read(chunk)
                except BackendError as err:
                    source.close()
                    self.node_error(node, "GET Object mid-stream at byte %d: %s" % (pos, err))
                    if resume is None or pos >= end:
                        raise
                    source, node = self._resume(resume, pos, end)
                    if source is None:
                        self.app.logger.error("GET Object: no replica left to resume at byte %d", pos)
                        raise
                    continue
                if not data:
                    source.release()
                    return
                pos += len(data)
                yield data
        except (GeneratorExit, BackendError):
            raise
        except Exception:  # headers are sent: all we can do is log and cut the body
            self.app.logger.exception("ERROR streaming an object body at byte %d", pos)
            raise
        finally:
            if source is not None and source.conn is not None:
                source.close()

    def _resume(self, resume, pos, end):
        node_iter, part, path, headers, etag, stamp = resume
        headers = dict(headers)
        for key in CONDITIONAL_HEADERS:
            headers.pop(key, None)
        headers["Range"] = "bytes=%d-%d" % (pos, end - 1)
        for node, _primary in node_iter:
            full_path = "/%s/%s%s" % (quote_path(node["device"])[1:], part, path)
            try:
                resp = self.pool.stream(node["ip"], node["port"], "GET", full_path, headers)
            except BackendError as err:
                self.node_error(node, "GET Object resume: %s" % err)
                continue
            same = resp.headers.get("etag", "").strip('"') == etag and timestamp_of(resp.headers) == stamp
            if resp.status == 206 and same:
                return resp, node
            if resp.status == 200 and same:
                try:
                    _skip(resp, pos)
                except BackendError:
                    resp.close()
                    continue
                return resp, node
            resp.close()
        return None, None

    # --- PUT --------------------------------------------------------------------
    def PUT(self, req, account, container, obj):
        self._check_names(account, container, obj)
        constraints = self.app.constraints
        chunked = "chunked" in req.headers.get("Transfer-Encoding", "").lower()
        length = None
        if not chunked:
            raw = req.headers.get("Content-Length")
            if raw is None:
                if req.headers.get("X-Copy-From") is None:
                    raise LengthRequired("Missing Content-Length or Transfer-Encoding: chunked")
            else:
                try:
                    length = int(raw)
                except ValueError:
                    raise BadRequest("Invalid Content-Length") from None
                if length < 0:
                    raise BadRequest("Invalid Content-Length")
        check_object_size(length, constraints)
        if_none = req.headers.get("If-None-Match")
        if if_none is not None and if_none.strip() != "*":
            raise BadRequest("If-None-Match only supports *")
        check_metadata(meta_text(req.headers), "object", constraints)
        slo.check_put(req)
        info = self.container_info(account, container, req)
        denied = self.authorize(req, account, container)
        if denied is not None:
            return denied
        if info is None:
            return error_response(404)
        if slo.multipart_manifest(req) == "put":
            return slo.put_manifest(self, req, account, container, obj)
        copy_from = req.headers.get("X-Copy-From")
        if copy_from:
            return self._put_copy(req, account, container, obj, copy_from, length)
        headers = self._object_headers(req, obj)
        read = putter.client_reader(req.environ, self.app.config.client_chunk_size, None if chunked else length)
        return self._put(req, account, container, obj, headers, read, length, chunked)

    def _object_headers(self, req, obj, base=None):
        """The object's headers for the nodes (without transfer framing)."""
        headers = dict(base or {})
        sent_type = _client_sent_content_type(req)  # eventlet fills in text/plain when the client sent none
        for key, value in req.headers.items():
            low = key.lower()
            if low.startswith("x-object-meta-") or low in KEPT_HEADERS:
                if low != "content-type" or sent_type:
                    headers[low] = value
        if req.headers.get("ETag"):
            headers["etag"] = req.headers["ETag"].strip('"')
        detect = (req.headers.get("X-Detect-Content-Type") or "").lower() in ("true", "1", "yes", "on")
        if detect or not headers.get("content-type"):
            guessed = mimetypes.guess_type(obj, strict=False)[0]
            headers["content-type"] = guessed or "application/octet-stream"
        else:
            # Swift drops the swift_bytes param users may not set (slo.py sets it on manifests)
            headers["content-type"] = slo.without_swift_bytes(headers["content-type"])
        self._delete_at(req, headers)
        return headers

    def _delete_at(self, req, headers):
        """X-Delete-After → X-Delete-At; validate it (400 when in the past)."""
        after = req.headers.get("X-Delete-After")
        if after is not None:
            try:
                seconds = int(after)
            except ValueError:
                raise BadRequest("Non-integer X-Delete-After") from None
            if seconds < 0:
                raise BadRequest("X-Delete-After in past")
            headers["x-delete-at"] = str(int(time.time()) + seconds)
            headers.pop("x-delete-after", None)
        value = headers.get("x-delete-at")
        if value is None:
            return
        try:
            delete_at = normalize_delete_at(value)
        except BadRequest:
            raise BadRequest("Non-integer X-Delete-At") from None
        if delete_at < time.time():
            raise BadRequest("X-Delete-At in past")
        headers["x-delete-at"] = str(delete_at)

    def _delete_at_headers(self, headers):
        """The expirer queue's container location for an X-Delete-At."""
        value = headers.get("x-delete-at")
        if not value:
            return {}
        config = self.app.config
        divisor = config.expiring_objects_container_divisor
        queue_container = str(int(value) // divisor * divisor)
        account = config.expiring_objects_account_name
        part, nodes = self.app.container_ring.get_nodes(account, queue_container)
        return {"nodes": nodes, "part": part, "container": queue_container}

    def _per_node_headers(self, account, container, base, count):
        cpart, cnodes = self.app.container_ring.get_nodes(account, container)
        expiry = self._delete_at_headers(base)
        result = []
        for index in range(count):
            cnode = cnodes[index % len(cnodes)]
            headers = dict(base)
            headers["X-Container-Host"] = "%s:%s" % (cnode["ip"], cnode["port"])
            headers["X-Container-Device"] = cnode["device"]
            headers["X-Container-Partition"] = str(cpart)
            if expiry:
                enode = expiry["nodes"][index % len(expiry["nodes"])]
                headers["X-Delete-At-Host"] = "%s:%s" % (enode["ip"], enode["port"])
                headers["X-Delete-At-Device"] = enode["device"]
                headers["X-Delete-At-Partition"] = str(expiry["part"])
                headers["X-Delete-At-Container"] = expiry["container"]
            result.append(headers)
        return result

    def _put(self, req, account, container, obj, obj_headers, read, length, chunked):
        ring = self.app.object_ring
        part, nodes = ring.get_nodes(account, container, obj)
        timestamp = Timestamp.now()
        base = self.backend_headers(req, obj_headers)
        base["X-Timestamp"] = timestamp.internal
        if chunked:
            base["Transfer-Encoding"] = "chunked"
        else:
            base["Content-Length"] = str(length)
        if req.headers.get("If-None-Match") is not None:
            base["If-None-Match"] = "*"
        headers_list = self._per_node_headers(account, container, base, len(nodes))
        result = putter.put_object(self, ring, part, nodes, quote_path(account, container, obj), headers_list,
                                   read, length, chunked, self.app.constraints.max_file_size)
        if result.status >= 300:
            if result.status >= 500:
                return error_response(503)
            return error_response(result.status)
        resp = Response(status=201)
        resp.body = b""
        resp.content_type = "text/html"
        resp.charset = "utf-8"
        if result.etag:
            resp.headers["Etag"] = result.etag
        resp.headers["Last-Modified"] = timestamp.http_date
        return resp

    def _put_copy(self, req, account, container, obj, copy_from, length):
        if length:
            raise BadRequest("Copy requests require a zero byte body")
        src_container, src_obj = _split_copy_path(urllib.parse.unquote(copy_from))
        src_account = req.headers.get("X-Copy-From-Account") or account
        self._check_names(src_account, src_container, src_obj)
        src_req = req.copy_get()
        src_req.environ["PATH_INFO"] = quote_path("v1", src_account, src_container, src_obj)
        denied = self.authorize(src_req, src_account, src_container)
        if denied is not None:
            return denied
        source, src_headers, status, body_iter = self.fetch(src_req, src_account, src_container, src_obj,
                                                            "GET", range_header="", apply_conditions=False)
        if source is None:
            return error_response(status)
        if status != 200:
            if source.conn is not None:
                source.close()
            return error_response(status if status >= 400 else 503)
        sysmeta = {}
        if slo.is_slo(source.headers):
            src_headers, body_iter, sysmeta = slo.copy_source(self, src_req, src_account, src_container, src_obj,
                                                              source.headers, body_iter)
            if src_headers is None:
                return body_iter  # the error Response
        fresh = (req.headers.get("X-Fresh-Metadata") or "").lower() in ("true", "1", "yes", "on")
        base = {}
        lowered = {k.lower(): v for k, v in src_headers.items()}
        for key, value in lowered.items():
            if key in COPIED_FROM_SOURCE or (key.startswith("x-object-meta-") and not fresh):
                base[key] = value
        if lowered.get("x-delete-at") and not fresh:
            base["x-delete-at"] = lowered["x-delete-at"]
        if fresh:
            base.pop("content-type", None)
        overrides = self._object_headers(req, obj, base)
        overrides.update(sysmeta)
        slo.mark_total(overrides)  # a copied manifest lists with its total too
        check_metadata(meta_text(overrides), "object", self.app.constraints)
        size = int(src_headers.get("Content-Length", "0"))
        iterator = iter(body_iter)

        def read():
            return next(iterator, b"")

        try:
            resp = self._put(req, account, container, obj, overrides, read, size, False)
        finally:
            close = getattr(body_iter, "close", None)
            if close is not None:
                close()
        if resp.status_int == 201:
            resp.headers["X-Copied-From"] = quote_path(src_container, src_obj)[1:]
            if src_account != account:
                resp.headers["X-Copied-From-Account"] = quote_path(src_account)[1:]
            if "Last-Modified" in src_headers:
                resp.headers["X-Copied-From-Last-Modified"] = src_headers["Last-Modified"]
        return resp

    def COPY(self, req, account, container, obj):
        dest = req.headers.get("Destination")
        if not dest:
            raise BadRequest("Destination header required")
        dest_container, dest_obj = _split_copy_path(urllib.parse.unquote(dest))
        dest_account = req.headers.get("Destination-Account") or account
        put = req.copy_get()  # drops the body, and CONTENT_TYPE with it
        put.method = "PUT"
        if req.content_type and _client_sent_content_type(req):
            # a COPY takes the client's Content-Type as PUT + X-Copy-From does
            put.environ["CONTENT_TYPE"] = req.environ["CONTENT_TYPE"]
        put.environ["PATH_INFO"] = quote_path("v1", dest_account, dest_container, dest_obj)
        put.headers["Content-Length"] = "0"
        put.headers["X-Copy-From"] = quote_path(container, obj)
        if dest_account != account:
            put.headers["X-Copy-From-Account"] = account
        for key in ("Destination", "Destination-Account"):
            put.headers.pop(key, None)
        return self.PUT(put, dest_account, dest_container, dest_obj)

    # --- POST / DELETE ------------------------------------------------------------
    def POST(self, req, account, container, obj):
        self._check_names(account, container, obj)
        check_metadata(meta_text(req.headers), "object", self.app.constraints)
        info = self.container_info(account, container, req)
        denied = self.authorize(req, account, container)
        if denied is not None:
            return denied
        if info is None:
            return error_response(404)
        obj_headers = {}
        for key, value in req.headers.items():
            low = key.lower()
            if low.startswith("x-object-meta-") or low in KEPT_HEADERS:
                obj_headers[low] = value
        self._delete_at(req, obj_headers)
        return self._write_object(req, account, container, obj, "POST", obj_headers)

    def DELETE(self, req, account, container, obj):
        self._check_names(account, container, obj)
        info = self.container_info(account, container, req)
        denied = self.authorize(req, account, container)
        if denied is not None:
            return denied
        if info is None:
            return error_response(404)
        if slo.multipart_manifest(req) == "delete":
            return slo.delete(self, req, account, container, obj)
        return self._write_object(req, account, container, obj, "DELETE", {})

    def _write_object(self, req, account, container, obj, method, obj_headers):
        ring = self.app.object_ring
        part, nodes = ring.get_nodes(account, container, obj)
        base = self.backend_headers(req, obj_headers)
        base["X-Timestamp"] = Timestamp.now().internal
        headers_list = self._per_node_headers(account, container, base, len(nodes))
        results = self.write_all(ring, part, nodes, method, quote_path(account, container, obj), headers_list,
                                 grace=self.app.config.post_quorum_timeout)
        statuses = [status for status, _h, _b in results]
        status = quorum.best_status(statuses, len(nodes))
        if status >= 500:
            raise ServiceUnavailable("%s failed on too many replicas" % method)
        if status >= 400:
            return error_response(status)
        resp = Response(status=status)
        if status == 204:
            resp.content_type = None
        else:
            resp.body = b""
        return resp


def _client_sent_content_type(req):
    raw = req.environ.get("headers_raw")
    if raw is None:
        return True
    return any(key.lower() == "content-type" for key, _value in raw)


def _split_copy_path(path):
    """``/container/object`` (leading slash optional) into its two names."""
    path = path.lstrip("/")
    container, _, obj = path.partition("/")
    if not container or not obj:
        raise PreconditionFailedCopy("Bad copy path: must be /container/object")
    return container, obj


class PreconditionFailedCopy(BadRequest):
    status = 412


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _content_range(value):
    """``bytes a-b/len`` → (a, b+1); (None, None) otherwise."""
    if not value or not value.startswith("bytes "):
        return None, None
    span = value[6:].split("/", 1)[0]
    first, _, last = span.partition("-")
    try:
        return int(first), int(last) + 1
    except ValueError:
        return None, None


def _skip(resp, count):
    """Read and drop the first ``count`` bytes of a body."""
    while count > 0:
        data = resp.read(min(count, 65536))
        if not data:
            raise BackendError("body ended while skipping")
        count -= len(data)


def _slice(body, ranges, boundary, ctype, length):
    """Yield only ``ranges`` (sorted, disjoint) of ``body``; multipart framed
    when ``boundary``. Stops reading once the last range is sent."""
    pos = 0
    index = 0
    iterator = iter(body)
    try:
        start, end = ranges[0]
        if boundary:
            yield conditional.part_head(boundary, ctype, start, end, length)
        for data in iterator:
            chunk_start = pos
            pos += len(data)
            while index < len(ranges):
                start, end = ranges[index]
                lo = max(start, chunk_start)
                hi = min(end, pos)
                if lo < hi:
                    yield data[lo - chunk_start:hi - chunk_start]
                if end <= pos:
                    index += 1
                    if boundary:
                        yield b"\r\n"
                        if index < len(ranges):
                            start, end = ranges[index]
                            yield conditional.part_head(boundary, ctype, start, end, length)
                    continue
                break
            if index >= len(ranges):
                break
        if boundary:
            yield conditional.closing(boundary)
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()
