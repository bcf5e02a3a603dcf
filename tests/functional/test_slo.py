"""Static large objects end to end: python-swiftclient's ``swift upload
--use-slo`` of a file, its download, and ``swift delete`` taking the
segments with the manifest; a segment lost under a manifest, seen by a raw
HTTP client."""

import http.client
import json
import os
import uuid

import pytest

from tests.functional.test_swift_cli import swift


def test_swift_cli_slo_upload_download_delete(cluster, tmp_path):
    data = os.urandom(2500000)
    (tmp_path / "big.bin").write_bytes(data)
    name = "slo-" + uuid.uuid4().hex[:8]
    swift(cluster, "upload", "--use-slo", "--segment-size", "1000000", name, "big.bin", cwd=tmp_path)
    token = cluster.auth("test:tester", "testing")[1]
    status, headers, body = cluster.request("GET", "/v1/AUTH_test/%s/big.bin?multipart-manifest=get" % name,
                                            {"X-Auth-Token": token})
    assert status == 200
    segments = json.loads(body)
    assert [seg["bytes"] for seg in segments] == [1000000, 1000000, 500000]
    assert all(seg["name"].startswith("/%s_segments/" % name) for seg in segments)
    # the listing shows the SLO's total, not the manifest's bytes, and a clean content type
    long_listing = [line.split() for line in swift(cluster, "list", "--long", name).splitlines()]
    assert [(row[0], row[3], row[-1]) for row in long_listing if row[-1] == "big.bin"] == [
        ("2500000", "application/octet-stream", "big.bin")]  # bytes, date, time, content type, name
    stat = swift(cluster, "stat", name, "big.bin")
    assert "Content Length: 2500000" in stat
    swift(cluster, "download", name, "big.bin", "-o", str(tmp_path / "down.bin"))
    assert (tmp_path / "down.bin").read_bytes() == data
    status, _headers, body = cluster.request("GET", "/v1/AUTH_test/%s/big.bin" % name,
                                             {"X-Auth-Token": token, "Range": "bytes=999990-1000009"})
    assert status == 206 and body == data[999990:1000010]
    swift(cluster, "delete", name, "big.bin")
    assert swift(cluster, "list", name + "_segments").split() == []
    swift(cluster, "delete", name)
    swift(cluster, "delete", name + "_segments")


def test_a_segment_gone_mid_body_cuts_the_connection(cluster, swift):
    name = "slo-" + uuid.uuid4().hex[:8]
    swift.put_container(name)
    parts = [os.urandom(300000) for _ in range(3)]
    for index, part in enumerate(parts):
        swift.put_object(name, "seg%d" % index, part)
    manifest = json.dumps([{"path": "/%s/seg%d" % (name, index), "etag": None, "size_bytes": None}
                           for index in range(3)])
    swift.put_object(name, "big", manifest, query_string="multipart-manifest=put")
    swift.delete_object(name, "seg2")
    token = cluster.auth("test:tester", "testing")[1]
    conn = http.client.HTTPConnection("127.0.0.1", cluster.proxy_port, timeout=30)
    try:
        conn.request("GET", "/v1/AUTH_test/%s/big" % name, headers={"X-Auth-Token": token})
        resp = conn.getresponse()
        assert resp.status == 200 and resp.getheader("Content-Length") == "900000"
        with pytest.raises(http.client.IncompleteRead) as short:
            resp.read()
        # what came is the start of the object (how much of it the client
        # sees before the reset depends on the TCP buffers)
        assert (parts[0] + parts[1]).startswith(short.value.partial)
    finally:
        conn.close()
    swift.delete_object(name, "seg0")  # the first segment gone: 409 before any byte
    status, _headers, body = cluster.request("GET", "/v1/AUTH_test/%s/big" % name, {"X-Auth-Token": token})
    assert status == 409 and b"seg0" in body
