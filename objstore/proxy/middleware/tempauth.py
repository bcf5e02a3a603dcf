"""tempauth: users from config, signed tokens, and the ACL decision.

- ``GET /auth/v1.0`` with ``X-Auth-User: account:user`` and ``X-Auth-Key``
  (or X-Storage-User/X-Storage-Pass) answers X-Auth-Token, X-Storage-Url
  and X-Auth-Token-Expires.
- Tokens are ``<reseller>_tk`` + base64url(JSON {user, account, groups,
  expires}) + ``.`` + HMAC-SHA256 over it with the cluster secret
  (``token_secret``, else derived from objstore.conf's hash secrets). Any
  proxy process holding the same secret accepts them; nothing is stored.
- ``authorize(req, info_getter)`` is put in the WSGI environ for the proxy
  controllers, which call it once they know which container's ACLs apply.
  Owners (.admin of the account) may do anything in their account except
  creating/deleting it; reseller admins anything; others only what the
  container ACLs grant (acl.py). 401 without a valid identity, else 403.
  When an earlier middleware already decided (tempurl sets
  ``objstore.authorize_override``), its ``objstore.authorize`` is kept.
"""

import base64
import dataclasses
import hashlib
import hmac
import json
import time

from objstore.common import hashing
from objstore.common.config import build, option
from objstore.common.exceptions import ConfigError
from objstore.proxy.acl import clean_acl, group_allowed, parse_acl, referrer_allowed
from objstore.web.app import Request, Response, error_response


@dataclasses.dataclass(frozen=True)
class Config:
    reseller_prefix: str = option("AUTH", "accounts this auth serves are <reseller_prefix>_<name>")
    auth_prefix: str = option("/auth/", "path prefix of the token service")
    token_life: int = option(86400, "seconds a token is valid")
    token_secret: str = option("", "HMAC key for tokens, the same on every proxy (empty: derived from objstore.conf)")
    storage_url_scheme: str = option("default", "scheme of X-Storage-Url: http, https or default (the request's)")
    users: tuple[str, ...] = option((), "filled from user_<account>_<user> = <key> [.admin] [.reseller_admin] [url]")


def load_config(values, path, section):
    """Config from a ``[filter:tempauth]`` section; ``user_*`` keys become users."""
    users = []
    rest = {}
    for key, value in values.items():
        if key.startswith("user_"):
            account, sep, user = key[len("user_"):].partition("_")
            if not sep or not account or not user:
                raise ConfigError("%s [%s]: bad user key %r (user_<account>_<user>)" % (path, section, key))
            users.append("%s:%s %s" % (account, user, value))
        else:
            rest[key] = value
    config = build(Config, rest, path, section, allow_unknown=("use",))
    return dataclasses.replace(config, users=tuple(users))


class User:
    __slots__ = ("account", "name", "key", "groups", "url")

    def __init__(self, spec):
        ident, _, rest = spec.partition(" ")
        self.account, _, self.name = ident.partition(":")
        items = rest.split()
        if not items:
            raise ConfigError("tempauth user %s has no key" % ident)
        self.key = items[0]
        self.url = None
        self.groups = []
        for item in items[1:]:
            if item.startswith(("http://", "https://")):
                self.url = item
            else:
                self.groups.append(item)


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TempAuth:
    def __init__(self, app, config, logger, secret=None):
        self.app = app
        self.config = config
        self.logger = logger
        self.prefix = config.reseller_prefix.rstrip("_") + "_"
        self.token_prefix = self.prefix + "tk"
        self.users = {}
        for spec in config.users:
            user = User(spec)
            self.users["%s:%s" % (user.account, user.name)] = user
        if secret is None:
            secret = config.token_secret.encode("utf-8") if config.token_secret else None
        if secret is None:
            prefix, suffix = hashing.secrets()
            secret = hashlib.sha256(b"objstore-tempauth\x00" + prefix + b"\x00" + suffix).digest()
        self.secret = secret
        self._verified = {}  # token -> identity, for tokens already checked

    # --- tokens -------------------------------------------------------------------
    def make_token(self, user, now=None):
        """``(token, expires)`` for a User."""
        now = time.time() if now is None else now
        expires = int(now + self.config.token_life)
        groups = ["%s:%s" % (user.account, user.name), user.account]
        if ".admin" in user.groups or ".reseller_admin" in user.groups:
            groups.append(self.prefix + user.account)
        groups.extend(g for g in user.groups if g.startswith("."))
        payload = json.dumps({"u": "%s:%s" % (user.account, user.name), "a": self.prefix + user.account,
                              "g": groups, "e": expires}, separators=(",", ":")).encode("utf-8")
        body = _b64(payload)
        return self.token_prefix + body + "." + self._sign(body), expires

    def _sign(self, body):
        return hmac.new(self.secret, body.encode("ascii"), hashlib.sha256).hexdigest()

    def verify_token(self, token, now=None):
        """The identity dict ``{"u", "a", "g", "e"}`` of a valid token, else None.

        Verified tokens are remembered (bounded) so a busy client costs one
        HMAC per token, not one per request; expiry is still checked.
        """
        now = time.time() if now is None else now
        known = self._verified.get(token)
        if known is not None:
            return known if known["e"] > now else None
        if not token.startswith(self.token_prefix):
            return None
        body, dot, signature = token[len(self.token_prefix):].rpartition(".")
        if not dot or not hmac.compare_digest(self._sign(body), signature):
            return None
        try:
            identity = json.loads(_unb64(body))
        except ValueError:
            return None
        if not isinstance(identity, dict) or not isinstance(identity.get("e"), int) or identity["e"] <= now:
            return None
        if len(self._verified) >= 4096:
            self._verified.clear()
        self._verified[token] = identity
        return identity

    # --- WSGI ---------------------------------------------------------------------
    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith(self.config.auth_prefix) or path in ("/auth", self.config.auth_prefix.rstrip("/")):
            return self.handle_auth(Request(environ))(environ, start_response)
        token = environ.get("HTTP_X_AUTH_TOKEN") or environ.get("HTTP_X_STORAGE_TOKEN")
        if token and token.startswith(self.token_prefix):
            identity = self.verify_token(token)
            if identity is None and not path.startswith("/info"):
                self.logger.debug("tempauth: invalid or expired token")
                return self.denied(Request(environ), False)(environ, start_response)
            environ["objstore.identity"] = identity
        if not environ.get("objstore.authorize_override"):  # tempurl already decided for this request
            environ["objstore.authorize"] = self.authorize
        environ["objstore.clean_acl"] = clean_acl
        return self.app(environ, start_response)

    def handle_auth(self, req):
        if req.method not in ("GET", "HEAD"):
            return error_response(405, headers={"Allow": "GET, HEAD"})
        rest = req.path_info[len(self.config.auth_prefix):].strip("/")
        if rest not in ("v1.0", "v1", "auth", "v1/auth") and not rest.endswith("/auth"):
            return error_response(404)
        name = req.headers.get("X-Auth-User") or req.headers.get("X-Storage-User")
        key = req.headers.get("X-Auth-Key") or req.headers.get("X-Storage-Pass")
        if not name or not key:
            return error_response(401, headers={"Www-Authenticate": 'Swift realm="unknown"'})
        user = self.users.get(name)
        if user is None or not hmac.compare_digest(user.key.encode("utf-8"), key.encode("utf-8")):
            self.logger.info("tempauth: bad credentials for %s", name)
            return error_response(401, headers={"Www-Authenticate": 'Swift realm="unknown"'})
        token, expires = self.make_token(user)
        url = user.url or self.storage_url(req, user.account)
        body = json.dumps({"storage": {"default": "local", "local": url}}).encode("utf-8")
        resp = Response(status=200, content_type="application/json", charset="utf-8", body=body)
        resp.headers["X-Auth-Token"] = token
        resp.headers["X-Storage-Token"] = token
        resp.headers["X-Storage-Url"] = url
        resp.headers["X-Auth-Token-Expires"] = str(max(0, int(expires - time.time())))
        return resp

    def storage_url(self, req, account):
        scheme = req.scheme if self.config.storage_url_scheme == "default" else self.config.storage_url_scheme
        host = req.headers.get("Host") or req.host
        return "%s://%s/v1/%s%s" % (scheme, host, self.prefix, account)

    def denied(self, req, has_identity):
        if has_identity:
            return error_response(403)
        parts = req.path_info.split("/")
        realm = parts[2] if len(parts) > 2 and parts[2] else "unknown"
        return error_response(401, headers={"Www-Authenticate": 'Swift realm="%s"' % realm})

    def authorize(self, req, info_getter=None):
        """None when ``req`` may proceed, else the 401/403 Response."""
        identity = req.environ.get("objstore.identity")
        parts = req.path_info.split("/", 4)
        account = parts[2] if len(parts) > 2 else ""
        container = parts[3] if len(parts) > 3 and parts[3] else None
        obj = parts[4] if len(parts) > 4 and parts[4] else None
        if not account.startswith(self.prefix):
            return self.denied(req, identity is not None)
        groups = identity["g"] if identity else ()
        if ".reseller_admin" in groups:
            req.environ["objstore.owner"] = True
            return None
        if account in groups:
            if container is None and req.method in ("PUT", "DELETE"):
                return self.denied(req, True)  # only reseller admins manage accounts
            req.environ["objstore.owner"] = True
            return None
        if container is None or req.method == "OPTIONS":
            return self.denied(req, identity is not None)
        if obj is None and req.method not in ("GET", "HEAD"):
            return self.denied(req, identity is not None)
        info = info_getter() if info_getter is not None else None
        if info is None:
            return self.denied(req, identity is not None)
        if req.method in ("GET", "HEAD"):
            referrers, acl_groups = parse_acl(info.get("read_acl", ""))
            if (obj is not None or ".rlistings" in referrers) and referrer_allowed(req.referer, referrers):
                return None
            if identity and group_allowed(groups, acl_groups):
                return None
        else:
            _referrers, acl_groups = parse_acl(info.get("write_acl", ""))
            if identity and group_allowed(groups, acl_groups):
                return None
        return self.denied(req, identity is not None)


def filter_factory(app, config, logger, proxy):
    proxy.register_capability("tempauth", {"account_acls": False})
    return TempAuth(app, config, logger)
