"""tempurl: the signature and query functions with literals, then temp URLs
through tempurl + tempauth + the proxy over real account, container and
object servers (each served by eventlet's WSGI server in its own thread)."""

import base64
import dataclasses
import json
import time
import urllib.parse

import pytest
from swiftclient.utils import generate_temp_url

from objstore.common.constraints import DEFAULT
from objstore.common.exceptions import ConfigError, Unauthorized
from objstore.proxy.middleware import tempauth, tempurl
from objstore.proxy.middleware.tempurl import (
    Config, disposition, ip_allowed, keys_of, load_config, matching_key, name_matcher, parse_expires,
    parse_query, parse_signature, signature, signed_path,
)
from objstore.proxy.server import ProxyApp, ProxyServerConfig
from objstore.web.app import Request
from tests.unit.proxy import realnodes

PATH = "/v1/AUTH_test/c/o"
# HMAC(b"mykey", b"GET\n1700000000\n/v1/AUTH_test/c/o"), worked out once with hashlib
SHA1 = "3994d403a1e371c61672cc49d49e3504805f4887"
SHA256 = "7d8e44a645aab88cf197df39a844fc98555dad169375805007f6e9b55a5c9370"
SHA512_B64 = "HMKjP-WxpBiTUiQeNX60E3hSrPe529erBIA_rTrKvSyMR_8w9GeS7Y_w3aDzmQzIv_z0F5HBgKnxPnLPLULrNA"
SHA512_HEX = ("1cc2a33fe5b1a4189352241e357eb4137852acf7b9dbd7ab04803fad3acabd2c"
              "8c47ff30f46792ed8ff0dda0f3990cc8bffcf41791c180a9f13e72cf2d42eb34")


# --- pure functions -------------------------------------------------------------------------
def test_signature_for_each_digest():
    assert signature("mykey", "GET", 1700000000, PATH, "sha1") == SHA1
    assert signature("mykey", "GET", 1700000000, PATH, "sha256") == SHA256
    assert signature("mykey", "GET", 1700000000, PATH, "sha512") == SHA512_HEX
    assert signature("mykey", "GET", 1700000000, "prefix:/v1/AUTH_test/c/pre", "sha256", "127.0.0.1") == (
        "28ba12f491d5fde3a8dff6784dcf3deb69115c38701f16f021bcd01dff64ce52")


def test_parse_signature_hex_and_prefixed_forms():
    assert parse_signature(SHA1) == ("sha1", SHA1)
    assert parse_signature(SHA256.upper()) == ("sha256", SHA256)
    assert parse_signature("sha512:" + SHA512_B64) == ("sha512", SHA512_HEX)
    standard = base64.b64encode(bytes.fromhex(SHA512_HEX)).decode()  # "+" and "/", padded
    assert parse_signature("sha512:" + standard) == ("sha512", SHA512_HEX)
    assert parse_signature("sha512:" + standard.replace("+", " ")) == ("sha512", SHA512_HEX)  # "+" sent unquoted
    sha1_b64 = base64.urlsafe_b64encode(bytes.fromhex(SHA1)).decode()
    assert parse_signature("sha1:" + sha1_b64) == ("sha1", SHA1)
    assert parse_signature(SHA512_HEX) is None  # sha512 only in the prefixed form (Swift's docs)
    assert parse_signature("md5:" + sha1_b64) is None
    assert parse_signature("sha256:" + sha1_b64) is None  # a sha1-sized digest under another name
    assert parse_signature("sha256:!!!") is None
    assert parse_signature("z" * 40) is None
    assert parse_signature("abc") is None


def test_parse_expires_both_forms():
    assert parse_expires("1700000000") == 1700000000
    assert parse_expires("2023-11-14T22:13:20Z") == 1700000000
    assert parse_expires("2023-11-14T22:13:20") is None
    assert parse_expires("soon") is None


def test_parse_query():
    assert parse_query("") is None and parse_query("format=json&filename=x") is None
    q = parse_query("temp_url_sig=%s&temp_url_expires=1700000000&temp_url_prefix=pre&filename=a+b.pdf&inline"
                    % SHA1)
    assert (q.sig, q.expires, q.prefix, q.filename, q.inline, q.ip_range) == (
        SHA1, "1700000000", "pre", "a b.pdf", True, None)
    q = parse_query("temp_url_sig=%s&temp_url_expires=1&temp_url_ip_range=10.0.0.0/8" % SHA1)
    assert q.ip_range == "10.0.0.0/8" and q.prefix is None and not q.inline
    for broken in ("temp_url_sig=abc", "temp_url_expires=1", "temp_url_sig=&temp_url_expires=1"):
        with pytest.raises(Unauthorized):
            parse_query(broken)


def test_matching_key_accepts_only_the_signed_method_path_and_expiry():
    keys = [("other", "account"), ("mykey", "container")]
    assert matching_key(SHA1, "sha1", ("GET",), 1700000000, PATH, keys) == ("mykey", "container")
    assert matching_key(SHA256, "sha256", ("GET",), 1700000000, PATH, keys) == ("mykey", "container")
    assert matching_key(SHA512_HEX, "sha512", ("GET",), 1700000000, PATH, keys) == ("mykey", "container")
    assert matching_key(SHA1, "sha1", ("PUT",), 1700000000, PATH, keys) is None
    assert matching_key(SHA1, "sha1", ("HEAD", "GET", "PUT", "POST"), 1700000000, PATH, keys) is not None
    assert matching_key(SHA1, "sha1", ("GET",), 1700000001, PATH, keys) is None
    assert matching_key(SHA1, "sha1", ("GET",), 1700000000, "/v1/AUTH_test/c/o2", keys) is None
    assert matching_key(SHA1, "sha256", ("GET",), 1700000000, PATH, keys) is None
    assert matching_key(SHA1, "sha1", ("GET",), 1700000000, PATH, [("other", "account")]) is None
    assert matching_key(SHA1, "sha1", ("GET",), 1700000000, PATH, []) is None


def test_swiftclient_urls_verify():
    """swiftclient's generate_temp_url (what ``swift tempurl`` prints) as an outside witness."""
    for digest in ("sha1", "sha256", "sha512"):
        url = generate_temp_url(PATH, 1700000000, "mykey", "GET", absolute=True, digest=digest)
        q = parse_query(urllib.parse.urlsplit(url).query)
        name, sig_hex = parse_signature(q.sig)
        assert name == digest
        assert matching_key(sig_hex, name, ("GET",), parse_expires(q.expires), PATH, [("mykey", "account")])
    url = generate_temp_url("/v1/AUTH_test/c/pre", 1700000000, "mykey", "PUT", absolute=True, prefix=True,
                            iso8601=True, ip_range="127.0.0.0/8")
    q = parse_query(urllib.parse.urlsplit(url).query)
    assert q.prefix == "pre" and q.expires == "2023-11-14T22:13:20Z" and q.ip_range == "127.0.0.0/8"
    name, sig_hex = parse_signature(q.sig)
    assert matching_key(sig_hex, name, ("PUT",), parse_expires(q.expires), signed_path("AUTH_test", "c", "x", "pre"),
                        [("mykey", "account")], q.ip_range)


def test_signed_path_keys_ips_headers():
    assert signed_path("AUTH_a", "c", "o/p") == "/v1/AUTH_a/c/o/p"
    assert signed_path("AUTH_a", "c", "o/p", "o/") == "prefix:/v1/AUTH_a/c/o/"
    assert keys_of({"temp-url-key": "a", "temp-url-key-2": "b", "other": "c"}) == ["a", "b"]
    assert keys_of({"temp-url-key-2": "", "temp-url-key": "a"}) == ["a"]
    assert ip_allowed("127.0.0.0/8", "127.0.0.5") and ip_allowed("10.1.2.3", "10.1.2.3")
    assert not ip_allowed("10.0.0.0/8", "127.0.0.1") and not ip_allowed("nonsense", "127.0.0.1")
    drop = name_matcher(["x-object-meta-*", "x-timestamp"])
    assert drop("x-object-meta-a") and drop("x-timestamp") and not drop("x-timestamps") and not drop("etag")
    assert not name_matcher([])("anything")
    assert disposition("attachment", 'my "report".pdf') == (
        "attachment; filename=\"my %22report%22.pdf\"; filename*=UTF-8''my%20%22report%22.pdf")
    assert disposition("inline", "ü") == "inline; filename=\"%C3%BC\"; filename*=UTF-8''%C3%BC"


def test_load_config_checks_digests_and_uppercases_methods():
    config = load_config({"methods": "get head", "allowed_digests": "SHA256", "use": "egg:objstore#tempurl"},
                         "p.conf", "filter:tempurl")
    assert config.methods == ("GET", "HEAD") and config.allowed_digests == ("sha256",)
    assert load_config({}, "p.conf", "filter:tempurl") == Config()
    with pytest.raises(ConfigError, match="md5"):
        load_config({"allowed_digests": "md5 sha256"}, "p.conf", "filter:tempurl")
    with pytest.raises(ConfigError, match="empty"):
        load_config({"allowed_digests": ""}, "p.conf", "filter:tempurl")


# --- through the proxy over real storage servers ---------------------------------------------
USERS = ("test:tester testing .admin", "test:tester3 testing3")


@dataclasses.dataclass
class Cluster:
    wsgi: object
    proxy: ProxyApp
    auth: tempauth.TempAuth
    rings: list

    def token(self, user="test:tester"):
        return self.auth.make_token(tempauth.User(next(u for u in USERS if u.startswith(user + " "))))[0]

    def call(self, path, method="GET", user=None, headers=None, body=None, wsgi=None):
        headers = dict(headers or {})
        if user:
            headers["X-Auth-Token"] = self.token(user)
        req = Request.blank(path, method=method, headers=headers, body=body)
        req.environ["REMOTE_ADDR"] = "127.0.0.1"
        return req.get_response(wsgi or self.wsgi)


def build_pipeline(proxy, logger, config=Config()):
    auth = tempauth.filter_factory(proxy, tempauth.Config(users=USERS), logger, proxy)
    auth.secret = b"k" * 32
    return tempurl.filter_factory(auth, config, logger, proxy), auth


def make_proxy(rings, logger):
    config = ProxyServerConfig(account_autocreate=True, node_timeout=5.0)
    return ProxyApp(config, logger, rings[2], rings[1], rings[0], DEFAULT)


@pytest.fixture
def cluster(tmp_path, objstore_conf, capture):
    logger, _handler = capture
    servers, rings = realnodes.start(tmp_path, logger)
    proxy = make_proxy(rings, logger)
    wsgi, auth = build_pipeline(proxy, logger)
    made = Cluster(wsgi, proxy, auth, rings)
    assert made.call("/v1/AUTH_test/c", "PUT", "test:tester").status_int == 201
    assert made.call("/v1/AUTH_test/c/o", "PUT", "test:tester", {"X-Object-Meta-Secret": "s",
                                                                 "X-Object-Meta-Public-Color": "red"},
                     body=b"hello").status_int == 201
    yield made
    realnodes.stop(proxy, servers)


def temp(path, method="GET", key="secret", seconds=60, **kwargs):
    return generate_temp_url(path, seconds, key, method, **kwargs)


def set_account_key(cluster, key="secret", name="Temp-URL-Key"):
    resp = cluster.call("/v1/AUTH_test", "POST", "test:tester", {"X-Account-Meta-" + name: key})
    assert resp.status_int == 204, resp.body


def test_get_head_put_without_a_token(cluster):
    assert cluster.call("/v1/AUTH_test/c/o").status_int == 401  # no token, no temp URL
    set_account_key(cluster)
    resp = cluster.call(temp(PATH))
    assert resp.status_int == 200 and resp.body == b"hello"
    assert resp.headers["Content-Disposition"] == "attachment; filename=\"o\"; filename*=UTF-8''o"
    assert "Expires" in resp.headers
    assert "X-Object-Meta-Secret" not in resp.headers and resp.headers["X-Object-Meta-Public-Color"] == "red"
    assert cluster.call(temp(PATH), "HEAD").status_int == 200  # HEAD with a GET signature
    assert cluster.call(temp(PATH, "PUT"), "HEAD").status_int == 200
    resp = cluster.call(temp(PATH, "PUT", digest="sha512"), "PUT", body=b"new body")
    assert resp.status_int == 201, resp.body
    assert cluster.call(temp(PATH, digest="sha1")).body == b"new body"
    assert cluster.call(temp(PATH, iso8601=True)).body == b"new body"
    assert cluster.call(temp("/v1/AUTH_test/c/gone", "DELETE"), "DELETE").status_int == 404
    assert cluster.call(temp(PATH, "DELETE"), "DELETE").status_int == 204


def test_a_form_encoded_put_keeps_its_body(cluster):
    """urllib sends application/x-www-form-urlencoded by default; the proxy
    once read such a PUT's body as form fields (req.params) and stored nothing."""
    set_account_key(cluster)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert cluster.call(temp(PATH, "PUT"), "PUT", headers=form, body=b"a=b").status_int == 201
    assert cluster.call(temp(PATH)).body == b"a=b"
    assert cluster.call(PATH, "PUT", "test:tester", form, body=b"c=d").status_int == 201
    assert cluster.call(temp(PATH)).body == b"c=d"


def test_invalid_urls_are_401(cluster):
    set_account_key(cluster)
    resp = cluster.call(temp(PATH), "PUT", body=b"x")  # a GET signature used for PUT
    assert resp.status_int == 401 and b"temp URL invalid" in resp.body
    assert resp.headers["Www-Authenticate"] == 'Swift realm="AUTH_test"'
    assert cluster.call(temp(PATH).replace("/c/o?", "/c/o2?")).status_int == 401  # another path
    assert cluster.call(temp(PATH, seconds=int(time.time()) - 10, absolute=True)).status_int == 401  # expired
    assert cluster.call(temp(PATH, key="wrong")).status_int == 401
    assert cluster.call(temp(PATH, "POST"), "HEAD").status_int == 200
    far = 10 ** 20  # valid until an unprintable date: served, without an Expires header
    resp = cluster.call("%s?temp_url_sig=%s&temp_url_expires=%d" % (PATH, signature("secret", "GET", far, PATH), far))
    assert resp.status_int == 200 and "Expires" not in resp.headers
    assert cluster.call(temp(PATH, "DELETE"), "HEAD").status_int == 401
    url = temp(PATH)
    tampered = url.replace("temp_url_expires=", "temp_url_expires=1")
    assert cluster.call(tampered).status_int == 401
    assert cluster.call(PATH + "?temp_url_sig=abc").status_int == 401
    resp = cluster.call(temp(PATH, key="wrong"), "HEAD")
    assert resp.status_int == 401 and resp.body == b""
    # sha1 turned off by the operator
    sha256_only, _auth = build_pipeline(cluster.proxy, cluster.proxy.logger, load_config(
        {"allowed_digests": "sha256 sha512"}, "p.conf", "filter:tempurl"))
    assert cluster.call(temp(PATH, digest="sha1"), wsgi=sha256_only).status_int == 401
    assert cluster.call(temp(PATH), wsgi=sha256_only).status_int == 200


def test_a_temp_url_grants_nothing_else(cluster):
    set_account_key(cluster)
    assert cluster.call("/v1/AUTH_test/c/other", "PUT", "test:tester", body=b"other").status_int == 201
    # the object's URL used on the container, the account, or with another object copied in
    query = urllib.parse.urlsplit(temp(PATH)).query
    assert cluster.call("/v1/AUTH_test/c?" + query).status_int == 401
    assert cluster.call("/v1/AUTH_test/c/?" + query + "&temp_url_prefix=").status_int == 401
    assert cluster.call("/v1/AUTH_test?" + query).status_int == 401
    # a container listing signed as if it were an object path
    assert cluster.call(temp("/v1/AUTH_test/c/x").replace("/c/x?", "/c/?")).status_int == 401
    resp = cluster.call(temp(PATH, "PUT"), "PUT", headers={"X-Copy-From": "c/other", "Content-Length": "0"})
    assert resp.status_int == 401
    resp = cluster.call(temp(PATH, "PUT"), "PUT", headers={"X-Object-Manifest": "c/oth"}, body=b"")
    assert resp.status_int == 400 and b"X-Object-Manifest" in resp.body
    resp = cluster.call(temp(PATH, "POST"), "POST", headers={"X-Object-Manifest": "c/oth"})
    assert resp.status_int == 400
    # other query parameters are dropped: the manifest view is not reachable
    resp = cluster.call(temp(PATH) + "&multipart-manifest=get&format=json")
    assert resp.status_int == 200 and resp.body == b"hello"


def test_prefix_urls(cluster):
    set_account_key(cluster)
    for name in ("pre/a", "pre/b/c", "prelude"):
        assert cluster.call("/v1/AUTH_test/c/" + name, "PUT", "test:tester", body=name.encode()).status_int == 201
    url = temp("/v1/AUTH_test/c/pre/", prefix=True)
    query = urllib.parse.urlsplit(url).query
    assert cluster.call("/v1/AUTH_test/c/pre/a?" + query).body == b"pre/a"
    assert cluster.call("/v1/AUTH_test/c/pre/b/c?" + query).body == b"pre/b/c"
    assert cluster.call("/v1/AUTH_test/c/prelude?" + query).status_int == 401
    assert cluster.call("/v1/AUTH_test/c/o?" + query).status_int == 401
    assert cluster.call("/v1/AUTH_test/c/pre/a?" + query.replace("temp_url_prefix=pre/", "temp_url_prefix=pre")
                        ).status_int == 401  # the prefix is signed


def test_ip_range(cluster):
    set_account_key(cluster)
    assert cluster.call(temp(PATH, ip_range="127.0.0.0/8")).status_int == 200
    assert cluster.call(temp(PATH, ip_range="10.0.0.0/8")).status_int == 401
    url = temp(PATH, ip_range="10.0.0.0/8").replace("10.0.0.0/8", "127.0.0.0/8")
    assert cluster.call(url).status_int == 401  # the range is signed


def test_filename_and_inline(cluster):
    set_account_key(cluster)
    resp = cluster.call(temp(PATH) + "&filename=My+Report.pdf")
    assert resp.headers["Content-Disposition"] == (
        "attachment; filename=\"My Report.pdf\"; filename*=UTF-8''My%20Report.pdf")
    assert cluster.call(temp(PATH) + "&inline").headers["Content-Disposition"] == "inline"
    resp = cluster.call(temp(PATH) + "&inline&filename=a.txt")
    assert resp.headers["Content-Disposition"] == "inline; filename=\"a.txt\"; filename*=UTF-8''a.txt"
    cluster.call(PATH, "POST", "test:tester", {"Content-Disposition": "attachment; filename=mine"})
    assert cluster.call(temp(PATH)).headers["Content-Disposition"] == "attachment; filename=mine"


def test_container_keys_open_their_container_only(cluster):
    assert cluster.call("/v1/AUTH_test/c2", "PUT", "test:tester",
                        {"X-Container-Meta-Temp-URL-Key-2": "ckey", "X-Container-Read": "test:tester3"}).status_int == 201
    assert cluster.call("/v1/AUTH_test/c2/o", "PUT", "test:tester", body=b"two").status_int == 201
    assert cluster.call(temp("/v1/AUTH_test/c2/o", key="ckey")).body == b"two"
    assert cluster.call(temp(PATH, key="ckey")).status_int == 401  # not a key of container c
    # the keys show to the owner only
    owner = cluster.call("/v1/AUTH_test/c2", "HEAD", "test:tester")
    assert owner.headers["X-Container-Meta-Temp-Url-Key-2"] == "ckey"
    reader = cluster.call("/v1/AUTH_test/c2", "HEAD", "test:tester3")
    assert reader.status_int == 204 and "X-Container-Meta-Temp-Url-Key-2" not in reader.headers
    # and only the owner sets them
    assert cluster.call("/v1/AUTH_test/c2", "POST", "test:tester3",
                        {"X-Container-Meta-Temp-URL-Key": "mine"}).status_int == 403
    assert cluster.call("/v1/AUTH_test", "POST", "test:tester3",
                        {"X-Account-Meta-Temp-URL-Key": "mine"}).status_int == 403
    assert cluster.call(temp("/v1/AUTH_test/c2/o", key="mine")).status_int == 401


def test_dynamic_large_object_segments(cluster):
    """A manifest read through a temp URL lists its segments: with an account
    key in any container of the account, with a container key only where the
    segments' container holds the same key."""
    assert cluster.call("/v1/AUTH_test/segs", "PUT", "test:tester").status_int == 201
    for name in ("seg/1", "seg/2"):
        assert cluster.call("/v1/AUTH_test/segs/" + name, "PUT", "test:tester", body=name.encode()).status_int == 201
    assert cluster.call("/v1/AUTH_test/c2", "PUT", "test:tester", {"X-Container-Meta-Temp-URL-Key": "ckey"}
                        ).status_int == 201
    assert cluster.call("/v1/AUTH_test/c2/big", "PUT", "test:tester", {"X-Object-Manifest": "segs/seg/"},
                        body=b"").status_int == 201
    assert cluster.call(temp("/v1/AUTH_test/c2/big", key="ckey")).status_int == 401
    assert cluster.call("/v1/AUTH_test/segs", "POST", "test:tester", {"X-Container-Meta-Temp-URL-Key": "ckey"}
                        ).status_int == 204
    assert cluster.call(temp("/v1/AUTH_test/c2/big", key="ckey")).body == b"seg/1seg/2"
    set_account_key(cluster, "akey")
    assert cluster.call(temp("/v1/AUTH_test/c2/big", key="akey")).body == b"seg/1seg/2"


def test_static_large_object_segments(cluster):
    assert cluster.call("/v1/AUTH_test/segs", "PUT", "test:tester").status_int == 201
    for name in ("s1", "s2"):
        assert cluster.call("/v1/AUTH_test/segs/" + name, "PUT", "test:tester", body=name.encode()).status_int == 201
    manifest = json.dumps([{"path": "/segs/s1"}, {"path": "/segs/s2"}]).encode()
    resp = cluster.call("/v1/AUTH_test/c/slo?multipart-manifest=put", "PUT", "test:tester", body=manifest)
    assert resp.status_int == 201, resp.body
    set_account_key(cluster)
    assert cluster.call(temp("/v1/AUTH_test/c/slo")).body == b"s1s2"
    assert cluster.call(temp("/v1/AUTH_test/c/slo"), "HEAD").headers["Content-Length"] == "4"
    # a PUT temp URL cannot read another object through its copy source
    resp = cluster.call(temp(PATH, "PUT"), "PUT", headers={"X-Copy-From": "segs/s1", "Content-Length": "0"})
    assert resp.status_int == 401


def test_key_rotation_and_another_worker(cluster, capture):
    """A key set through another proxy worker works at once (the cached info
    is read afresh when no cached key matches); Key-2 lets keys rotate."""
    other, _auth = build_pipeline(make_proxy(cluster.rings, capture[0]), capture[0])
    assert cluster.call(temp(PATH, key="first")).status_int == 401  # caches account info without a key
    resp = cluster.call("/v1/AUTH_test", "POST", "test:tester", {"X-Account-Meta-Temp-URL-Key": "first"}, wsgi=other)
    assert resp.status_int == 204
    url = temp(PATH, key="first")
    assert cluster.call(url).status_int == 200
    set_account_key(cluster, "second", "Temp-URL-Key-2")
    assert cluster.call(url).status_int == 200 and cluster.call(temp(PATH, key="second")).status_int == 200
    cluster.call("/v1/AUTH_test", "POST", "test:tester", {"X-Remove-Account-Meta-Temp-URL-Key": "x"})
    assert cluster.call(url).status_int == 401
    assert cluster.call(temp(PATH, key="second")).status_int == 200


def test_info_announces_tempurl(cluster):
    info = json.loads(cluster.call("/info").body)
    assert info["tempurl"] == {
        "methods": ["GET", "HEAD", "PUT", "POST", "DELETE"],
        "allowed_digests": ["sha1", "sha256", "sha512"],
        "incoming_remove_headers": ["x-timestamp"], "incoming_allow_headers": [],
        "outgoing_remove_headers": ["x-object-meta-*"], "outgoing_allow_headers": ["x-object-meta-public-*"],
    }


def test_normal_requests_pass_untouched(cluster):
    resp = cluster.call(PATH, user="test:tester")
    assert resp.body == b"hello" and "Content-Disposition" not in resp.headers
    assert resp.headers["X-Object-Meta-Secret"] == "s"
    assert cluster.call("/v1/AUTH_test/c?format=json", user="test:tester").status_int == 200
