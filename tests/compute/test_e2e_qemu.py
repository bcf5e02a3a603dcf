"""The real end-to-end test: the tiny busybox guest (tinyguest.py) uploaded to
the object store as a kernel+initramfs image, booted under QEMU TCG through
libvirt's daemonless ``qemu:///embed`` (COMPUTE-NOTES §3.4), then pause,
resume, snapshot into the store, ACPI stop, delete. Timeouts are generous and
every wait polls; nothing sleeps blindly."""

import io
import os
import shutil
import tempfile
import time

import pytest

from objstore.client import Connection
from objstore.compute.config import ComputeConfig, Flavor
from objstore.compute.images import ImageStore
from objstore.compute.manager import Compute, Host
from tests.compute import tinyguest
from tests.compute.qemuhost import need_qemu_embed

pytestmark = pytest.mark.compute

READY_TIMEOUT = 240  # TCG on 2 shared cores: 11-40 s seen; be generous


def wait_for_console(compute, iid, text, timeout):
    deadline = time.monotonic() + timeout
    while True:
        log = compute.console_log(iid)
        if text in log:
            return log
        if time.monotonic() > deadline:
            raise AssertionError("no %r on the console after %ss; it shows:\n%s" % (text, timeout, log[-2000:]))
        time.sleep(0.25)


def qemu_processes(domain):
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as handle:
                    if ("guest=%s," % domain).encode() in handle.read():
                        found.append(int(pid))
            except OSError:
                continue
    return found


@pytest.fixture
def embed_uri():
    root = tempfile.mkdtemp(prefix="objc-", dir="/tmp")  # short: a UNIX socket path lives under it
    os.makedirs(os.path.join(root, "etc"))
    with open(os.path.join(root, "etc", "qemu.conf"), "w") as handle:
        # file stdio (no virtlogd); root so libvirt does not re-probe QEMU at every start
        handle.write('stdio_handler = "file"\nuser = "root"\ngroup = "root"\n')
    yield "qemu:///embed?root=" + root
    shutil.rmtree(root, ignore_errors=True)


def test_tiny_guest_boots_and_lives_its_life(object_store, embed_uri, tmp_path):
    need_qemu_embed()
    from objstore.compute.driver import Hypervisor

    try:
        vmlinuz, initrd = tinyguest.build()
    except tinyguest.GuestBuildError as err:
        pytest.fail("cannot build the tiny guest: %s" % err, pytrace=False)
    conn = Connection(object_store.auth_url, object_store.user, object_store.key)
    config = ComputeConfig(connection_uri=embed_uri, virt_type="qemu", shutdown_timeout=60, soft_reboot_timeout=60)
    host = Host(config, {"tiny": Flavor("tiny", 1, 192, 1)}, Hypervisor(embed_uri), str(tmp_path / "state"))
    compute = Compute(host, ImageStore(conn), owner="AUTH_test")
    image = compute.image_upload("busybox", kernel=vmlinuz, ramdisk=initrd, cmdline="console=ttyS0 quiet panic=-1")
    started = time.monotonic()
    inst = compute.boot("tiny1", "tiny", image["id"])
    iid = inst["id"]
    try:
        assert inst["state"] == "ACTIVE" and inst["power_state"] == "running"
        log = wait_for_console(compute, iid, tinyguest.READY, READY_TIMEOUT)
        ready_after = time.monotonic() - started
        assert "GUEST-BOOT-OK" in log and "block=vda" in log  # the overlay disk is seen by the guest
        print("\n[compute e2e] store=%s guest ready %.1f s after boot()" % (object_store.kind, ready_after))
        pruned = compute.cache_prune(now=time.time() + 365 * 86400)  # a running guest's bases stay
        assert pruned["removed"] == []
        assert host.cache.cached(image["kernel_id"]) and host.cache.cached(image["ramdisk_id"])

        paused = compute.pause(iid)
        assert (paused["state"], paused["power_state"]) == ("PAUSED", "paused")
        resumed = compute.unpause(iid)
        assert (resumed["state"], resumed["power_state"]) == ("ACTIVE", "running")
        before = log.count("HEARTBEAT")
        deadline = time.monotonic() + 60
        while compute.console_log(iid).count("HEARTBEAT") <= before:  # alive again after resume
            assert time.monotonic() < deadline, "no heartbeat after unpause"
            time.sleep(0.25)

        snap = compute.snapshot(iid, "tiny1-snap")
        assert snap["disk_format"] == "qcow2" and snap["kernel_id"] == image["kernel_id"]
        head = io.BytesIO()
        conn.download_object("images", snap["id"], head)
        assert head.getvalue()[:4] == b"QFI\xfb"
        assert compute.show(iid)["state"] == "ACTIVE"

        stopped = compute.stop(iid)
        assert (stopped["state"], stopped["power_state"]) == ("STOPPED", "shutoff")
        assert "GUEST-ACPI-POWER-BUTTON" in compute.console_log(iid)  # graceful, not the hard stop
    finally:
        domain = compute.show(iid)["domain"]
        compute.delete(iid)
    assert host.hypervisor.conn().listAllDomains(0) == []
    assert not os.path.exists(os.path.join(host.state_dir, "instances", iid))
    assert qemu_processes(domain) == []
    compute.image_delete(snap["id"])
    compute.image_delete(image["id"])
    assert compute.image_list() == []
    host.close()
    conn.close()


def test_api_process_serves_embed_and_exits_on_sigterm(object_store, embed_uri, tmp_path):
    """objstore-compute-api runs libvirt's event loop (needed by qemu:///embed)
    in a native thread under eventlet; SIGTERM must still end the process."""
    need_qemu_embed()
    import json
    import signal
    import subprocess
    import sys
    import urllib.request

    from objstore.client import get_auth

    storage_url, token = get_auth(object_store.auth_url, object_store.user, object_store.key)
    base = storage_url.split("/v1/")[0]
    conf = tmp_path / "compute.conf"
    conf.write_text(
        "[compute]\nconnection_uri = %s\nstate_dir = %s\n[compute-api]\nbind_port = 0\nobjstore_url = %s\n"
        % (embed_uri, tmp_path / "state", base)
    )
    port_file = tmp_path / "port"
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    proc = subprocess.Popen(
        [sys.executable, os.path.join(root, "bin", "objstore-compute-api"), str(conf), "--port-file", str(port_file)],
        env=dict(os.environ, PYTHONPATH=root),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not port_file.exists():
            assert proc.poll() is None, "objstore-compute-api exited at start"
            assert time.monotonic() < deadline, "objstore-compute-api did not start"
            time.sleep(0.1)
        req = urllib.request.Request(
            "http://127.0.0.1:%s/v1/servers" % port_file.read_text().strip(),
            headers={"X-Auth-Token": token, "X-Storage-Url": storage_url},
        )
        with urllib.request.urlopen(req, timeout=60) as resp:
            assert json.loads(resp.read()) == {"servers": []}
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
