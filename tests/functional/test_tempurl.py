"""Temporary URLs as users make them: the key set with ``swift post -m
Temp-URL-Key:...``, the URL printed by ``swift tempurl``, fetched with urllib
and no token."""

import os
import subprocess
import sys
import urllib.error
import urllib.request
import uuid

SWIFT = os.path.join(os.path.dirname(sys.executable), "swift")


def swift(cluster, *args, auth=True):
    cmd = [SWIFT] + (["-A", cluster.auth_url, "-U", "test:tester", "-K", "testing"] if auth else []) + list(args)
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def fetch(url, method="GET", data=None):
    """``(status, headers, body)`` of a request without any token."""
    req = urllib.request.Request(url, method=method, data=data)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def test_swift_tempurl_get_and_put_without_a_token(cluster, tmp_path):
    key = uuid.uuid4().hex
    name = "tempurl-" + uuid.uuid4().hex[:8]
    (tmp_path / "report.txt").write_bytes(b"quarterly numbers\n")
    swift(cluster, "upload", "--object-name", "report.txt", name, str(tmp_path / "report.txt"))
    assert "tempurl" in swift(cluster, "capabilities")
    swift(cluster, "post", "-m", "Temp-URL-Key:" + key)
    try:
        path = "/v1/AUTH_test/%s/report.txt" % name
        url = cluster.url + swift(cluster, "tempurl", "GET", "3600", path, key, auth=False)
        status, headers, body = fetch(url)
        assert status == 200 and body == b"quarterly numbers\n"
        assert headers["Content-Disposition"].startswith('attachment; filename="report.txt"')
        status, headers, _body = fetch(url + "&filename=q3.txt")
        assert status == 200 and 'filename="q3.txt"' in headers["Content-Disposition"]
        assert fetch(url, "HEAD")[0] == 200
        assert fetch(url, "PUT", b"overwritten")[0] == 401  # signed for GET only
        assert fetch(cluster.url + "/v1/AUTH_test/%s?%s" % (name, url.split("?", 1)[1]))[0] == 401  # no listing
        assert fetch(cluster.url + path)[0] == 401  # and nothing without the signature

        put_url = cluster.url + swift(cluster, "tempurl", "PUT", "1h", "/v1/AUTH_test/%s/upload.bin" % name, key,
                                      auth=False)
        status, _headers, _body = fetch(put_url, "PUT", b"\x00\x01uploaded")
        assert status == 201, _body  # urllib's default form Content-Type: the body is the object
        swift(cluster, "download", name, "upload.bin", "-o", str(tmp_path / "got.bin"))
        assert (tmp_path / "got.bin").read_bytes() == b"\x00\x01uploaded"
    finally:
        swift(cluster, "post", "-m", "Temp-URL-Key:")
        swift(cluster, "delete", name)
