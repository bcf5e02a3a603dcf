"""What the account, container and object controllers share.

- Node order: primaries (skipping error-limited ones), then handoffs from
  ``ring.get_more_nodes``, up to ``request_node_count``.
- Reads: ask nodes in that order until one has a good answer
  (quorum.read_class); a tombstone seen on one node beats older data found
  on a later one; with no good answer quorum.read_failure_status decides
  404 vs 503. ``X-Newest`` asks every primary and takes the newest.
- Writes: every replica at once (greenthreads), a handoff standing in for
  each primary that cannot answer; quorum.best_status decides.
- Account/container info: a HEAD, cached per worker (InfoCache) and
  invalidated by this proxy's own writes.

The object PUT/GET streaming lives in obj.py/putter.py; listings in
listing.py.
"""

import functools
import time

from objstore.common import green
from objstore.common.exceptions import BackendError, InvalidTimestamp, ServiceUnavailable
from objstore.common.timestamp import Timestamp
from objstore.proxy import quorum
from objstore.web.app import Response, error_response
from objstore.web.backend import quote_path

# never passed from a backend response to the client
HIDDEN_RESPONSE_HEADERS = frozenset((
    "connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
    "server", "date", "content-length", "x-trans-id", "x-openstack-request-id",
))
HIDDEN_PREFIXES = ("x-backend-", "x-object-sysmeta-", "x-container-sysmeta-", "x-account-sysmeta-")
_BAD_STAMP = (InvalidTimestamp, ValueError)
OWNER_ONLY_HEADERS = frozenset(("x-container-read", "x-container-write", "x-container-sync-key",
                                "x-container-sync-to", "x-account-access-control",
                                "x-account-meta-temp-url-key", "x-account-meta-temp-url-key-2",
                                "x-container-meta-temp-url-key", "x-container-meta-temp-url-key-2"))


def client_headers(backend_headers, owner=True):
    """Backend response headers as the client should see them (Title-Case)."""
    result = {}
    for key, value in backend_headers.items():
        if key in HIDDEN_RESPONSE_HEADERS or key.startswith(HIDDEN_PREFIXES):
            continue
        if not owner and key in OWNER_ONLY_HEADERS:
            continue
        result[key.title()] = value
    return result


def translate_removals(headers, kind):
    """``X-Remove-<Kind>-Meta-Foo`` becomes ``X-<Kind>-Meta-Foo: ''`` (and
    X-Remove-Container-Read/Write likewise), as the backends delete empty
    metadata. Returns a new dict of the headers to send."""
    prefix = "x-remove-%s-" % kind
    out = {}
    for key, value in headers.items():
        low = key.lower()
        if low.startswith(prefix):
            out["x-%s-%s" % (kind, low[len(prefix):])] = ""
    return out


def timestamp_of(headers):
    """The backend timestamp of a response's headers, or None."""
    value = headers.get("x-backend-timestamp") or headers.get("x-timestamp")
    if not value:
        return None
    try:
        return Timestamp(value)
    except _BAD_STAMP:
        return None


def gather(calls, decided, grace, failed):
    """Run each of ``calls`` (no-argument callables) in its own greenthread
    and return their results in the order they come, stopping ``grace``
    seconds after ``decided(results so far)`` first holds: the rest finish in
    the background, left out (the proxy's post_quorum_timeout). A call that
    raises gives ``failed``.
    """
    answers = green.Queue()

    def one(call):
        result = failed
        try:
            result = call()
        finally:  # whatever happens, the waiting request gets an answer
            answers.put(result)

    for call in calls:
        green.spawn_n(one, call)
    results = []
    deadline = None
    while len(results) < len(calls):
        try:
            if deadline is None:
                result = answers.get()
            else:
                result = answers.get(timeout=max(0.0, deadline - time.monotonic()))
        except green.Empty:
            break
        results.append(result)
        if deadline is None and decided(results):
            deadline = time.monotonic() + grace
    return results


class Controller:
    """Base of the three controllers; ``handlers`` maps verbs to methods
    taking ``(req, account, container, obj)``."""

    server_type = "Base"

    def __init__(self, app):
        self.app = app
        self.handlers = {}

    # --- plumbing -------------------------------------------------------------
    @property
    def pool(self):
        return self.app.pool

    def iter_nodes(self, ring, part, primaries):
        """Yield ``(node, is_primary)``: usable primaries, then handoffs."""
        limiter = self.app.error_limiter
        count = self.app.config.request_node_count or 2 * len(primaries)
        given = 0
        for node in primaries:
            if limiter.is_limited(node):
                continue
            given += 1
            yield node, True
        handoffs = 0
        for node in ring.get_more_nodes(part):
            if given >= count:
                return
            if limiter.is_limited(node):
                continue
            given += 1
            handoffs += 1
            if self.app.config.log_handoffs:
                self.app.logger.debug("Handoff requested (%d) %s:%s/%s", handoffs, node["ip"], node["port"], node["device"])
            yield node, False

    def backend_headers(self, req, extra=None):
        """Headers every backend request carries."""
        headers = {
            "X-Trans-Id": req.environ.get("objstore.trans_id", "-"),
            "User-Agent": "objstore-proxy-server",
            "Connection": "keep-alive",
        }
        if extra:
            headers.update(extra)
        return headers

    def authorize(self, req, account=None, container=None):
        """Ask the auth middleware (if any) whether ``req`` may proceed.

        The auth asks for the container's info only when the ACLs matter (a
        non-owner); that info is then read afresh, not from the per-worker
        cache, so an ACL change made through another worker applies at once.

        :returns: None, or the error Response to answer with.
        """
        auth = req.environ.get("objstore.authorize")
        if auth is None:
            return None
        if container is None:
            return auth(req, None)
        return auth(req, lambda: self.container_info(account, container, req, fresh=True))

    def is_owner(self, req):
        return req.environ.get("objstore.owner", "objstore.authorize" not in req.environ)

    def node_error(self, node, message):
        self.app.error_limiter.error(node, message)

    # --- reads ----------------------------------------------------------------
    def read_listing(self, req, resp, node):
        """The whole answer of an account or container GET/HEAD found by :meth:`read`.

        :returns: ``(status, client headers, body)`` (``b""`` for HEAD), or
            None when the node failed mid-body (logged, error-limited; the
            caller answers 503).
        """
        try:
            body = resp.read_all() if req.method == "GET" else b""
            resp.release()
        except BackendError as err:
            resp.close()
            self.node_error(node, str(err))
            return None
        return resp.status, client_headers(resp.headers, self.is_owner(req)), body

    def read(self, req, ring, part, primaries, method, path, headers, newest=False, kind=None):
        """Find a good answer for a GET or HEAD.

        :param path: the backend path after ``/<device>/<part>`` (quoted).
        :param kind: ``Account``, ``Container`` or ``Object`` (default: this
            controller's); tombstones only decide for objects.
        :returns: ``(resp, node, node_iter, status)``: resp is a
            StreamResponse (body unread; the caller releases or closes it)
            or None, then ``status`` says 404 or 503.
        """
        node_iter = self.iter_nodes(ring, part, primaries)
        answers = []
        tombstone = None
        candidates = []
        kind = kind or self.server_type
        is_object = kind == "Object"
        primaries_404 = 0
        for node, primary in node_iter:
            if not primary and (newest and candidates or primaries_404 == len(primaries)):
                break  # every primary said 404: handoffs would only be asked for data that missed them all
            full_path = "/%s/%s%s" % (quote_path(node["device"])[1:], part, path)
            try:
                resp = self.pool.stream(node["ip"], node["port"], method, full_path, headers)
            except BackendError as err:
                self.node_error(node, "%s %s: %s" % (method, kind, err))
                answers.append((503, primary, False))
                continue
            cls = quorum.read_class(resp.status)
            if cls == "source" or cls == "final":
                stamp = timestamp_of(resp.headers) if (is_object or newest) else None
                if is_object and tombstone is not None and stamp is not None and stamp < tombstone:
                    resp.close()
                    answers.append((404, primary, True))
                    continue
                if not newest or cls == "final":
                    self._close_all(candidates)
                    return resp, node, node_iter, resp.status
                candidates.append((stamp, (resp, node)))
                continue
            if cls == "not_found":
                stamp = resp.headers.get("x-backend-timestamp")
                if stamp and is_object:
                    try:
                        ts = Timestamp(stamp)
                        if tombstone is None or ts > tombstone:
                            tombstone = ts
                    except _BAD_STAMP:
                        pass
                self._drain(resp)
                answers.append((404, primary, bool(stamp)))
                primaries_404 += primary
                continue
            # an error answer
            if resp.status == 507:
                self.app.error_limiter.limit_now(node, "%s said 507" % kind)
            else:
                self.node_error(node, "%s %s answered %s" % (method, kind, resp.status))
            resp.close()
            answers.append((503, primary, False))
        if candidates:
            best = quorum.newest(candidates)
            for _stamp, (resp, _node) in candidates:
                if resp is not best[0]:
                    resp.close()
            if is_object and tombstone is not None:
                stamp = timestamp_of(best[0].headers)
                if stamp is not None and stamp < tombstone:
                    best[0].close()
                    return None, None, node_iter, 404
            return best[0], best[1], node_iter, best[0].status
        return None, None, node_iter, quorum.read_failure_status(answers, len(primaries))

    @staticmethod
    def _drain(resp):
        try:
            resp.read_all(limit=65536)
            resp.release()
        except BackendError:
            resp.close()

    @staticmethod
    def _close_all(candidates):
        for _stamp, (resp, _node) in candidates:
            resp.close()

    # --- writes ---------------------------------------------------------------
    def write_all(self, ring, part, primaries, method, path, headers_list, body=None, grace=None):
        """Send one write to every replica at once; handoffs replace failed primaries.

        :param headers_list: one headers dict per primary (index-aligned).
        :param grace: when given, stop waiting ``grace`` seconds after a
            quorum of the answers share a class (2xx, 3xx or 4xx: the
            outcome can no longer change); a slow last replica then finishes
            in the background, left out of the result (as PUT's
            post_quorum_timeout).
        :returns: ``[(status, headers, body)]``, one per primary that
            answered in time (503 when no node could answer for it); in
            primary order when ``grace`` is None, else in answer order.
        """
        handoffs = iter(self._handoffs(ring, part))
        if grace is None:
            pile = green.GreenPile(len(primaries))
            for node, headers in zip(primaries, headers_list):
                pile.spawn(self._write_one, node, handoffs, part, method, path, headers, body)
            return list(pile)
        replicas = len(primaries)
        calls = [functools.partial(self._write_one, node, handoffs, part, method, path, headers, body)
                 for node, headers in zip(primaries, headers_list)]
        # decided once a quorum shares a class: the outcome can no longer change
        return gather(calls, lambda results: quorum.best_status([r[0] for r in results], replicas) != 503,
                      grace, (503, {}, b""))

    def _handoffs(self, ring, part):
        limiter = self.app.error_limiter
        for node in ring.get_more_nodes(part):
            if not limiter.is_limited(node):
                yield node

    def _write_one(self, node, handoffs, part, method, path, headers, body):
        tried_handoff = False
        while node is not None:
            if not self.app.error_limiter.is_limited(node):
                full_path = "/%s/%s%s" % (quote_path(node["device"])[1:], part, path)
                try:
                    resp = self.pool.stream(node["ip"], node["port"], method, full_path, headers, body=body)
                    data = resp.read_all(limit=1 << 20)
                    resp.release()
                except BackendError as err:
                    self.node_error(node, "%s %s: %s" % (method, self.server_type, err))
                else:
                    if resp.status < 500:
                        return resp.status, resp.headers, data
                    if resp.status == 507:
                        self.app.error_limiter.limit_now(node, "%s said 507" % self.server_type)
                    else:
                        self.node_error(node, "%s %s answered %s" % (method, self.server_type, resp.status))
            node = next(handoffs, None)
            if node is not None and not tried_handoff and self.app.config.log_handoffs:
                tried_handoff = True
                self.app.logger.info("Handoff used for %s %s: %s:%s/%s", method, path, node["ip"], node["port"], node["device"])
        return 503, {}, b""

    def write_response(self, results, replicas, success_body=None):
        """A client Response from write_all's results."""
        statuses = [status for status, _headers, _body in results]
        status = quorum.best_status(statuses, replicas)
        if status >= 500:
            self.app.logger.error("%s write failed: statuses %s", self.server_type, statuses)
            return error_response(503)
        if status >= 400:
            return error_response(status)
        resp = Response(status=status)
        if status == 204:
            resp.content_type = None
        else:
            resp.body = success_body if success_body is not None else b""
        return resp

    # --- account / container info ---------------------------------------------
    def account_info(self, req, account):
        """``{"status", "container_count", "object_count", "bytes", "meta"}`` or None for 404.

        :raises ServiceUnavailable: no answer could be trusted.
        """
        key = ("account", account)
        info = self.app.info_cache.get(key)
        if info is not None:
            return info
        ring = self.app.account_ring
        part, nodes = ring.get_nodes(account)
        resp, _node, _iter, status = self.read(req, ring, part, nodes, "HEAD", quote_path(account),
                                               self.backend_headers(req), kind="Account")
        if resp is None:
            if status == 404:
                return None
            raise ServiceUnavailable("Account info unavailable")
        resp.release()
        if resp.status >= 300:
            return None
        headers = resp.headers
        info = {
            "status": resp.status,
            "container_count": _int(headers.get("x-account-container-count")),
            "object_count": _int(headers.get("x-account-object-count")),
            "bytes": _int(headers.get("x-account-bytes-used")),
            "meta": {k[len("x-account-meta-"):]: v for k, v in headers.items() if k.startswith("x-account-meta-")},
        }
        self.app.info_cache.set(key, info, self.app.config.recheck_account_existence)
        return info

    def container_info(self, account, container, req=None, fresh=False):
        """Container existence, ACLs, CORS and counts, or None for 404.

        :returns: ``{"status", "object_count", "bytes", "read_acl",
            "write_acl", "meta", "cors": {allow_origin, allow_headers,
            expose_headers, max_age}}`` or None.
        :raises ServiceUnavailable: no answer could be trusted.
        """
        key = ("container", account, container)
        info = None if fresh else self.app.info_cache.get(key)
        if info is not None:
            return info
        ring = self.app.container_ring
        part, nodes = ring.get_nodes(account, container)
        headers = self.backend_headers(req) if req is not None else {"User-Agent": "objstore-proxy-server"}
        resp, _node, _iter, status = self.read(req, ring, part, nodes, "HEAD",
                                               quote_path(account, container), headers, kind="Container")
        if resp is None:
            if status == 404:
                return None
            raise ServiceUnavailable("Container info unavailable")
        resp.release()
        if resp.status >= 300:
            return None
        headers = resp.headers
        meta = {k[len("x-container-meta-"):]: v for k, v in headers.items() if k.startswith("x-container-meta-")}
        info = {
            "status": resp.status,
            "object_count": _int(headers.get("x-container-object-count")),
            "bytes": _int(headers.get("x-container-bytes-used")),
            "read_acl": headers.get("x-container-read", ""),
            "write_acl": headers.get("x-container-write", ""),
            "meta": meta,
            "cors": {
                "allow_origin": meta.get("access-control-allow-origin", ""),
                "allow_headers": meta.get("access-control-allow-headers", ""),
                "expose_headers": meta.get("access-control-expose-headers", ""),
                "max_age": meta.get("access-control-max-age", ""),
            },
        }
        self.app.info_cache.set(key, info, self.app.config.recheck_container_existence)
        return info

    def autocreate_account(self, req, account):
        """Create ``account`` on every replica (account_autocreate).

        :returns: True when a quorum created it (or it existed).
        """
        ring = self.app.account_ring
        part, nodes = ring.get_nodes(account)
        headers = self.backend_headers(req, {"X-Timestamp": Timestamp.now().internal})
        results = self.write_all(ring, part, nodes, "PUT", quote_path(account), [headers] * len(nodes))
        self.app.info_cache.invalidate(("account", account))
        status = quorum.best_status([r[0] for r in results], len(nodes))
        return 200 <= status < 300


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
