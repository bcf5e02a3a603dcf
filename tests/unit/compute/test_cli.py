"""objstore-compute: argparse, output and one-line errors. In-process with
one test-driver connection kept across commands (each new test:///file
connection starts empty), plus the real shim for errors."""

import io
import json
import os
import subprocess
import sys

import pytest

from objstore.compute import cli
from objstore.compute.imagecache import cache_name

pytestmark = pytest.mark.compute

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


@pytest.fixture
def run(hypervisor, fake_swift, tmp_path, monkeypatch):
    monkeypatch.setenv("ST_AUTH", fake_swift.auth_url)
    monkeypatch.setenv("ST_USER", "test:tester")
    monkeypatch.setenv("ST_KEY", "testing")
    monkeypatch.setenv("OBJSTORE_COMPUTE_STATE", str(tmp_path / "state"))

    def run_(*argv, expect=0):
        out, err = io.StringIO(), io.StringIO()
        code = cli.main(list(argv), hypervisor=hypervisor, stdout=out, stderr=err)
        assert code == expect, (argv, code, err.getvalue())
        return out.getvalue(), err.getvalue()

    return run_


def _json(output):
    return json.loads(output)


def test_whole_flow_json(run, raw_disk, tmp_path):
    flavors = _json(run("--json", "flavor-list")[0])
    assert [f["name"] for f in flavors][:2] == ["m1.tiny", "m1.small"]
    image = _json(run("--json", "image-upload", raw_disk, "--name", "raw1")[0])
    assert image["disk_format"] == "raw"
    assert [i["id"] for i in _json(run("--json", "image-list")[0])] == [image["id"]]
    assert _json(run("--json", "image-show", "raw1")[0])["id"] == image["id"]
    inst = _json(run("--json", "boot", "vm1", "--flavor", "m1.tiny", "--image", "raw1", "--meta", "a=b")[0])
    iid = inst["id"]
    assert inst["state"] == "ACTIVE" and inst["metadata"] == {"a": "b"}
    for command, state in [
        ("pause", "PAUSED"),
        ("unpause", "ACTIVE"),
        ("suspend", "SUSPENDED"),
        ("resume", "ACTIVE"),
        ("stop", "STOPPED"),
        ("start", "ACTIVE"),
    ]:
        assert _json(run("--json", command, iid)[0])["state"] == state
    assert _json(run("--json", "reboot", "--hard", "vm1")[0])["state"] == "ACTIVE"
    assert _json(run("--json", "meta-set", iid, "x=1", "y=2")[0])["metadata"] == {"a": "b", "x": "1", "y": "2"}
    assert _json(run("--json", "meta-del", iid, "a")[0])["metadata"] == {"x": "1", "y": "2"}
    with open(inst["console_path"], "w") as handle:
        handle.write("boot\nGUEST-READY\n")
    assert _json(run("--json", "console-log", iid, "--length", "1")[0]) == {"output": "GUEST-READY\n"}
    snap = _json(run("--json", "snapshot", iid, "--name", "s1")[0])
    assert snap["disk_format"] == "qcow2"
    listed = _json(run("--json", "list")[0])
    assert [(i["id"], i["state"]) for i in listed] == [(iid, "ACTIVE")]
    assert _json(run("--json", "delete", iid)[0]) == {"id": iid, "state": "DELETED"}
    assert _json(run("--json", "list")[0]) == []
    assert _json(run("--json", "image-delete", snap["id"])[0]) == {"deleted": [snap["id"]]}


def test_text_output(run, raw_disk):
    out, _ = run("flavor-list")
    assert out.splitlines()[0].split() == ["name", "vcpus", "ram_mib", "disk_gib"]
    run("image-upload", raw_disk, "--name", "raw1")
    out, _ = run("boot", "vm1", "--flavor", "m1.tiny", "--image", "raw1")
    assert "state" in out and "ACTIVE" in out
    out, _ = run("list")
    assert out.splitlines()[0].split() == ["id", "name", "state", "power_state", "flavor"]
    assert "vm1" in out and "m1.tiny" in out


@pytest.mark.parametrize(
    "argv,words",
    [
        (("boot", "vm", "--flavor", "m9.huge", "--image", "x"), "no flavor 'm9.huge'"),
        (("boot", "vm", "--flavor", "m1.tiny", "--image", "nope"), "no image nope"),
        (("show", "nope"), "no instance nope"),
        (("pause", "nope"), "no instance nope"),
        (("image-show", "nope"), "no image nope"),
    ],
)
def test_unknown_things_are_one_line_errors(run, argv, words):
    out, err = run(*argv, expect=1)
    assert out == "" and err.count("\n") == 1 and words in err and err.startswith("objstore-compute: error: ")


def test_bad_image_file_and_bad_transition(run, tmp_path, raw_disk):
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    _, err = run("image-upload", str(text), "--name", "bad", expect=1)
    assert "not a qcow2 or raw disk image" in err and err.count("\n") == 1
    run("image-upload", raw_disk, "--name", "raw1")
    iid = json.loads(run("--json", "boot", "vm1", "--flavor", "m1.tiny", "--image", "raw1")[0])["id"]
    _, err = run("resume", iid, expect=1)
    assert "cannot resume instance" in err and "while it is ACTIVE" in err and err.count("\n") == 1


def test_usage_errors_exit_2_in_one_line(run):
    for argv in (("frobnicate",), ("boot", "vm"), ("meta-set", "x", "novalue"), ()):
        out, err = run(*argv, expect=2)
        assert err.count("\n") == 1 and err.startswith("objstore-compute: error: "), argv


def test_the_shim_with_an_unreachable_libvirt_uri(tmp_path):
    env = dict(os.environ, OBJSTORE_COMPUTE_STATE=str(tmp_path / "state"), PYTHONPATH=ROOT)
    for key in ("ST_AUTH", "ST_USER", "ST_KEY"):
        env.pop(key, None)
    done = subprocess.run(
        [sys.executable, os.path.join(ROOT, "bin", "objstore-compute"), "--libvirt-uri", "qemu+tcp://127.0.0.1:1/system", "list"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "cannot connect to libvirt at qemu+tcp://127.0.0.1:1/system" in done.stderr


def test_the_shim_needs_credentials_for_images(tmp_path):
    env = dict(os.environ, OBJSTORE_COMPUTE_STATE=str(tmp_path / "state"), PYTHONPATH=ROOT)
    for key in ("ST_AUTH", "ST_USER", "ST_KEY"):
        env.pop(key, None)
    done = subprocess.run(
        [sys.executable, os.path.join(ROOT, "bin", "objstore-compute"), "--libvirt-uri", "test:///default", "image-list"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 1 and "give --auth, --user and --key" in done.stderr


def test_cache_prune_output_and_exit_codes(run, raw_disk, tmp_path):
    state = tmp_path / "state"
    run("image-upload", raw_disk, "--name", "raw1")
    image_id = json.loads(run("--json", "image-show", "raw1")[0])["id"]
    iid = json.loads(run("--json", "boot", "vm1", "--flavor", "m1.tiny", "--image", "raw1")[0])["id"]
    base = state / "_base" / cache_name(image_id)
    os.utime(base, (0, 0))  # last used in 1970...
    out, _ = run("cache-prune")
    assert out == "freed 0 bytes (0 files; 1 kept)\n"  # ...but vm1 backs onto it
    run("delete", iid)
    os.utime(base, (0, 0))  # and now nothing uses it
    freed = base.stat().st_blocks * 512
    out, err = run("cache-prune", "--dry-run")
    assert out == "would remove base %s (%d bytes)\nwould free %d bytes (1 files; 0 kept)\n" % (
        cache_name(image_id),
        freed,
        freed,
    )
    assert err == "" and base.exists()
    assert run("cache-prune", "--max-age", "0")[0] == (
        "image cache pruning is disabled (image_cache_max_age = 0): nothing removed\n"
    )
    result = json.loads(run("--json", "cache-prune")[0])
    assert result["bytes_freed"] == freed and not result["dry_run"] and not base.exists()
    assert [(e["file"], e["kind"]) for e in result["removed"]] == [
        (cache_name(image_id), "base"),
        (cache_name(image_id) + ".lock", "lock"),
    ]
    assert run("cache-prune")[0] == "freed 0 bytes (0 files; 0 kept)\n"
    _, err = run("cache-prune", "--max-age", "-5", expect=1)
    assert err == "objstore-compute: error: the maximum age must not be negative\n"
    _, err = run("cache-prune", "--max-age", "soon", expect=2)
    assert err.count("\n") == 1 and "invalid float value" in err
    (state / "_base").rmdir()
    (state / "_base").write_text("not a directory")
    _, err = run("cache-prune", expect=1)
    assert err.startswith("objstore-compute: error: image cache prune failed: ") and err.count("\n") == 1


def test_the_shim_cache_prune_with_an_unreachable_libvirt_uri(tmp_path):
    env = dict(os.environ, OBJSTORE_COMPUTE_STATE=str(tmp_path / "state"), PYTHONPATH=ROOT)
    done = subprocess.run(
        [
            sys.executable,
            os.path.join(ROOT, "bin", "objstore-compute"),
            "--libvirt-uri",
            "qemu+tcp://127.0.0.1:1/system",
            "cache-prune",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 1 and done.stdout == "" and "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1 and "cannot connect to libvirt" in done.stderr
