"""rclone's swift backend against the cluster: copy, sync, ls, check."""

import os
import shutil
import subprocess
import uuid

import pytest

RCLONE = shutil.which("rclone")


def rclone(cluster, *args):
    if RCLONE is None:
        pytest.fail("rclone is not installed (Debian package rclone; `make test` installs it as root)")
    env = dict(os.environ,
               RCLONE_CONFIG_OBJ_TYPE="swift",
               RCLONE_CONFIG_OBJ_USER="test:tester",
               RCLONE_CONFIG_OBJ_KEY="testing",
               RCLONE_CONFIG_OBJ_AUTH=cluster.auth_url,
               RCLONE_CONFIG="/dev/null")
    result = subprocess.run([RCLONE, "--retries", "1", "--low-level-retries", "1"] + list(args),
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_rclone_copy_sync_ls_check(cluster, tmp_path):
    src = tmp_path / "src"
    (src / "sub" / "deeper").mkdir(parents=True)
    (src / "a.txt").write_bytes(b"alpha\n")
    (src / "sub" / "b.bin").write_bytes(os.urandom(300000))
    (src / "sub" / "deeper" / "c \u2603.txt").write_bytes(b"snowman")
    (src / "empty").write_bytes(b"")
    bucket = "rclone-" + uuid.uuid4().hex[:8]
    rclone(cluster, "mkdir", "obj:" + bucket)
    rclone(cluster, "copy", str(src), "obj:" + bucket)
    listed = sorted(line.split(None, 1)[1] for line in rclone(cluster, "ls", "obj:" + bucket).splitlines())
    assert listed == ["a.txt", "empty", "sub/b.bin", "sub/deeper/c \u2603.txt"]
    rclone(cluster, "check", str(src), "obj:" + bucket)
    assert bucket in rclone(cluster, "lsd", "obj:")
    # sync: a changed file, a new one, a deleted one
    (src / "a.txt").write_bytes(b"alpha, changed\n")
    (src / "new.txt").write_bytes(b"new")
    (src / "empty").unlink()
    rclone(cluster, "sync", str(src), "obj:" + bucket)
    rclone(cluster, "check", str(src), "obj:" + bucket)
    listed = sorted(line.split(None, 1)[1] for line in rclone(cluster, "ls", "obj:" + bucket).splitlines())
    assert listed == ["a.txt", "new.txt", "sub/b.bin", "sub/deeper/c \u2603.txt"]
    dest = tmp_path / "back"
    rclone(cluster, "copy", "obj:" + bucket, str(dest))
    assert (dest / "a.txt").read_bytes() == b"alpha, changed\n"
    assert (dest / "sub" / "b.bin").read_bytes() == (src / "sub" / "b.bin").read_bytes()
    rclone(cluster, "purge", "obj:" + bucket)
    assert bucket not in rclone(cluster, "lsd", "obj:")
