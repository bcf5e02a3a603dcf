"""objstore-compute-api: JSON routes, status codes and token validation
against the (FAKE) object store; one test runs the real process."""

import json
import os
import subprocess
import sys
import time
import urllib.request

import pytest

from objstore.client import get_auth
from objstore.common.exceptions import ServiceUnavailable, Unauthorized
from objstore.compute.server import ComputeApiApp, TokenValidator
from objstore.web.app import Request

pytestmark = pytest.mark.compute

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


@pytest.fixture
def creds(fake_swift):
    return get_auth(fake_swift.auth_url, "test:tester", "testing")


@pytest.fixture
def api(host, fake_swift, capture):
    return ComputeApiApp(host, TokenValidator(fake_swift.url), capture[0])


@pytest.fixture
def call(api, creds):
    def call_(method, path, body=None, headers=None, auth=True, raw=None):
        send = {}
        if auth:
            send = {"X-Storage-Url": creds[0], "X-Auth-Token": creds[1]}
        send.update(headers or {})
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = Request.blank(path, method=method, headers=send, body=data or b"")
        resp = req.get_response(api)
        payload = json.loads(resp.body) if resp.body else None
        return resp.status_int, payload

    return call_


def test_token_validator_literals_and_cache(fake_swift, creds):
    now = [100.0]
    validator = TokenValidator(fake_swift.url, cache_seconds=30, clock=lambda: now[0])
    assert validator.check(creds[1], creds[0]) == "AUTH_test"
    fake_swift.tokens.clear()  # revoked: still trusted until the cache expires
    assert validator.check(creds[1], creds[0]) == "AUTH_test"
    now[0] += 31
    with pytest.raises(Unauthorized, match="refused the token"):
        validator.check(creds[1], creds[0])
    for token, url, words in [
        (None, creds[0], "X-Auth-Token is required"),
        ("t", None, "X-Storage-Url is required"),
        ("t", "http://evil.example/v1/AUTH_test", "not an account of"),
        ("t", fake_swift.url + "/v1/", "not an account of"),
    ]:
        with pytest.raises(Unauthorized, match=words):
            validator.check(token, url)
    down = TokenValidator("http://127.0.0.1:1", timeout=2)
    with pytest.raises(ServiceUnavailable):
        down.check("t", "http://127.0.0.1:1/v1/AUTH_test")


def test_auth_is_required(call, creds):
    assert call("GET", "/v1/flavors", auth=False)[0] == 401
    status, body = call("GET", "/v1/flavors", headers={"X-Auth-Token": "AUTH_tkbogus"})
    assert status == 401 and body["error"]["code"] == 401
    assert call("GET", "/v1/flavors")[0] == 200


def test_flavors_images_servers_lifecycle(call, raw_disk, host):
    status, body = call("GET", "/v1/flavors")
    assert status == 200 and body["flavors"][0]["name"] == "m1.tiny"
    assert call("GET", "/v1/flavors/m1.small")[1]["flavor"]["ram_mib"] == 2048
    assert call("GET", "/v1/flavors/m9")[0] == 404
    with open(raw_disk, "rb") as handle:
        status, body = call("POST", "/v1/images?name=raw1", raw=handle.read())
    assert status == 201 and body["image"]["disk_format"] == "raw"
    image_id = body["image"]["id"]
    assert call("GET", "/v1/images")[1]["images"][0]["id"] == image_id
    assert call("GET", "/v1/images/" + image_id)[1]["image"]["name"] == "raw1"
    assert call("POST", "/v1/images?name=bad", raw=b"not a disk")[0] == 400

    status, body = call("POST", "/v1/servers", {"server": {"name": "vm1", "flavor": "m1.tiny", "image": image_id}})
    assert status == 202 and body["server"]["state"] == "ACTIVE"
    sid = body["server"]["id"]
    assert call("GET", "/v1/servers")[1]["servers"][0]["id"] == sid
    assert call("GET", "/v1/servers/" + sid)[1]["server"]["name"] == "vm1"
    for action, state in [
        ({"pause": None}, "PAUSED"),
        ({"unpause": None}, "ACTIVE"),
        ({"suspend": None}, "SUSPENDED"),
        ({"resume": None}, "ACTIVE"),
        ({"os-stop": None}, "STOPPED"),
        ({"os-start": None}, "ACTIVE"),
        ({"reboot": {"type": "SOFT"}}, "ACTIVE"),
        ({"reboot": {"type": "HARD"}}, "ACTIVE"),
    ]:
        status, body = call("POST", "/v1/servers/%s/action" % sid, action)
        assert (status, body["server"]["state"]) == (202, state), action
    status, body = call("POST", "/v1/servers/%s/action" % sid, {"unpause": None})
    assert status == 409 and "while it is ACTIVE" in body["error"]["message"]
    assert call("POST", "/v1/servers/%s/action" % sid, {"explode": None})[0] == 400
    assert call("POST", "/v1/servers/%s/action" % sid, raw=b"{not json")[0] == 400
    assert call("POST", "/v1/servers/%s/action" % sid, {"reboot": {"type": "WARM"}})[0] == 400
    status, body = call("POST", "/v1/servers/%s/action" % sid, {"os-getConsoleOutput": {"length": 5}})
    assert (status, body) == (200, {"output": ""})
    status, body = call("POST", "/v1/servers/%s/action" % sid, {"createImage": {"name": "snap"}})
    assert status == 202 and body["image"]["disk_format"] == "qcow2"

    assert call("POST", "/v1/servers/%s/metadata" % sid, {"metadata": {"a": "1", "b": "2"}})[1] == {
        "metadata": {"a": "1", "b": "2"}
    }
    assert call("PUT", "/v1/servers/%s/metadata/a" % sid, {"meta": {"a": "9"}})[1] == {"meta": {"a": "9"}}
    assert call("GET", "/v1/servers/%s/metadata/a" % sid)[1] == {"meta": {"a": "9"}}
    assert call("DELETE", "/v1/servers/%s/metadata/b" % sid)[0] == 204
    assert call("GET", "/v1/servers/%s/metadata" % sid)[1] == {"metadata": {"a": "9"}}
    assert call("DELETE", "/v1/servers/%s/metadata/b" % sid)[0] == 404
    assert call("PUT", "/v1/servers/%s/metadata/a" % sid, {"meta": {"x": "9"}})[0] == 400

    assert call("DELETE", "/v1/servers/" + sid)[0] == 204
    assert call("GET", "/v1/servers/" + sid)[0] == 404
    assert call("GET", "/v1/servers")[1] == {"servers": []}
    assert call("DELETE", "/v1/images/" + image_id)[0] == 204
    assert call("GET", "/v1/images/" + image_id)[0] == 404


def test_bad_requests(call):
    assert call("POST", "/v1/servers", {"name": "x"})[0] == 400
    status, body = call("POST", "/v1/servers", {"server": {"name": "x", "flavor": "m9", "image": "i"}})
    assert status == 404 and "no flavor" in body["error"]["message"]
    assert call("GET", "/v1/nothing")[0] == 404
    assert call("GET", "/v2/servers")[0] == 404
    assert call("PUT", "/v1/flavors")[0] == 405
    assert call("POST", "/v1/servers/nope/action", {"pause": None})[0] == 404


def test_the_real_process(tmp_path, fake_swift, creds, node_uri):
    conf = tmp_path / "compute.conf"
    conf.write_text(
        "[compute]\nconnection_uri = %s\nstate_dir = %s\n[compute-api]\nbind_port = 0\nobjstore_url = %s\n"
        "[flavor:small]\nvcpus = 1\nram_mib = 64\ndisk_gib = 0\n" % (node_uri, tmp_path / "state", fake_swift.url)
    )
    port_file = tmp_path / "port"
    proc = subprocess.Popen(
        [sys.executable, os.path.join(ROOT, "bin", "objstore-compute-api"), str(conf), "--port-file", str(port_file)],
        env=dict(os.environ, PYTHONPATH=ROOT),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.time() + 30
        while not port_file.exists():
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.time() < deadline, "the API did not start"
            time.sleep(0.05)
        url = "http://127.0.0.1:%s/v1/flavors" % port_file.read_text().strip()
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(url, timeout=10)
        assert info.value.code == 401
        req = urllib.request.Request(url, headers={"X-Auth-Token": creds[1], "X-Storage-Url": creds[0]})
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert json.loads(resp.read()) == {"flavors": [{"name": "small", "vcpus": 1, "ram_mib": 64, "disk_gib": 0}]}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
