"""tempauth and container ACLs through the whole cluster: the negatives first."""

import json
import uuid

import pytest


def unique(prefix="acl"):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:10])


@pytest.fixture
def owner(cluster):
    url, token = cluster.auth("test:tester", "testing")
    return {"X-Auth-Token": token}


@pytest.fixture
def shared(cluster, owner):
    """A container of AUTH_test holding one object."""
    path = "/v1/AUTH_test/" + unique()
    assert cluster.request("PUT", path, owner)[0] == 201
    assert cluster.request("PUT", path + "/obj", owner, body=b"secret")[0] == 201
    return path


def test_auth_answers_token_url_and_expiry(cluster):
    status, headers, body = cluster.request("GET", "/auth/v1.0", {"X-Auth-User": "test:tester", "X-Auth-Key": "testing"})
    assert status == 200
    assert headers["x-storage-url"] == "http://127.0.0.1:%d/v1/AUTH_test" % cluster.proxy_port
    assert headers["x-auth-token"].startswith("AUTH_tk") and headers["x-storage-token"] == headers["x-auth-token"]
    assert 3500 < int(headers["x-auth-token-expires"]) <= 3600
    assert json.loads(body)["storage"]["local"] == headers["x-storage-url"]
    status, headers, _ = cluster.request("GET", "/auth/v1.0", {"X-Storage-User": "test:tester", "X-Storage-Pass": "testing"})
    assert status == 200


@pytest.mark.parametrize("headers", [
    {"X-Auth-User": "test:tester", "X-Auth-Key": "wrong"},
    {"X-Auth-User": "nobody:tester", "X-Auth-Key": "testing"},
    {"X-Auth-User": "test:tester"},
    {},
])
def test_bad_credentials_are_401(cluster, headers):
    assert cluster.request("GET", "/auth/v1.0", headers)[0] == 401


def test_tokens_work_on_every_worker(cluster):
    _url, token = cluster.auth("test:tester", "testing")
    # many fresh connections: the kernel spreads them over the proxy's workers
    statuses = {cluster.request("HEAD", "/v1/AUTH_test", {"X-Auth-Token": token})[0] for _ in range(20)}
    assert statuses == {204}


def test_no_token_bad_token_and_tampered_token(cluster, shared, owner):
    assert cluster.request("GET", shared, {})[0] == 401
    assert cluster.request("GET", "/v1/AUTH_test", {})[0] == 401
    status, headers, _ = cluster.request("GET", shared, {"X-Auth-Token": "AUTH_tkgarbage"})
    assert status == 401 and "www-authenticate" in headers
    token = owner["X-Auth-Token"]
    tampered = token[:-3] + ("000" if token[-3:] != "000" else "111")
    assert cluster.request("GET", shared, {"X-Auth-Token": tampered})[0] == 401


def test_expired_token_is_401(cluster):
    # a token signed with the cluster secret but already expired
    from objstore.proxy.middleware.tempauth import Config, TempAuth, User
    from objstore.common import hashing

    import os
    old = os.environ.get("OBJSTORE_CONF")
    os.environ["OBJSTORE_CONF"] = cluster.objstore_conf
    hashing.load_secrets.cache_clear()
    try:
        auth = TempAuth(None, Config(token_life=60), None)
        token, _expires = auth.make_token(User("test:tester testing .admin"), now=0)
    finally:
        if old is None:
            os.environ.pop("OBJSTORE_CONF")
        else:
            os.environ["OBJSTORE_CONF"] = old
        hashing.load_secrets.cache_clear()
    assert cluster.request("HEAD", "/v1/AUTH_test", {"X-Auth-Token": token})[0] == 401
    fresh, _ = TempAuth(None, Config(token_life=60), None, secret=b"other").make_token(User("test:tester testing .admin"))
    assert cluster.request("HEAD", "/v1/AUTH_test", {"X-Auth-Token": fresh})[0] == 401


def test_other_account_is_403(cluster, shared):
    _url, token = cluster.auth("test2:tester2", "testing2")
    other = {"X-Auth-Token": token}
    assert cluster.request("GET", "/v1/AUTH_test", other)[0] == 403
    assert cluster.request("GET", shared, other)[0] == 403
    assert cluster.request("GET", shared + "/obj", other)[0] == 403
    assert cluster.request("PUT", shared + "/new", other, body=b"x")[0] == 403
    assert cluster.request("DELETE", shared + "/obj", other)[0] == 403


def test_non_admin_user_needs_acls(cluster, shared, owner):
    _url, token = cluster.auth("test:tester3", "testing3")
    user = {"X-Auth-Token": token}
    assert cluster.request("GET", shared + "/obj", user)[0] == 403
    assert cluster.request("PUT", shared + "/up", user, body=b"x")[0] == 403
    assert cluster.request("PUT", "/v1/AUTH_test/" + unique(), user)[0] == 403
    assert cluster.request("POST", shared, dict(owner, **{"X-Container-Read": "test:tester3"}))[0] == 204
    assert cluster.request("GET", shared + "/obj", user)[2] == b"secret"
    assert cluster.request("GET", shared, user)[0] == 200
    assert cluster.request("PUT", shared + "/up", user, body=b"x")[0] == 403
    assert cluster.request("POST", shared, dict(owner, **{"X-Container-Write": "test:tester3"}))[0] == 204
    assert cluster.request("PUT", shared + "/up", user, body=b"x")[0] == 201
    assert cluster.request("DELETE", shared + "/up", user)[0] == 204
    # container-level writes stay the owner's
    assert cluster.request("POST", shared, dict(user, **{"X-Container-Read": ".r:*"}))[0] == 403
    assert cluster.request("DELETE", shared, user)[0] == 403
    # ACL headers are shown to owners only
    assert "x-container-read" in cluster.request("HEAD", shared, owner)[1]
    assert "x-container-read" not in cluster.request("HEAD", shared, user)[1]


def test_cross_account_acl(cluster, shared, owner):
    _url, token = cluster.auth("test2:tester2", "testing2")
    other = {"X-Auth-Token": token}
    assert cluster.request("POST", shared, dict(owner, **{"X-Container-Read": "test2"}))[0] == 204
    assert cluster.request("GET", shared + "/obj", other)[2] == b"secret"


def test_anonymous_only_through_referrer_acls(cluster, shared, owner):
    assert cluster.request("GET", shared + "/obj", {})[0] == 401
    assert cluster.request("POST", shared, dict(owner, **{"X-Container-Read": ".r:*"}))[0] == 204
    assert cluster.request("GET", shared + "/obj", {})[2] == b"secret"
    assert cluster.request("HEAD", shared + "/obj", {})[0] == 200
    assert cluster.request("GET", shared, {})[0] == 401  # no .rlistings
    assert cluster.request("PUT", shared + "/anon", {}, body=b"x")[0] == 401
    assert cluster.request("DELETE", shared + "/obj", {})[0] == 401
    assert cluster.request("POST", shared, dict(owner, **{"X-Container-Read": ".r:*,.rlistings"}))[0] == 204
    assert cluster.request("GET", shared, {})[2] == b"obj\n"
    assert cluster.request("POST", shared, dict(owner, **{"X-Container-Read": ".r:.example.com"}))[0] == 204
    assert cluster.request("GET", shared + "/obj", {"Referer": "http://www.example.com/x"})[0] == 200
    assert cluster.request("GET", shared + "/obj", {"Referer": "http://evil.org/"})[0] == 401
    assert cluster.request("GET", shared + "/obj", {})[0] == 401


@pytest.mark.parametrize("header,value", [
    ("X-Container-Read", ".r:"),
    ("X-Container-Read", ".bogus:x"),
    ("X-Container-Write", ".r:*"),
])
def test_acl_syntax_errors_are_400(cluster, shared, owner, header, value):
    status, _h, body = cluster.request("POST", shared, dict(owner, **{header: value}))
    assert status == 400 and body


def test_reseller_admin_manages_accounts_and_owner_cannot(cluster):
    _url, token = cluster.auth("admin:admin", "admin")
    admin = {"X-Auth-Token": token}
    account = "/v1/AUTH_" + unique("acct")
    assert cluster.request("PUT", account, admin)[0] == 201
    assert cluster.request("POST", account, dict(admin, **{"X-Account-Meta-X": "1"}))[0] == 204
    assert cluster.request("HEAD", account, admin)[1]["x-account-meta-x"] == "1"
    _url, token = cluster.auth("test:tester", "testing")
    assert cluster.request("HEAD", account, {"X-Auth-Token": token})[0] == 403
    assert cluster.request("PUT", "/v1/AUTH_test2", {"X-Auth-Token": token})[0] == 403
    assert cluster.request("DELETE", account, admin)[0] == 204
