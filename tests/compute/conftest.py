"""Fixtures of the compute integration and end-to-end tests.

``object_store``: the REAL objstore cluster (tests/functional/cluster.py: 4
nodes, 3 replicas, proxy with tempauth) started once for this directory; only
if that module is absent does it fall back to the FAKE Swift-like server of
tests/unit/client/fakeswift.py, and ``object_store.kind`` says which
("cluster" or "fake") so the tests report it.

Anything missing on the machine fails the test with what to install; nothing
skips.
"""

import os
import shutil
import types

import pytest

from tests.unit.client.fakeswift import FakeSwift
from tests.unit.compute.conftest import need_libvirt, need_qemu_img  # noqa: F401

USER, KEY = "test:tester", "testing"


@pytest.fixture(scope="session")
def object_store(tmp_path_factory):
    try:
        from tests.functional.cluster import Cluster
    except ImportError:
        Cluster = None
    if Cluster is None:
        fake = FakeSwift({USER: KEY}).start()  # FAKE store: the cluster module is not there
        yield types.SimpleNamespace(kind="fake", auth_url=fake.auth_url, user=USER, key=KEY)
        fake.stop()
        return
    cluster = Cluster(tmp_path_factory.mktemp("compute-cluster"))
    try:
        cluster.start()
    except Exception:
        cluster.stop()
        raise
    yield types.SimpleNamespace(kind="cluster", auth_url=cluster.auth_url, user=USER, key=KEY)
    cluster.stop()


def need_qemu_embed():
    """What the real-VM test needs, or a failure saying what to install."""
    need_libvirt()
    need_qemu_img()
    missing = [exe for exe in ("qemu-system-x86_64",) if shutil.which(exe) is None]
    if missing:
        pytest.fail("qemu-system-x86_64 is missing: apt-get install qemu-system-x86 (make test does it)", pytrace=False)
    drivers = "/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so"
    if not os.path.exists(drivers):
        pytest.fail(
            "libvirt's QEMU driver is missing: apt-get install --no-install-recommends libvirt-daemon-driver-qemu "
            "libvirt-daemon (make test does it)",
            pytrace=False,
        )
    if os.geteuid() != 0:
        pytest.fail("the real-VM test runs qemu:///embed as root (COMPUTE-NOTES §3.4): run it as root", pytrace=False)
    ensure_libvirt_qemu_user()


def ensure_libvirt_qemu_user():
    """libvirt resolves its build-time default user before reading qemu.conf
    (COMPUTE-NOTES §3.2): create it once (idempotent)."""
    import grp
    import pwd
    import subprocess

    try:
        grp.getgrnam("libvirt-qemu")
    except KeyError:
        subprocess.run(["groupadd", "--system", "libvirt-qemu"], check=True)
    try:
        pwd.getpwnam("libvirt-qemu")
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--home-dir",
                "/var/lib/libvirt",
                "--shell",
                "/usr/sbin/nologin",
                "-g",
                "libvirt-qemu",
                "libvirt-qemu",
            ],
            check=True,
        )
