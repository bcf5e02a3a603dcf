"""``objstore-compute-api``: the compute companion's HTTP API, JSON over the
objstore WSGI base (objstore.web), wrapping the same :class:`Compute` as the
CLI.

Authentication: the caller sends the object store's ``X-Auth-Token`` and the
``X-Storage-Url`` it got with it; the URL must lie under the configured
``objstore_url`` + ``/v1/`` (so this service never sends a token elsewhere),
and the token is accepted when a HEAD of that storage URL with it succeeds
(cached for ``token_cache_seconds``). The account in the URL owns the
instances created with it.

Routes (status codes as Nova's: actions are 202, deletes 204):
  GET  /v1/flavors[/NAME]
  GET  /v1/images[/ID]      POST /v1/images?name=&disk_format=&kernel_id=&ramdisk_id=&cmdline=  (body = file)
  DELETE /v1/images/ID
  GET  /v1/servers[/ID]     POST /v1/servers {"server": {"name", "flavor", "image", "metadata"}}
  DELETE /v1/servers/ID
  POST /v1/servers/ID/action {"os-stop"|"os-start"|"pause"|"unpause"|"suspend"|"resume": null,
                              "reboot": {"type": "SOFT"|"HARD"}, "createImage": {"name"},
                              "os-getConsoleOutput": {"length": N}}
  GET|POST /v1/servers/ID/metadata   PUT|DELETE /v1/servers/ID/metadata/KEY
Errors are ``{"error": {"code", "message"}}``: 400 bad input, 401 no or bad
token, 404 unknown flavor/image/server, 409 not allowed in the current state.
"""

import json
import os
import tempfile
import time

from objstore.client.connection import Connection
from objstore.common import green
from objstore.common.config import read_ini, section_from
from objstore.common.exceptions import (
    BadRequest,
    ClientError,
    ConfigError,
    NotFound,
    ObjstoreError,
    ServiceUnavailable,
    Unauthorized,
)
from objstore.compute import config as compute_config
from objstore.compute.images import ImageStore
from objstore.compute.manager import Compute, Host, account_of
from objstore.web.app import BaseApp, Response
from objstore.web.server import server_main

CHUNK = 65536
MAX_JSON = 1 << 20


def _json(status, obj=None):
    resp = Response(status=status)
    if obj is not None:
        resp.body = json.dumps(obj, sort_keys=True).encode("utf-8")
        resp.content_type = "application/json"
        resp.charset = None
    return resp


def error_body(err):
    message = str(err).splitlines()[0] if str(err) else type(err).__name__
    return {"error": {"code": err.status, "message": message}}


class TokenValidator:
    """Accepts object store tokens by asking the object store (HEAD account).

    :param objstore_url: storage URLs must start with ``<this>/v1/``.
    :param cache_seconds: how long an accepted (token, URL) is trusted.
    :param clock: ``time.monotonic`` unless a test hands another.
    """

    def __init__(self, objstore_url, cache_seconds=30.0, timeout=10.0, clock=time.monotonic):
        self.prefix = objstore_url.rstrip("/") + "/v1/"
        self.cache_seconds = cache_seconds
        self.timeout = timeout
        self.clock = clock
        self._ok = {}

    def check(self, token, storage_url):
        """:returns: the account (owner). :raises Unauthorized, ServiceUnavailable:"""
        if not token:
            raise Unauthorized("X-Auth-Token is required")
        if not storage_url:
            raise Unauthorized("X-Storage-Url is required (the one your token came with)")
        if not storage_url.startswith(self.prefix) or len(storage_url) == len(self.prefix):
            raise Unauthorized("X-Storage-Url is not an account of %s" % self.prefix[:-4])
        key = (token, storage_url)
        now = self.clock()
        if self._ok.get(key, 0) > now:
            return account_of(storage_url)
        conn = Connection(storage_url=storage_url, token=token, timeout=self.timeout)
        try:
            conn.head_account()
        except ClientError as err:
            if err.http_status in (401, 403):
                raise Unauthorized("the object store refused the token") from None
            raise ServiceUnavailable("cannot validate the token: %s" % err) from None
        finally:
            conn.close()
        if len(self._ok) > 10000:
            self._ok.clear()
        self._ok[key] = now + self.cache_seconds
        return account_of(storage_url)


class ComputeApiApp(BaseApp):
    """The WSGI app. ``host`` is the shared :class:`Host`."""

    server_name = "compute-api"

    def __init__(self, host, validator, logger, access_log=True):
        super().__init__(logger, access_log)
        self.host = host
        self.validator = validator
        self.routes = {verb: self._route for verb in ("GET", "HEAD", "POST", "PUT", "DELETE")}

    def handle(self, req):
        try:
            return self._route(req)
        except ObjstoreError as err:
            return _json(err.status, error_body(err))

    def _compute(self, req):
        token = req.headers.get("X-Auth-Token")
        storage_url = req.headers.get("X-Storage-Url")
        owner = self.validator.check(token, storage_url)
        conn = Connection(storage_url=storage_url, token=token, timeout=self.host.config.objstore_timeout)
        return Compute(self.host, ImageStore(conn, self.host.config.image_container), owner)

    def _route(self, req):
        parts = [p for p in req.path_info.split("/") if p]
        if not parts or parts[0] != "v1":
            raise NotFound("no such resource: %s" % req.path_info)
        if len(parts) == 1:
            return _json(200, {"versions": [{"id": "v1", "status": "CURRENT"}]})
        compute = self._compute(req)
        kind, rest = parts[1], parts[2:]
        handler = {"flavors": self._flavors, "images": self._images, "servers": self._servers}.get(kind)
        if handler is None:
            raise NotFound("no such resource: %s" % req.path_info)
        try:
            return handler(req, compute, rest)
        finally:
            compute.close()

    @staticmethod
    def _body(req):
        if (req.content_length or 0) > MAX_JSON:
            raise BadRequest("JSON body too large")
        try:
            data = json.loads(req.body or b"{}")
        except ValueError:
            raise BadRequest("the body is not valid JSON") from None
        if not isinstance(data, dict):
            raise BadRequest("the body must be a JSON object")
        return data

    @staticmethod
    def _method_not_allowed(req):
        raise ObjstoreError("%s not allowed here" % req.method, status=405)

    # --- flavors -----------------------------------------------------------------
    def _flavors(self, req, compute, rest):
        if req.method not in ("GET", "HEAD") or len(rest) > 1:
            self._method_not_allowed(req)
        if rest:
            return _json(200, {"flavor": compute.flavor_show(rest[0])})
        return _json(200, {"flavors": compute.flavor_list()})

    # --- images ------------------------------------------------------------------
    def _images(self, req, compute, rest):
        if not rest:
            if req.method in ("GET", "HEAD"):
                return _json(200, {"images": compute.image_list()})
            if req.method == "POST":
                return _json(201, {"image": self._upload(req, compute)})
        elif len(rest) == 1:
            if req.method in ("GET", "HEAD"):
                return _json(200, {"image": compute.image_show(rest[0])})
            if req.method == "DELETE":
                compute.image_delete(rest[0])
                return _json(204)
        self._method_not_allowed(req)

    def _upload(self, req, compute):
        params = req.GET  # not req.params: that would parse the image body as a form
        fmt = params.get("disk_format") or None
        name = params.get("name", "")
        kwargs = {
            "kernel_id": params.get("kernel_id", ""),
            "ramdisk_id": params.get("ramdisk_id", ""),
            "cmdline": params.get("cmdline", ""),
        }
        has_body = bool(req.content_length) or req.headers.get("Transfer-Encoding", "").lower() == "chunked"
        if not has_body:
            return compute.images.upload_one(name, None, fmt or "none", **kwargs).as_dict()
        tmp_dir = os.path.join(self.host.state_dir, "tmp")
        os.makedirs(tmp_dir, exist_ok=True)
        fd, path = tempfile.mkstemp(dir=tmp_dir, prefix="upload-")
        try:
            with os.fdopen(fd, "wb") as handle:
                stream = req.body_file_raw if req.content_length is None else req.body_file
                while True:
                    data = stream.read(CHUNK)
                    if not data:
                        break
                    handle.write(data)
            return compute.images.upload_one(name, path, fmt, **kwargs).as_dict()
        finally:
            os.unlink(path)

    # --- servers -----------------------------------------------------------------
    def _servers(self, req, compute, rest):
        if not rest:
            if req.method in ("GET", "HEAD"):
                return _json(200, {"servers": compute.list()})
            if req.method == "POST":
                spec = self._body(req).get("server")
                if not isinstance(spec, dict):
                    raise BadRequest('expected {"server": {"name", "flavor", "image", "metadata"}}')
                server = compute.boot(
                    spec.get("name", ""), spec.get("flavor", ""), spec.get("image", ""), spec.get("metadata") or {}
                )
                return _json(202, {"server": server})
            self._method_not_allowed(req)
        ref = rest[0]
        if len(rest) == 1:
            if req.method in ("GET", "HEAD"):
                return _json(200, {"server": compute.show(ref)})
            if req.method == "DELETE":
                compute.delete(ref)
                return _json(204)
            self._method_not_allowed(req)
        if rest[1] == "action" and len(rest) == 2:
            if req.method != "POST":
                self._method_not_allowed(req)
            return self._action(compute, ref, self._body(req))
        if rest[1] == "metadata":
            return self._metadata(req, compute, ref, rest[2:])
        raise NotFound("no such resource: %s" % req.path_info)

    def _action(self, compute, ref, body):
        if len(body) != 1:
            raise BadRequest("an action body holds exactly one action")
        (action, arg), = body.items()
        arg = arg or {}
        if not isinstance(arg, dict):
            raise BadRequest("the argument of %s must be an object or null" % action)
        simple = {
            "os-stop": compute.stop,
            "stop": compute.stop,
            "os-start": compute.start,
            "start": compute.start,
            "pause": compute.pause,
            "unpause": compute.unpause,
            "suspend": compute.suspend,
            "resume": compute.resume,
        }
        if action in simple:
            return _json(202, {"server": simple[action](ref)})
        if action == "reboot":
            kind = str(arg.get("type", "SOFT")).upper()
            if kind not in ("SOFT", "HARD"):
                raise BadRequest("reboot type must be SOFT or HARD")
            return _json(202, {"server": compute.reboot(ref, hard=kind == "HARD")})
        if action == "createImage":
            return _json(202, {"image": compute.snapshot(ref, arg.get("name", ""))})
        if action == "os-getConsoleOutput":
            length = arg.get("length")
            if length is not None and not isinstance(length, int):
                raise BadRequest("length must be an integer")
            return _json(200, {"output": compute.console_log(ref, length)})
        raise BadRequest("unknown action %r" % action)

    def _metadata(self, req, compute, ref, rest):
        if not rest:
            if req.method in ("GET", "HEAD"):
                return _json(200, {"metadata": compute.show(ref)["metadata"]})
            if req.method in ("POST", "PUT"):
                items = self._body(req).get("metadata")
                if not isinstance(items, dict):
                    raise BadRequest('expected {"metadata": {KEY: VALUE}}')
                return _json(200, {"metadata": compute.meta_set(ref, items)["metadata"]})
        elif len(rest) == 1:
            key = rest[0]
            if req.method in ("GET", "HEAD"):
                meta = compute.show(ref)["metadata"]
                if key not in meta:
                    raise NotFound("no metadata key %s" % key)
                return _json(200, {"meta": {key: meta[key]}})
            if req.method == "PUT":
                item = self._body(req).get("meta")
                if not isinstance(item, dict) or list(item) != [key]:
                    raise BadRequest('expected {"meta": {"%s": VALUE}}' % key)
                return _json(200, {"meta": {key: compute.meta_set(ref, item)["metadata"][key]}})
            if req.method == "DELETE":
                compute.meta_delete(ref, [key])
                return _json(204)
        self._method_not_allowed(req)


def _native_starter(target):
    """Run libvirt's event loop in a native OS thread under eventlet."""
    green.start_native_thread(target, "libvirt-events")


def app_factory(conf_path, config, logger):
    """``objstore-compute-api``'s app: [compute-api] is ``config``; [compute]
    and [flavor:*] come from the same file."""
    try:
        from objstore.compute.driver import Hypervisor  # libvirt only in the process that serves
    except ImportError as err:
        raise ConfigError(
            "the libvirt binding is missing (%s): apt-get install libvirt-dev pkg-config, "
            "then pip install 'libvirt-python>=9.0'" % err
        ) from None

    sections = read_ini(conf_path)
    compute_conf = section_from(sections, conf_path, "compute", compute_config.ComputeConfig)
    flavors = compute_config.flavors_from(sections, conf_path)
    state_dir = compute_conf.state_dir or compute_config.default_state_dir()
    host = Host(compute_conf, flavors, Hypervisor(compute_conf.connection_uri, _native_starter), state_dir, logger)
    try:
        changes = Compute(host).reconcile()
        for instance_id, old, new in changes:
            logger.info("reconciled instance %s: %s -> %s", instance_id, old or "(adopted)", new)
    except ObjstoreError as err:  # libvirt down at start: serve anyway, each request says so
        logger.error("could not reconcile with libvirt at start: %s", err)
    validator = TokenValidator(config.objstore_url, config.token_cache_seconds)
    return ComputeApiApp(host, validator, logger, config.access_log)


def main(argv=None):
    return server_main("compute-api", compute_config.ComputeApiConfig, app_factory, argv)




if __name__ == "__main__":  # pragma: no cover
    import sys

    sys.exit(main())
