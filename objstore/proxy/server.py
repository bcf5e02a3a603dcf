"""The proxy application: configuration, routing of ``/v1/...`` paths to the
account/container/object controllers, ``/info``, CORS, transaction ids, the
error limiter and the per-worker account/container info cache.

What the controllers do with a request is in controllers/; the middleware
pipeline in front of this app is built by pipeline.py. No access log here:
proxy_logging writes the one line per request.
"""

import dataclasses
import json
import os
import time

from objstore.common import hashing
from objstore.common.config import option, read_ini
from objstore.common.constraints import load_constraints
from objstore.common.exceptions import ObjstoreError
from objstore.common.log import get_txn_id, set_txn_id
from objstore.web.app import Request, Response, error_response, new_txn_id
from objstore.web.backend import ConnectionPool
from objstore.web.server import ServerConfig, server_main

VERSION = "0.1.0"
TRANS_ID_KEY = "objstore.trans_id"


@dataclasses.dataclass(frozen=True)
class ProxyServerConfig(ServerConfig):
    """The ``[proxy-server]`` section."""

    ring_dir: str = option("/etc/objstore", "where account.ring.gz, container.ring.gz, object.ring.gz live")
    conn_timeout: float = option(0.5, "seconds to connect to a storage node")
    node_timeout: float = option(10.0, "seconds to wait on any one read or write to a storage node")
    account_autocreate: bool = option(False, "create an account on its first use")
    allow_account_management: bool = option(False, "allow PUT and DELETE of accounts (reseller admins)")
    error_suppression_limit: int = option(10, "errors within error_suppression_interval that error-limit a node")
    error_suppression_interval: float = option(60.0, "seconds a node's errors are remembered (and it is avoided)")
    recheck_account_existence: float = option(5.0, "seconds account info is cached per worker")
    recheck_container_existence: float = option(5.0, "seconds container info is cached per worker")
    object_chunk_size: int = option(1048576, "bytes per read from a storage node")
    client_chunk_size: int = option(1048576, "bytes per read from a client")
    max_idle_connections: int = option(32, "idle keep-alive connections kept per storage node")
    post_quorum_timeout: float = option(0.5, "seconds a PUT waits for the other replicas' answers once a quorum succeeded")
    request_node_count: int = option(0, "nodes a read may ask (0: twice the replica count)")
    strict_cors_mode: bool = option(True, "only answer CORS for origins the container allows")
    cors_allow_origin: tuple[str, ...] = option((), "origins allowed by CORS on every container")
    expiring_objects_account_name: str = option(".expiring_objects", "account of the expirer's queue")
    expiring_objects_container_divisor: int = option(86400, "X-Delete-At is rounded down to this for the queue container")
    log_handoffs: bool = option(True, "log when a handoff node is used")


class ErrorLimiter:
    """Remembers node failures; a node with ``limit`` errors within
    ``interval`` seconds is skipped until its oldest error ages out."""

    def __init__(self, limit, interval, logger):
        self.limit = limit
        self.interval = interval
        self.logger = logger
        self._errors = {}  # node key -> [times]
        self._logged = {}

    @staticmethod
    def key(node):
        return "%s:%s/%s" % (node["ip"], node["port"], node["device"])

    def is_limited(self, node):
        key = self.key(node)
        times = self._errors.get(key)
        if not times:
            return False
        now = time.time()
        while times and times[0] < now - self.interval:
            times.pop(0)
        if len(times) >= self.limit:
            if self._logged.get(key, 0) < now - self.interval:
                self._logged[key] = now
                self.logger.warning("Node error limited %s (%d errors in %ds)", key, len(times), self.interval)
            return True
        return False

    def error(self, node, message):
        key = self.key(node)
        times = self._errors.setdefault(key, [])
        times.append(time.time())
        self.logger.error("ERROR %s: %s", key, message)

    def limit_now(self, node, message):
        """A node that says it cannot serve (507): avoid it right away."""
        key = self.key(node)
        now = time.time()
        self._errors[key] = [now] * self.limit
        self.logger.error("ERROR %s: %s; error limiting it", key, message)


class InfoCache:
    """Account and container info per worker, for a short time."""

    def __init__(self):
        self._data = {}

    def get(self, key):
        entry = self._data.get(key)
        if entry is None:
            return None
        if entry[0] < time.monotonic():
            self._data.pop(key, None)
            return None
        return entry[1]

    def set(self, key, value, ttl):
        if ttl > 0:
            if len(self._data) > 100000:
                self._data.clear()
            self._data[key] = (time.monotonic() + ttl, value)

    def invalidate(self, key):
        self._data.pop(key, None)


class ProxyApp:
    """The Swift v1 API over the rings.

    :param config: ProxyServerConfig.
    :param logger: where errors go (access lines are proxy_logging's).
    :param account_ring, container_ring, object_ring: ``Ring`` objects.
    :param constraints: objstore.common.constraints.Constraints.
    :param pool: a ConnectionPool (one made from the config when None).
    """

    def __init__(self, config, logger, account_ring, container_ring, object_ring, constraints, pool=None):
        from objstore.proxy.controllers.account import AccountController
        from objstore.proxy.controllers.container import ContainerController
        from objstore.proxy.controllers.obj import ObjectController

        self.config = config
        self.logger = logger
        self.account_ring = account_ring
        self.container_ring = container_ring
        self.object_ring = object_ring
        self.constraints = constraints
        self.pool = pool or ConnectionPool(config.conn_timeout, config.node_timeout, config.max_idle_connections)
        self.error_limiter = ErrorLimiter(config.error_suppression_limit, config.error_suppression_interval, logger)
        self.info_cache = InfoCache()
        self.capabilities = {
            "swift": dict(constraints.as_info(), version=VERSION, strict_cors_mode=config.strict_cors_mode,
                          policies=[{"name": "Policy-0", "default": True, "aliases": "Policy-0"}],
                          allow_account_management=config.allow_account_management,
                          account_autocreate=config.account_autocreate),
        }
        self.controllers = (AccountController(self), ContainerController(self), ObjectController(self))

    def register_capability(self, name, info):
        """Middleware announce what they add to ``/info``."""
        self.capabilities[name] = info

    def __call__(self, environ, start_response):
        req = Request(environ)
        txn_id = environ.get(TRANS_ID_KEY)
        if not txn_id:
            txn_id = environ[TRANS_ID_KEY] = new_txn_id()
            set_txn_id(txn_id)
        elif get_txn_id() != txn_id:
            set_txn_id(txn_id)
        try:
            resp = self.handle(req)
        except ObjstoreError as err:
            resp = error_response(err.status, str(err) or None)
        except UnicodeDecodeError:
            resp = error_response(412, "Invalid UTF8 or contains NULL")
        except Exception:  # the WSGI boundary: log it with the transaction id
            self.logger.exception("ERROR unhandled exception in %s %s", req.method, req.path_qs)
            resp = error_response(500, "An error occurred")
        headers = resp.headers
        headers["X-Trans-Id"] = txn_id
        headers["X-Openstack-Request-Id"] = txn_id
        origin = req.headers.get("Origin")
        if origin and req.method != "OPTIONS" and "Access-Control-Allow-Origin" not in headers:
            self._cors_response_headers(req, resp, origin)
        return resp(environ, start_response)

    def handle(self, req):
        path = req.path_info
        if path == "/info" or path == "/info/":
            return self.info(req)
        parts = parse_path(path)
        if parts is None or parts[0] not in self.constraints.valid_api_versions:
            return error_response(404)
        _version, account, container, obj = parts
        controller = self.controllers[2 if obj is not None else 1 if container is not None else 0]
        if req.method == "OPTIONS":
            return self.options(req, account, container, obj, controller)
        handler = controller.handlers.get(req.method)
        if handler is None:
            return error_response(405, headers={"Allow": ", ".join(sorted(controller.handlers))})
        return handler(req, account, container, obj)

    def info(self, req):
        if req.method not in ("GET", "HEAD", "OPTIONS"):
            return error_response(405, headers={"Allow": "GET, HEAD, OPTIONS"})
        resp = Response(status=200, content_type="application/json", charset="utf-8")
        body = json.dumps(self.capabilities, sort_keys=True).encode("utf-8")
        if req.method == "HEAD":
            resp.content_length = len(body)
        else:
            resp.body = body
        if req.method == "OPTIONS":
            resp.headers["Allow"] = "GET, HEAD, OPTIONS"
        resp.headers["Access-Control-Allow-Origin"] = "*"
        return resp

    # --- CORS ----------------------------------------------------------------
    def _allowed_origins(self, cors):
        allowed = set(self.config.cors_allow_origin)
        allowed.update((cors.get("allow_origin") or "").split())
        return allowed

    def options(self, req, account, container, obj, controller):
        """OPTIONS: the allowed verbs, or a CORS preflight answer."""
        allow = ", ".join(sorted(set(controller.handlers) | {"OPTIONS"}))
        origin = req.headers.get("Origin")
        if not origin:
            resp = Response(status=200, headers={"Allow": allow})
            return resp
        wanted = req.headers.get("Access-Control-Request-Method")
        if not wanted or wanted not in controller.handlers:
            return error_response(401, headers={"Allow": allow})
        cors = {}
        if container is not None:
            info = controller.container_info(account, container, req, fresh=True)
            cors = info.get("cors", {}) if info else {}
        allowed = self._allowed_origins(cors)
        if not ("*" in allowed or origin in allowed):
            return error_response(401, headers={"Allow": allow})
        headers = {
            "Allow": allow,
            "Access-Control-Allow-Origin": "*" if "*" in allowed and not req.headers.get("Cookie") else origin,
            "Access-Control-Allow-Methods": allow,
            "Access-Control-Max-Age": cors.get("max_age") or "86400",
        }
        allow_headers = cors.get("allow_headers") or req.headers.get("Access-Control-Request-Headers")
        if allow_headers:
            headers["Access-Control-Allow-Headers"] = allow_headers
        return Response(status=200, headers=headers)

    def _cors_response_headers(self, req, resp, origin):
        parts = parse_path(req.path_info)
        if parts is None or parts[2] is None or resp.status_int == 401:
            return
        try:
            info = self.controllers[1].container_info(parts[1], parts[2], req)
        except ObjstoreError:
            return
        cors = info.get("cors", {}) if info else {}
        allowed = self._allowed_origins(cors)
        if "*" not in allowed and origin not in allowed:
            return
        resp.headers["Access-Control-Allow-Origin"] = "*" if "*" in allowed else origin
        expose = ["cache-control", "content-language", "content-type", "expires", "last-modified",
                  "pragma", "etag", "x-timestamp", "x-trans-id", "x-openstack-request-id"]
        expose.extend(key.lower() for key in resp.headers if key.lower().startswith(("x-container-meta-", "x-object-meta-")))
        extra = cors.get("expose_headers")
        if extra:
            expose.extend(extra.split())
        resp.headers["Access-Control-Expose-Headers"] = ", ".join(expose)


def parse_path(path):
    """``/v1/a[/c[/o]]`` into ``(version, account, container, obj)`` (None
    for absent parts); a trailing slash after the account or container is
    ignored; object names keep every further slash. None when malformed."""
    if not path.startswith("/"):
        return None
    segs = path[1:].split("/", 3)
    segs += [None] * (4 - len(segs))
    version, account, container, obj = segs
    if obj == "":
        obj = None
    if container == "" and obj is None:
        container = None
    if not version or not account or (obj is not None and not container):
        return None
    return version, account, container, obj


def load_ring(ring_dir, kind):
    """The ``<kind>.ring.gz`` Ring under ``ring_dir``."""
    try:
        from objstore.ring.ring import Ring
    except ImportError:  # the ring package may export it at the top
        from objstore.ring import Ring
    return Ring(os.path.join(ring_dir, "%s.ring.gz" % kind))


def app_factory(conf_path, config, logger):
    """The proxy app wrapped in the pipeline its config declares."""
    from objstore.proxy.pipeline import build_pipeline

    sections = read_ini(conf_path)
    constraints = load_constraints(hashing.conf_path())
    app = ProxyApp(
        config,
        logger,
        load_ring(config.ring_dir, "account"),
        load_ring(config.ring_dir, "container"),
        load_ring(config.ring_dir, "object"),
        constraints,
    )
    return build_pipeline(sections, conf_path, app, logger)


def main(argv=None):
    return server_main("proxy-server", ProxyServerConfig, app_factory, argv)


if __name__ == "__main__":
    import sys

    sys.exit(main())
