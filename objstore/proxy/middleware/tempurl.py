"""tempurl: signed, expiring URLs that give one object to whoever holds them
(the Swift v1 API's temporary URLs, as ``swift tempurl`` and rclone's
``link`` make them).

Theory of operation:

- Keys live in metadata: ``X-Account-Meta-Temp-URL-Key`` / ``-Key-2`` (valid
  for every object of the account) and ``X-Container-Meta-Temp-URL-Key`` /
  ``-Key-2`` (objects of that container). Only the account's owner may write
  them (tempauth denies other users account and container POSTs) and the
  proxy hides them from non-owners (controllers/base.OWNER_ONLY_HEADERS).
  They are read through the proxy's per-worker info cache; when no cached key
  matches, the account and container are read once afresh, so a key set
  through another proxy worker works at once.
- A request carrying ``temp_url_sig`` and ``temp_url_expires`` is a temp URL
  request. The signature is an HMAC of ``METHOD\\nEXPIRES\\nPATH`` (preceded
  by ``ip=<range>\\n`` when ``temp_url_ip_range`` is given), where PATH is
  ``/v1/<a>/<c>/<o>`` or, with ``temp_url_prefix``,
  ``prefix:/v1/<a>/<c>/<prefix>``. The digest is named by a ``sha1:`` /
  ``sha256:`` / ``sha512:`` prefix on a base64 signature, else by the length
  of a hex one (40 sha1, 64 sha256). A HEAD is also valid with a GET, PUT or
  POST signature. ``temp_url_expires`` is unix seconds or
  ``YYYY-MM-DDTHH:MM:SSZ``; the signature always covers the unix seconds.
- A valid request proceeds without a token: this middleware (before the
  auth middleware) sets ``objstore.authorize`` to a callback that allows only
  this request's own path, and ``objstore.authorize_override`` so tempauth
  leaves it in place. The request is not the account's owner, so it cannot
  list, manage metadata or see owner-only headers. A large object (DLO or
  SLO) read through it may read its segments in the same account (an account
  key), or in a container holding the same key (a container key), as Swift
  allows. A write's other paths (an X-Copy-From source) are refused.
- PUT/POST/DELETE temp URLs may not set X-Object-Manifest or
  X-Symlink-Target (400): they would point the object at data the URL does
  not grant. ``incoming_remove_headers`` are dropped from the request,
  ``outgoing_remove_headers`` from the response (each minus its ``*_allow_``
  exceptions; a trailing ``*`` matches a prefix).
- A 2xx GET/HEAD answer carries ``Content-Disposition``: ``inline`` with the
  ``inline`` parameter, ``attachment; filename=...`` with ``filename=``, else
  the object's own, else an attachment named after the object; and
  ``Expires`` at the URL's expiry.
- The signature is dropped from the query string once checked, so the access
  log never shows it; other query parameters (``multipart-manifest=get``...)
  are dropped too: a temp URL reads the object as it is served.

Not here: where keys are stored (account/container servers and the proxy's
info cache), the ACL decision for every other request (tempauth), the
owner-only hiding of the keys (controllers/base.py).
"""

import base64
import binascii
import calendar
import dataclasses
import hashlib
import hmac
import ipaddress
import os.path
import time
import urllib.parse

from objstore.common.config import build, option
from objstore.common.exceptions import BadRequest, ConfigError, ObjstoreError, Unauthorized
from objstore.web.app import Request, error_response

SUPPORTED_DIGESTS = ("sha1", "sha256", "sha512")
HEX_LENGTHS = {40: "sha1", 64: "sha256"}  # sha512 must use the prefixed base64 form
ISO8601 = "%Y-%m-%dT%H:%M:%SZ"
KEY_NAMES = ("temp-url-key", "temp-url-key-2")  # metadata names, lower case, without X-*-Meta-
# a HEAD may be signed for any of these (it reads no more than they would)
HEAD_SIGNED_AS = ("HEAD", "GET", "PUT", "POST")
# on writes: they would make the object serve data the URL does not grant
DISALLOWED_ON_WRITE = ("HTTP_X_OBJECT_MANIFEST", "HTTP_X_SYMLINK_TARGET")
TEMPURL_PARAMS = ("temp_url_sig", "temp_url_expires", "temp_url_prefix", "temp_url_ip_range", "filename", "inline")
INVALID_BODY = "401 Unauthorized: temp URL invalid or expired"
ACCOUNT_SCOPE = "account"
CONTAINER_SCOPE = "container"


@dataclasses.dataclass(frozen=True)
class Config:
    methods: tuple[str, ...] = option(("GET", "HEAD", "PUT", "POST", "DELETE"),
                                      "request methods a temp URL may be signed for")
    allowed_digests: tuple[str, ...] = option(SUPPORTED_DIGESTS, "HMAC digests accepted: sha1 sha256 sha512")
    incoming_remove_headers: tuple[str, ...] = option(("x-timestamp",),
                                                      "request headers dropped from temp URL requests (a trailing * matches a prefix)")
    incoming_allow_headers: tuple[str, ...] = option((), "exceptions to incoming_remove_headers (a trailing * matches a prefix)")
    outgoing_remove_headers: tuple[str, ...] = option(("x-object-meta-*",),
                                                      "response headers dropped from temp URL answers (a trailing * matches a prefix)")
    outgoing_allow_headers: tuple[str, ...] = option(("x-object-meta-public-*",),
                                                     "exceptions to outgoing_remove_headers (a trailing * matches a prefix)")


def load_config(values, path, section):
    """Config from ``[filter:tempurl]``; methods upper-cased, digests checked.

    :raises ConfigError: an unknown digest, or none at all.
    """
    config = build(Config, values, path, section, allow_unknown=("use",))
    digests = tuple(d.lower() for d in config.allowed_digests)
    unknown = sorted(set(digests) - set(SUPPORTED_DIGESTS))
    if unknown:
        raise ConfigError("%s [%s]: allowed_digests: unsupported %s (supported: %s)"
                          % (path, section, ", ".join(unknown), " ".join(SUPPORTED_DIGESTS)))
    if not digests:
        raise ConfigError("%s [%s]: allowed_digests is empty" % (path, section))
    return dataclasses.replace(config, methods=tuple(m.upper() for m in config.methods), allowed_digests=digests)


# --- pure parts: query, signature, headers ------------------------------------------------
@dataclasses.dataclass(frozen=True)
class TempURLQuery:
    """The temp URL parameters of a query string (``sig`` and ``expires`` as sent)."""

    sig: str
    expires: str
    prefix: str = None
    ip_range: str = None
    filename: str = None
    inline: bool = False


def parse_query(query_string):
    """The TempURLQuery of a query string, or None when it is not a temp URL.

    :raises Unauthorized: only one of ``temp_url_sig`` / ``temp_url_expires``,
        or one of them empty.
    """
    params = {}
    for key, value in urllib.parse.parse_qsl(query_string, keep_blank_values=True):
        params.setdefault(key, value)
    if "temp_url_sig" not in params and "temp_url_expires" not in params:
        return None
    sig, expires = params.get("temp_url_sig"), params.get("temp_url_expires")
    if not sig or not expires:
        raise Unauthorized(INVALID_BODY)
    return TempURLQuery(sig=sig, expires=expires, prefix=params.get("temp_url_prefix"),
                        ip_range=params.get("temp_url_ip_range"), filename=params.get("filename"),
                        inline="inline" in params)


def parse_expires(text):
    """Unix seconds of ``temp_url_expires`` (``1700000000`` or
    ``2023-11-14T22:13:20Z``), or None when it is neither."""
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return calendar.timegm(time.strptime(text, ISO8601))
    except ValueError:
        return None


def parse_signature(sig):
    """``(digest name, lower-case hex)`` of a ``temp_url_sig``, or None.

    ``<digest>:<base64>`` names its digest (base64 standard or URL-safe,
    padding optional; a ``+`` that arrived as a space is restored); a bare
    hex signature is sha1 (40 digits) or sha256 (64).
    """
    if ":" in sig:
        name, _, encoded = sig.partition(":")
        name = name.lower()
        if name not in SUPPORTED_DIGESTS:
            return None
        encoded = encoded.replace(" ", "+").rstrip("=")
        encoded = encoded.replace("-", "+").replace("_", "/")
        try:
            raw = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        except (binascii.Error, ValueError):
            return None
        if len(raw) != hashlib.new(name).digest_size:
            return None
        return name, raw.hex()
    name = HEX_LENGTHS.get(len(sig))
    if name is None:
        return None
    try:
        bytes.fromhex(sig)
    except ValueError:
        return None
    return name, sig.lower()


def signed_path(account, container, obj, prefix=None):
    """The PATH line of the HMAC body: ``/v1/a/c/o`` or ``prefix:/v1/a/c/<prefix>``."""
    if prefix is None:
        return "/v1/%s/%s/%s" % (account, container, obj)
    return "prefix:/v1/%s/%s/%s" % (account, container, prefix)


def signature(key, method, expires, path, digest="sha256", ip_range=None):
    """The hex HMAC a temp URL for ``method`` on ``path`` until ``expires`` carries.

    :param key: the Temp-URL-Key (str).
    :param path: as :func:`signed_path` makes it.
    """
    body = "%s\n%s\n%s" % (method, int(expires), path)
    if ip_range:
        body = "ip=%s\n%s" % (ip_range, body)
    return hmac.new(key.encode("utf-8"), body.encode("utf-8"), digest).hexdigest()


def matching_key(sig_hex, digest, methods, expires, path, scoped_keys, ip_range=None):
    """The ``(key, scope)`` of ``scoped_keys`` whose signature for one of
    ``methods`` equals ``sig_hex``, else None. Every candidate is computed and
    compared in constant time."""
    found = None
    for method in methods:
        for key, scope in scoped_keys:
            expected = signature(key, method, expires, path, digest, ip_range)
            if hmac.compare_digest(expected, sig_hex) and found is None:
                found = (key, scope)
    return found


def keys_of(meta):
    """The temp URL keys in an account's or container's ``meta`` dict (names lower case)."""
    return [meta[name] for name in KEY_NAMES if meta.get(name)]


def ip_allowed(ip_range, client):
    """True when ``client`` (an address) lies in ``ip_range`` (an address or CIDR)."""
    try:
        return ipaddress.ip_address(client) in ipaddress.ip_network(ip_range, strict=False)
    except ValueError:
        return False


def disposition(kind, filename):
    """A Content-Disposition value naming ``filename`` (RFC 6266: a quoted
    ``filename`` for old clients, ``filename*`` in RFC 5987 UTF-8 form)."""
    plain = urllib.parse.quote(filename, safe=" /").replace('"', "%22")
    return "%s; filename=\"%s\"; filename*=UTF-8''%s" % (kind, plain, urllib.parse.quote(filename, safe=""))


def name_matcher(patterns):
    """A predicate on lower-case header names: exact names and ``prefix*``."""
    exact = frozenset(p.lower() for p in patterns if not p.endswith("*"))
    prefixes = tuple(p[:-1].lower() for p in patterns if p.endswith("*"))
    return lambda name: name in exact or (bool(prefixes) and name.startswith(prefixes))


def environ_name(header):
    """``x-object-meta-foo`` → ``HTTP_X_OBJECT_META_FOO`` (a ``*`` stays at the end)."""
    return "HTTP_" + header.upper().replace("-", "_")


# --- the middleware ---------------------------------------------------------------------
class TempURL:
    """WSGI filter; ``info_source`` answers ``account_meta(req, account,
    fresh)`` and ``container_meta(req, account, container, fresh)`` (the
    proxy's info cache: :class:`ProxyInfo`)."""

    def __init__(self, app, config, logger, info_source):
        self.app = app
        self.config = config
        self.logger = logger
        self.info = info_source
        self.methods = frozenset(config.methods)
        self.digests = frozenset(config.allowed_digests)
        self.drop_in = name_matcher([environ_name(h) for h in config.incoming_remove_headers])
        self.keep_in = name_matcher([environ_name(h) for h in config.incoming_allow_headers])
        self.drop_out = name_matcher(config.outgoing_remove_headers)
        self.keep_out = name_matcher(config.outgoing_allow_headers)

    def __call__(self, environ, start_response):
        query = environ.get("QUERY_STRING", "")
        if "temp_url_" not in query or environ.get("REQUEST_METHOD") == "OPTIONS":
            return self.app(environ, start_response)
        try:
            params = parse_query(query)
            if params is None:
                return self.app(environ, start_response)
            filtered = self.admit(environ, start_response, params)
        except Unauthorized:
            self.logger.debug("tempurl: invalid or expired temp URL for %s %s",
                              environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"))
            return self.invalid(environ)(environ, start_response)
        except ObjstoreError as err:  # BadRequest; ServiceUnavailable from the key lookup
            return error_response(err.status, str(err) or None)(environ, start_response)
        return self.app(environ, filtered)

    def invalid(self, environ):
        parts = environ.get("PATH_INFO", "").split("/")
        realm = parts[2] if len(parts) > 2 and parts[2] else "unknown"
        resp = error_response(401, INVALID_BODY, {"Www-Authenticate": 'Swift realm="%s"' % realm})
        if environ.get("REQUEST_METHOD") == "HEAD":
            resp.body = b""
        return resp

    def admit(self, environ, start_response, params):
        """Check a temp URL request and prepare its environ for the app.

        :returns: the start_response to call the app with.
        :raises Unauthorized: anything about the URL is wrong.
        :raises BadRequest: a write sets a header temp URLs may not set.
        """
        req = Request(environ)
        method = req.method
        account, container, obj = self._object_path(req)
        if obj is None or method not in self.methods:
            raise Unauthorized(INVALID_BODY)
        expires = parse_expires(params.expires)
        if expires is None or expires < time.time():
            raise Unauthorized(INVALID_BODY)
        parsed = parse_signature(params.sig)
        if parsed is None or parsed[0] not in self.digests:
            raise Unauthorized(INVALID_BODY)
        digest, sig_hex = parsed
        if params.prefix is not None and not obj.startswith(params.prefix):
            raise Unauthorized(INVALID_BODY)
        if params.ip_range and not ip_allowed(params.ip_range, environ.get("REMOTE_ADDR", "")):
            raise Unauthorized(INVALID_BODY)
        path = signed_path(account, container, obj, params.prefix)
        methods = HEAD_SIGNED_AS if method == "HEAD" else (method,)
        grant = None
        for fresh in (False, True):  # the cache first; once afresh when no cached key matched
            keys = self.scoped_keys(req, account, container, fresh)
            grant = matching_key(sig_hex, digest, methods, expires, path, keys, params.ip_range)
            if grant is not None:
                break
        if grant is None:
            raise Unauthorized(INVALID_BODY)
        if method not in ("GET", "HEAD"):
            for name in DISALLOWED_ON_WRITE:
                if name in environ:
                    header = name[len("HTTP_"):].replace("_", "-").title()
                    raise BadRequest("%s may not be set through a temp URL" % header)
        for name in [k for k in environ if k.startswith("HTTP_") and self.drop_in(k) and not self.keep_in(k)]:
            del environ[name]
        environ["objstore.authorize"] = self.authorizer(req.path_info, method, account, grant)
        environ["objstore.authorize_override"] = True
        environ["REMOTE_USER"] = ".wsgi.tempurl"
        kept = [("temp_url_expires", params.expires)]
        if params.prefix is not None:
            kept.append(("temp_url_prefix", params.prefix))
        environ["QUERY_STRING"] = urllib.parse.urlencode(kept)
        return self.response_filter(start_response, method, obj, params, expires)

    @staticmethod
    def _object_path(req):
        """``(account, container, obj)`` of a ``/v1/a/c/o`` path, else Nones."""
        try:
            path = req.path_info
        except UnicodeDecodeError:
            return None, None, None
        parts = path.split("/", 4)
        if len(parts) != 5 or parts[0] or parts[1] != "v1" or not all(parts[2:4]) or not parts[4].strip("/"):
            return None, None, None
        return parts[2], parts[3], parts[4]

    def scoped_keys(self, req, account, container, fresh):
        """``[(key, scope)]``: the account's keys, then the container's."""
        keys = [(key, ACCOUNT_SCOPE) for key in keys_of(self.info.account_meta(req, account, fresh))]
        keys += [(key, CONTAINER_SCOPE) for key in keys_of(self.info.container_meta(req, account, container, fresh))]
        return keys

    def authorizer(self, path, method, account, grant):
        """The ``objstore.authorize`` of a valid temp URL request: ``path``
        itself, and the segments of a large object a GET/HEAD of it serves:
        the DLO listing (asked with this same request) and SLO segment reads
        (GET/HEAD subrequests of other paths). Those must be in the same
        account (an account key) or in a container holding the same key (a
        container key). A write's subrequests (an X-Copy-From source) are
        refused."""
        key, scope = grant
        own_account = "/v1/%s/" % account

        def authorize(req, info_getter=None):
            if req.path_info != path:
                if (method not in ("GET", "HEAD") or req.method not in ("GET", "HEAD")
                        or not req.path_info.startswith(own_account)):
                    return self.invalid(req.environ)
            if scope == CONTAINER_SCOPE and info_getter is not None:
                info = info_getter()
                if info is None or key not in keys_of(info.get("meta", {})):
                    return self.invalid(req.environ)
            return None

        return authorize

    def response_filter(self, start_response, method, obj, params, expires):
        """start_response that drops outgoing headers and adds
        Content-Disposition and Expires to a 2xx GET/HEAD."""
        drop, keep = self.drop_out, self.keep_out

        def filtered(status, headers, exc_info=None):
            out = []
            existing = None
            for name, value in headers:
                low = name.lower()
                if drop(low) and not keep(low):
                    continue
                if low == "content-disposition":
                    existing = value
                    continue
                out.append((name, value))
            if method in ("GET", "HEAD") and status.startswith("2"):
                if params.inline:
                    value = disposition("inline", params.filename) if params.filename else "inline"
                elif params.filename:
                    value = disposition("attachment", params.filename)
                elif existing:
                    value = existing
                else:
                    value = disposition("attachment", os.path.basename(obj.rstrip("/")))
                out.append(("Content-Disposition", value.replace("\n", "%0A")))
                try:
                    out.append(("Expires", time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(expires))))
                except (OverflowError, OSError, ValueError):
                    pass  # an expiry past what the C library can format (year > 9999) says no date
            elif existing is not None:
                out.append(("Content-Disposition", existing))
            return start_response(status, out, exc_info) if exc_info else start_response(status, out)

        return filtered


class ProxyInfo:
    """Account and container metadata through the proxy app's controllers
    (their per-worker info cache; ``fresh`` reads past it)."""

    def __init__(self, proxy):
        self.proxy = proxy

    def account_meta(self, req, account, fresh=False):
        if fresh:
            self.proxy.info_cache.invalidate(("account", account))
        info = self.proxy.controllers[0].account_info(req, account)
        return info.get("meta", {}) if info else {}

    def container_meta(self, req, account, container, fresh=False):
        info = self.proxy.controllers[1].container_info(account, container, req, fresh=fresh)
        return info.get("meta", {}) if info else {}


def capabilities(config):
    """What ``/info`` says under ``tempurl``."""
    return {
        "methods": list(config.methods),
        "allowed_digests": sorted(config.allowed_digests),
        "incoming_remove_headers": list(config.incoming_remove_headers),
        "incoming_allow_headers": list(config.incoming_allow_headers),
        "outgoing_remove_headers": list(config.outgoing_remove_headers),
        "outgoing_allow_headers": list(config.outgoing_allow_headers),
    }


def filter_factory(app, config, logger, proxy):
    proxy.register_capability("tempurl", capabilities(config))
    return TempURL(app, config, logger, ProxyInfo(proxy))
