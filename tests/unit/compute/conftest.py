"""Fixtures for the compute unit and integration tests: libvirt's test driver
with a fresh ``test:///<tmp>/node.xml`` per test (``test:///default`` shares
state across the process), and the FAKE Swift-like store of
tests/unit/client/fakeswift.py (not objstore: fast and independent of the
cluster; tests/compute/ runs images through the real cluster).

A missing libvirt binding or qemu-img fails the test with what to install; it
never skips.
"""

import os

import pytest

from objstore.client import Connection
from objstore.compute.config import DEFAULT_FLAVORS, ComputeConfig
from objstore.compute.images import ImageStore
from objstore.compute.manager import Compute, Host
from tests.unit.client.fakeswift import FakeSwift
from tests.unit.compute.needs import NODE_XML, need_libvirt, need_qemu_img

@pytest.fixture
def node_uri(tmp_path):
    """A private test-driver URI: every open() of it starts from this file."""
    path = tmp_path / "node.xml"
    path.write_text(NODE_XML)
    return "test://" + str(path)


@pytest.fixture
def hypervisor(node_uri):
    need_libvirt()
    from objstore.compute.driver import Hypervisor

    hv = Hypervisor(node_uri)
    yield hv
    hv.close()


@pytest.fixture
def fake_swift():
    store = FakeSwift().start()
    yield store
    store.stop()


@pytest.fixture
def conn(fake_swift):
    c = Connection(fake_swift.auth_url, "test:tester", "testing")
    yield c
    c.close()


@pytest.fixture
def image_store(conn):
    return ImageStore(conn)


@pytest.fixture
def compute_config(node_uri):
    return ComputeConfig(connection_uri=node_uri, shutdown_timeout=1.0, soft_reboot_timeout=1.0, console_log_max=1024)


@pytest.fixture
def host(compute_config, hypervisor, tmp_path):
    need_qemu_img()
    h = Host(compute_config, {f.name: f for f in DEFAULT_FLAVORS}, hypervisor, str(tmp_path / "state"))
    yield h
    h.records.close()


@pytest.fixture
def compute(host, image_store):
    return Compute(host, image_store, owner="AUTH_test")


@pytest.fixture
def raw_disk(tmp_path):
    """A 1 MiB raw disk image whose first bytes say what it is."""
    path = tmp_path / "disk.raw"
    path.write_bytes(b"OBJSTORE-DISK-01".ljust(1 << 20, b"\0"))
    return str(path)


@pytest.fixture
def kernel_pair(tmp_path):
    """Files that pass the kernel/initramfs checks (not bootable: the test driver runs nothing)."""
    kernel = tmp_path / "vmlinuz"
    data = bytearray(8192)
    data[0x202:0x206] = b"HdrS"
    kernel.write_bytes(bytes(data))
    ramdisk = tmp_path / "initrd.img"
    ramdisk.write_bytes(b"\x1f\x8b" + os.urandom(1000))
    return str(kernel), str(ramdisk)


@pytest.fixture
def raw_image(compute, raw_disk):
    return compute.image_upload("raw1", raw_disk)
