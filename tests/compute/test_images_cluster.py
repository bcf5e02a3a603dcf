"""Images moving through the object store (the real cluster, see conftest):
upload, list, boot on libvirt's test driver (fetched once into the cache,
checksum verified), snapshot back into the store, delete with parts."""

import io
import os

import pytest

from objstore.client import Connection
from objstore.compute.config import DEFAULT_FLAVORS, ComputeConfig
from objstore.compute.images import ImageStore
from objstore.compute.manager import Compute, Host
from tests.unit.compute.needs import NODE_XML, need_libvirt, need_qemu_img

pytestmark = pytest.mark.compute


def test_images_through_the_object_store(object_store, tmp_path):
    need_libvirt()
    need_qemu_img()
    from objstore.compute.driver import Hypervisor

    node = tmp_path / "node.xml"
    node.write_text(NODE_XML)
    uri = "test://" + str(node)
    conn = Connection(object_store.auth_url, object_store.user, object_store.key)
    host = Host(
        ComputeConfig(connection_uri=uri, shutdown_timeout=1),
        {f.name: f for f in DEFAULT_FLAVORS},
        Hypervisor(uri),
        str(tmp_path / "state"),
    )
    compute = Compute(host, ImageStore(conn), owner="AUTH_test")
    disk = tmp_path / "disk.raw"
    disk.write_bytes(b"OBJSTORE-DISK-01".ljust(3 << 20, b"\x5a"))
    kernel = tmp_path / "vmlinuz"
    data = bytearray(70000)
    data[0x202:0x206] = b"HdrS"
    kernel.write_bytes(bytes(data))
    ramdisk = tmp_path / "initrd"
    ramdisk.write_bytes(b"\x1f\x8b" + os.urandom(50000))
    raw = compute.image_upload("raw-" + object_store.kind, str(disk))
    pair = compute.image_upload("pair", str(disk), kernel=str(kernel), ramdisk=str(ramdisk), cmdline="console=ttyS0")
    names = sorted(i["name"] for i in compute.image_list())
    assert names == sorted(["raw-" + object_store.kind, "pair", "pair-kernel", "pair-ramdisk"])
    _, rows = conn.get_container("images")
    assert len(rows) == 4 and all(row["bytes"] > 0 for row in rows if row["name"] == raw["id"])

    inst = compute.boot("vm", "m1.tiny", pair["id"])
    assert inst["state"] == "ACTIVE"
    for part in (pair["id"], pair["kernel_id"], pair["ramdisk_id"]):
        assert host.cache.cached(part)
    with open(host.cache.path_for(pair["kernel_id"]), "rb") as handle:
        assert handle.read() == bytes(data)
    snap = compute.snapshot(inst["id"], "snap")
    body = io.BytesIO()
    headers, size = conn.download_object("images", snap["id"], body)
    assert body.getvalue()[:4] == b"QFI\xfb" and size == snap["size"]
    assert headers["x-object-meta-kernel-id"] == pair["kernel_id"]
    second = compute.boot("vm2", "m1.tiny", snap["id"])
    assert second["state"] == "ACTIVE"
    for view in compute.list():
        compute.delete(view["id"])
    for image in (pair, raw, snap):
        compute.image_delete(image["id"])
    assert compute.image_list() == []
    assert conn.get_container("images")[1] == []
    assert not host.cache.cached(pair["kernel_id"])
    host.close()
    conn.close()
