"""python-swiftclient's ``swift`` command line against the cluster, including
a segmented upload (a dynamic large object)."""

import os
import subprocess
import sys
import uuid

SWIFT = os.path.join(os.path.dirname(sys.executable), "swift")


def swift(cluster, *args, cwd=None):
    cmd = [SWIFT, "-A", cluster.auth_url, "-U", "test:tester", "-K", "testing"] + list(args)
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=cwd)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_swift_cli_upload_list_stat_post_download_delete(cluster, tmp_path):
    up = tmp_path / "up"
    (up / "sub").mkdir(parents=True)
    (up / "a.txt").write_bytes(b"hello\n")
    big = os.urandom(2500000)
    (up / "sub" / "big.bin").write_bytes(big)
    name = "cli-" + uuid.uuid4().hex[:8]
    swift(cluster, "upload", name, "up", cwd=tmp_path)
    # a dynamic large object (the swift CLI makes a static one by default,
    # since /info announces slo: tests/functional/test_slo.py)
    swift(cluster, "upload", "--use-dlo", "--segment-size", "1000000", name, "up/sub/big.bin", cwd=tmp_path)
    assert swift(cluster, "list", name).split() == ["up/a.txt", "up/sub/big.bin"]
    stat = swift(cluster, "stat", name, "up/sub/big.bin")
    assert "Content Length: 2500000" in stat and "Manifest:" in stat
    swift(cluster, "post", "-m", "color:blue", name)
    assert "Meta Color: blue" in swift(cluster, "stat", name)
    swift(cluster, "download", name, "-D", str(tmp_path / "down"))
    assert (tmp_path / "down" / "up" / "sub" / "big.bin").read_bytes() == big
    assert (tmp_path / "down" / "up" / "a.txt").read_bytes() == b"hello\n"
    status, headers, body = cluster.request(
        "GET", "/v1/AUTH_test/%s/up/sub/big.bin" % name,
        {"X-Auth-Token": cluster.auth("test:tester", "testing")[1], "Range": "bytes=999990-1000009"})
    assert status == 206 and body == big[999990:1000010]
    swift(cluster, "delete", name)
    swift(cluster, "delete", name + "_segments")
    assert name not in swift(cluster, "list").split()
