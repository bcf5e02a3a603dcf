"""tempauth: users from config, signed tokens, and the ACL decision."""

import json

import pytest

from objstore.common.exceptions import ConfigError
from objstore.proxy.middleware.tempauth import Config, TempAuth, User, load_config
from objstore.web.app import Request, Response

USERS = ("test:tester testing .admin", "test:tester3 testing3", "admin:admin admin .admin .reseller_admin",
         "other:user pw .admin http://cdn.example/v1/AUTH_other")


def ok_app(environ, start_response):
    return Response(body=b"ok")(environ, start_response)


@pytest.fixture
def auth(capture):
    logger, _handler = capture
    return TempAuth(ok_app, Config(users=USERS, token_life=100), logger, secret=b"k" * 32)


def login(auth, user, key):
    return Request.blank("/auth/v1.0", headers={"X-Auth-User": user, "X-Auth-Key": key}).get_response(auth)


def test_load_config_collects_users():
    config = load_config({"user_test_tester": "testing .admin", "token_life": "5", "use": "egg:objstore#tempauth"},
                         "p.conf", "filter:tempauth")
    assert config.users == ("test:tester testing .admin",) and config.token_life == 5
    with pytest.raises(ConfigError):
        load_config({"user_bad": "x"}, "p.conf", "filter:tempauth")
    with pytest.raises(ConfigError):
        load_config({"tokenlife": "5"}, "p.conf", "filter:tempauth")


def test_login_returns_token_url_and_expiry(auth):
    resp = login(auth, "test:tester", "testing")
    assert resp.status_int == 200
    assert resp.headers["X-Storage-Url"] == "http://localhost:80/v1/AUTH_test"
    assert resp.headers["X-Auth-Token"].startswith("AUTH_tk")
    assert int(resp.headers["X-Auth-Token-Expires"]) in (99, 100)
    assert json.loads(resp.body)["storage"]["local"] == resp.headers["X-Storage-Url"]
    assert login(auth, "other:user", "pw").headers["X-Storage-Url"] == "http://cdn.example/v1/AUTH_other"
    assert login(auth, "test:tester", "bad").status_int == 401
    assert login(auth, "nobody:x", "x").status_int == 401
    resp = Request.blank("/auth/v1.0", headers={"X-Storage-User": "test:tester", "X-Storage-Pass": "testing"}).get_response(auth)
    assert resp.status_int == 200


def test_tokens_verify_expire_and_resist_tampering(auth):
    token, expires = auth.make_token(User("test:tester testing .admin"), now=1000)
    assert expires == 1100
    identity = auth.verify_token(token, now=1050)
    assert identity["u"] == "test:tester" and "AUTH_test" in identity["g"] and ".admin" in identity["g"]
    assert auth.verify_token(token, now=1100) is None
    assert auth.verify_token(token[:-1] + ("0" if token[-1] != "0" else "1"), now=1050) is None
    other = TempAuth(ok_app, Config(users=USERS), None, secret=b"x" * 32)
    assert other.verify_token(token, now=1050) is None
    same_secret = TempAuth(ok_app, Config(), None, secret=b"k" * 32)  # another proxy of the cluster
    assert same_secret.verify_token(token, now=1050)["a"] == "AUTH_test"


def test_non_admin_token_does_not_own_the_account(auth):
    token, _ = auth.make_token(User("test:tester3 testing3"))
    assert "AUTH_test" not in auth.verify_token(token)["g"]


def test_secret_from_objstore_conf(objstore_conf):
    first = TempAuth(ok_app, Config(), None)
    second = TempAuth(ok_app, Config(), None)
    token, _ = first.make_token(User("test:tester testing .admin"))
    assert second.verify_token(token)["u"] == "test:tester"
    explicit = TempAuth(ok_app, Config(token_secret="s3cret"), None)
    assert explicit.verify_token(token) is None


def run(auth, path, method="GET", token_user=None, acl=None, referer=None):
    headers = {}
    if token_user:
        headers["X-Auth-Token"] = auth.make_token(User(token_user))[0]
    if referer:
        headers["Referer"] = referer
    req = Request.blank(path, method=method, headers=headers)
    seen = {}

    def app(environ, start_response):
        seen["env"] = environ
        return Response(body=b"ok")(environ, start_response)

    auth.app = app
    resp = req.get_response(auth)
    if resp.status_int != 200:
        return resp.status_int
    environ = seen["env"]
    inner = Request(environ)
    denied = environ["objstore.authorize"](inner, (lambda: acl) if acl is not None else None)
    return denied.status_int if denied is not None else 200


ADMIN = "test:tester testing .admin"
USER3 = "test:tester3 testing3"
OTHER = "other:user pw .admin"
RESELLER = "admin:admin admin .admin .reseller_admin"
OPEN = {"read_acl": ".r:*", "write_acl": ""}
LISTABLE = {"read_acl": ".r:*,.rlistings", "write_acl": ""}
SHARED = {"read_acl": "test:tester3", "write_acl": "test:tester3"}
NONE = {"read_acl": "", "write_acl": ""}


@pytest.mark.parametrize("path,method,user,acl,expected", [
    ("/v1/AUTH_test", "GET", ADMIN, None, 200),
    ("/v1/AUTH_test/c/o", "DELETE", ADMIN, None, 200),
    ("/v1/AUTH_test", "PUT", ADMIN, None, 403),           # accounts: reseller admins only
    ("/v1/AUTH_new", "PUT", RESELLER, None, 200),
    ("/v1/AUTH_test/c/o", "GET", RESELLER, None, 200),
    ("/v1/AUTH_test", "GET", OTHER, None, 403),            # wrong account
    ("/v1/AUTH_test/c/o", "GET", OTHER, NONE, 403),
    ("/v1/AUTH_test", "GET", None, None, 401),             # anonymous
    ("/v1/AUTH_test/c/o", "GET", None, NONE, 401),
    ("/v1/AUTH_test/c/o", "GET", None, OPEN, 200),         # .r:*
    ("/v1/AUTH_test/c", "GET", None, OPEN, 401),           # listing needs .rlistings
    ("/v1/AUTH_test/c", "GET", None, LISTABLE, 200),
    ("/v1/AUTH_test/c/o", "PUT", None, OPEN, 401),
    ("/v1/AUTH_test/c/o", "GET", USER3, NONE, 403),        # non-admin: ACLs only
    ("/v1/AUTH_test/c/o", "GET", USER3, SHARED, 200),
    ("/v1/AUTH_test/c/o", "PUT", USER3, SHARED, 200),
    ("/v1/AUTH_test/c", "GET", USER3, SHARED, 200),
    ("/v1/AUTH_test/c", "POST", USER3, SHARED, 403),       # container writes: owners only
    ("/v1/AUTH_test/c", "PUT", USER3, SHARED, 403),
    ("/v1/OTHER_test", "GET", ADMIN, None, 403),           # not our reseller prefix
])
def test_authorize(auth, path, method, user, acl, expected):
    assert run(auth, path, method, user, acl) == expected


def test_referrer_acl(auth):
    acl = {"read_acl": ".r:.example.com", "write_acl": ""}
    assert run(auth, "/v1/AUTH_test/c/o", acl=acl, referer="http://www.example.com/") == 200
    assert run(auth, "/v1/AUTH_test/c/o", acl=acl, referer="http://evil.org/") == 401


def test_bad_token_is_401_before_the_app(auth):
    resp = Request.blank("/v1/AUTH_test", headers={"X-Auth-Token": "AUTH_tkbogus"}).get_response(auth)
    assert resp.status_int == 401 and "Www-Authenticate" in resp.headers
