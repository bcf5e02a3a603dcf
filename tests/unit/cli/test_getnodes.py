"""objstore-get-nodes end to end, through real subprocesses."""

import os
import subprocess
import sys

import pytest

from objstore.common.hashing import hash_path, load_secrets
from objstore.ring.builder import RingBuilder
from objstore.ring.ring import Ring

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def get_nodes(*args, conf=None, shim=False):
    env = dict(os.environ, PYTHONPATH=REPO)
    if conf is None:
        env.pop("OBJSTORE_CONF", None)
        env["OBJSTORE_CONF"] = "/nonexistent/objstore.conf"
    else:
        env["OBJSTORE_CONF"] = conf
    cmd = [sys.executable] + ([os.path.join(REPO, "ring-tools", "objstore-get-nodes")] if shim
                              else ["-m", "objstore.cli.getnodes"])
    proc = subprocess.run(cmd + [str(a) for a in args], capture_output=True, text=True, env=env,
                          timeout=60)
    return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture
def ring_path(tmp_path):
    b = RingBuilder(6, 3, 0)
    for zone in range(1, 6):
        b.add_dev(zone=zone, ip="127.0.0.%d" % zone, port=6200 + zone, device="sd%d" % zone,
                  weight=1)
    b.rebalance(seed=1)
    path = tmp_path / "object.ring.gz"
    b.write_ring(str(path))
    return path


def test_object_lookup(ring_path, objstore_conf):
    code, out, err = get_nodes(ring_path, "AUTH_test", "c", "o 1", conf=objstore_conf)
    assert code == 0, err
    ring = Ring(ring_path, secrets_pair=load_secrets(objstore_conf))
    part, nodes = ring.get_nodes("AUTH_test", "c", "o 1")
    name_hash = hash_path("AUTH_test", "c", "o 1", load_secrets(objstore_conf))
    assert "Partition\t%d" % part in out
    assert "Hash     \t%s" % name_hash in out
    for node in nodes:
        assert "Server:Port Device\t%s:%d %s\n" % (node["ip"], node["port"], node["device"]) in out
        assert 'curl -g -I -XHEAD "http://%s:%d/%s/%d/AUTH_test/c/o%%201"' % (
            node["ip"], node["port"], node["device"], part) in out
        assert "/srv/node*}/%s/objects/%d/%s/%s" % (node["device"], part, name_hash[-3:],
                                                    name_hash) in out
    handoff = next(ring.get_more_nodes(part))
    assert "%s:%d %s\t [Handoff]" % (handoff["ip"], handoff["port"], handoff["device"]) in out


def test_all_handoffs_and_devices_root(ring_path, objstore_conf):
    code, out, _ = get_nodes("--all", "--devices", "/data/dev", ring_path, "AUTH_test", "c",
                             conf=objstore_conf)
    assert code == 0
    assert out.count("[Handoff]") == 2 * 3  # 2 handoffs: server, curl and ssh lines
    assert "/data/dev*}/" in out and "/containers/" in out and "/objects/" not in out


def test_account_lookup_via_shim(ring_path, objstore_conf):
    code, out, _ = get_nodes(ring_path, "AUTH_test", conf=objstore_conf, shim=True)
    assert code == 0 and "/accounts/" in out and "Container" not in out


def test_missing_secrets_is_one_line(ring_path):
    code, out, err = get_nodes(ring_path, "AUTH_test")
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: ")


@pytest.mark.parametrize("args", [(), ("only-a-ring",), ("missing.ring.gz", "a")])
def test_bad_arguments(objstore_conf, args):
    code, _, err = get_nodes(*args, conf=objstore_conf)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_corrupt_ring(tmp_path, objstore_conf):
    bad = tmp_path / "bad.ring.gz"
    bad.write_bytes(b"nope")
    code, _, err = get_nodes(bad, "a", conf=objstore_conf)
    assert code == 2 and err.startswith("error: ")
