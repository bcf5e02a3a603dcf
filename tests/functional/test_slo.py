"""Static large objects end to end: python-swiftclient's ``swift upload
--use-slo`` of a file, its download, and ``swift delete`` taking the
segments with the manifest."""

import json
import os
import uuid

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
