"""WSGI application plumbing: Request/Response types, a route table per verb,
exceptions mapped to responses in one place, transaction ids and the access
log line. No sockets here; server.py runs apps, backend.py talks to them.
"""

import time
import uuid

import webob
import webob.exc

from objstore.common.exceptions import ObjstoreError
from objstore.common.log import set_txn_id

# The reason phrase webob lacks for our 499 (client went away) access-log status.
webob.util.status_reasons.setdefault(499, "Client Disconnect")
webob.util.status_reasons.setdefault(507, "Insufficient Storage")


class Request(webob.Request):
    """A webob request; ``swift_path`` splits the path into its parts."""

    def split_path(self, minsegs=1, maxsegs=None, rest_with_last=False):
        """Split the (unquoted) path into segments, Swift style.

        :returns: a list of ``maxsegs`` items padded with None.
        :raises ObjstoreError(400): too few or too many segments, or empty
            ones in the middle.
        """
        return split_path(self.path_info, minsegs, maxsegs or minsegs, rest_with_last)


class Response(webob.Response):
    default_content_type = "text/plain"
    default_charset = "utf-8"


def split_path(path, minsegs=1, maxsegs=None, rest_with_last=False):
    """Split ``/a/b/c`` into ``['a', 'b', 'c']`` with validation.

    With ``rest_with_last`` the last segment keeps any further slashes (object
    names may contain ``/``).
    """
    from objstore.common.exceptions import BadRequest

    maxsegs = maxsegs or minsegs
    if not path.startswith("/"):
        raise BadRequest("Invalid path: %s" % path)
    if rest_with_last:
        segs = path[1:].split("/", maxsegs - 1)
    else:
        segs = path[1:].split("/")
    count = len(segs)
    # trailing empty segment allowed only when it would be beyond minsegs
    if segs and segs[-1] == "" and count > minsegs and not rest_with_last:
        segs = segs[:-1]
        count -= 1
    if count < minsegs or count > maxsegs or "" in segs[:minsegs]:
        raise BadRequest("Invalid path: %s" % path)
    for seg in segs[minsegs:]:
        if seg == "" and not rest_with_last:
            raise BadRequest("Invalid path: %s" % path)
    if rest_with_last and count == maxsegs and segs[-1] == "" and count > minsegs:
        raise BadRequest("Invalid path: %s" % path)
    segs += [None] * (maxsegs - count)
    return segs


def meta_text(headers):
    """Header values as text for the metadata limits.

    WSGI hands header values over as latin-1 decoded bytes, so a UTF-8 value
    would count each byte twice against ``max_meta_value_length``. Metadata
    headers are turned back into the text the client sent (values that are not
    UTF-8 are left as they are). Returns a new dict.
    """
    result = {}
    for key, value in headers.items():
        if key[:2].lower() == "x-" and "-meta-" in key.lower():
            try:
                value = value.encode("latin-1").decode("utf-8")
            except (UnicodeEncodeError, UnicodeDecodeError):
                pass
        result[key] = value
    return result


def accept_qualities(accept):
    """``[(media type, q)]`` from an Accept header, in order (RFC 7231 5.3.2).

    Media types are lower-cased; a missing ``q`` is 1.0 and a malformed one 0.0.
    """
    result = []
    for item in accept.split(","):
        media, _, params = item.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        result.append((media.strip().lower(), quality))
    return result


def new_txn_id(suffix=""):
    """A transaction id: ``tx`` + 21 hex + ``-`` + hex time, as clients expect."""
    return "tx%s-%010x%s" % (uuid.uuid4().hex[:21], int(time.time()), suffix)


def error_response(status, body=None, headers=None):
    """A plain-text error response with a short reason."""
    resp = Response(status=status)
    if headers:
        resp.headers.update(headers)
    if body is None:
        body = resp.status.split(" ", 1)[-1]
    if isinstance(body, str):
        body = body.encode("utf-8")
    if body and not body.endswith(b"\n"):
        body += b"\n"
    resp.body = body
    resp.content_type = "text/plain"
    return resp


class BaseApp:
    """A WSGI app with one handler per verb.

    Subclasses set ``server_name`` and fill ``self.routes`` with
    ``{verb: callable(request) -> Response}``. Any ObjstoreError raised by a
    handler becomes a response with its ``status``; anything else is logged
    with its traceback and the transaction id, and becomes a 500.
    """

    server_name = "server"

    def __init__(self, logger, access_log=True):
        self.logger = logger
        self.access_log = access_log
        self.routes = {}

    def handle(self, req):
        handler = self.routes.get(req.method)
        if handler is None:
            return error_response(405, headers={"Allow": ", ".join(sorted(self.routes))})
        return handler(req)

    def __call__(self, environ, start_response):
        start = time.time()
        req = Request(environ)
        txn_id = req.headers.get("X-Trans-Id") or new_txn_id()
        set_txn_id(txn_id)
        try:
            resp = self.handle(req)
        except ObjstoreError as err:
            resp = error_response(err.status, str(err) or None)
        except Exception:  # the WSGI boundary: one of the two catch-alls
            self.logger.exception("ERROR unhandled exception in %s %s", req.method, req.path)
            resp = error_response(500, "An error occurred")
        resp.headers["X-Trans-Id"] = txn_id
        if self.access_log:
            return _LoggedBody(self, req, resp, start, txn_id)(environ, start_response)
        return resp(environ, start_response)

    def log_access(self, req, status, sent, start, txn_id):
        environ = req.environ
        path = environ.get("RAW_PATH_INFO")  # as the client sent it (eventlet), quoted
        if path is None:
            path = req.path  # quoted by webob (slower: a fifth of the line's cost)
        query = environ.get("QUERY_STRING")
        self.logger.info(
            '%s "%s %s" %s %s %.4f',
            environ.get("REMOTE_ADDR") or "-",
            environ["REQUEST_METHOD"],
            path + "?" + query if query else path,
            status,
            sent,
            time.time() - start,
        )


class _LoggedBody:
    """Wraps a response so the access line is written once its body is sent."""

    __slots__ = ("app", "req", "resp", "start", "txn_id", "sent", "status", "iterable")

    def __init__(self, app, req, resp, start, txn_id):
        self.app = app
        self.req = req
        self.resp = resp
        self.start = start
        self.txn_id = txn_id
        self.sent = 0
        self.status = resp.status_int
        self.iterable = None

    def __call__(self, environ, start_response):
        self.iterable = self.resp(environ, start_response)
        return self

    def __iter__(self):
        try:
            for chunk in self.iterable:
                self.sent += len(chunk)
                yield chunk
        except ObjstoreError as err:
            self.status = err.status
            raise
        except GeneratorExit:
            self.status = 499 if self.sent < (self.resp.content_length or 0) else self.status
            raise

    def close(self):
        try:
            close = getattr(self.iterable, "close", None)
            if close is not None:
                close()
        finally:
            self.app.log_access(self.req, self.status, self.sent, self.start, self.txn_id)
