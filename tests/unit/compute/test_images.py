"""Image records, format checks, and the ImageStore over the FAKE store."""

import io
import subprocess

import pytest

from objstore.common.exceptions import ImageNotFound, InvalidImage
from objstore.compute.images import (
    Image,
    check_disk_format,
    check_kernel,
    check_ramdisk,
    detect_disk_format,
    image_from_headers,
    image_headers,
)
from tests.unit.compute.needs import need_qemu_img

pytestmark = pytest.mark.compute


@pytest.mark.parametrize(
    "head,size,expected",
    [
        (b"QFI\xfb\x00\x00\x00\x03", 196624, "qcow2"),
        (b"\0" * 64, 512, "raw"),
        (b"OBJSTORE-DISK-01", 1 << 20, "raw"),
    ],
)
def test_detect_disk_format(head, size, expected):
    assert detect_disk_format(head, size) == expected


@pytest.mark.parametrize(
    "head,size,words",
    [
        (b"", 0, "empty"),
        (b"hello world\n", 12, "not a whole number of 512-byte sectors"),
        (b"KDMV\x01", 1 << 20, "vmdk"),
        (b"vhdxfile", 1 << 20, "vhdx"),
        (b"\0" * 64 + b"\x7f\x10\xda\xbe", 1 << 20, "vdi"),
        (b"\x1f\x8b\x08", 1 << 20, "gzip"),
    ],
)
def test_not_a_disk(head, size, words):
    with pytest.raises(InvalidImage) as info:
        detect_disk_format(head, size)
    assert words in str(info.value) and info.value.status == 400


def test_claimed_format_must_match():
    assert check_disk_format(None, b"QFI\xfb", 512) == "qcow2"
    assert check_disk_format("raw", b"\0", 512) == "raw"
    with pytest.raises(InvalidImage, match="the file is qcow2, not raw"):
        check_disk_format("raw", b"QFI\xfb", 512)
    with pytest.raises(InvalidImage, match="qcow2 or raw"):
        check_disk_format("vmdk", b"\0", 512)


def test_kernel_and_ramdisk_checks():
    good = bytearray(0x300)
    good[0x202:0x206] = b"HdrS"
    check_kernel(bytes(good))
    with pytest.raises(InvalidImage, match="not a Linux kernel"):
        check_kernel(b"\0" * 0x300)
    check_ramdisk(b"070701...")
    check_ramdisk(b"\x1f\x8b...")
    with pytest.raises(InvalidImage, match="not an initramfs"):
        check_ramdisk(b"#!/bin/sh")


def test_headers_round_trip_literals():
    image = Image("i1", "tiny é/x", "none", 0, "d41d8cd98f00b204e9800998ecf8427e", "k1", "r1", "console=ttyS0 quiet")
    headers = image_headers(image)
    assert headers["X-Object-Meta-Name"] == "tiny%20%C3%A9/x".replace("%20", " ")
    assert headers["X-Object-Meta-Disk-Format"] == "none"
    assert headers["X-Object-Meta-Cmdline"] == "console=ttyS0 quiet"
    assert "X-Object-Meta-Parent-Id" not in headers
    lower = {k.lower(): v for k, v in headers.items()}
    lower["content-length"] = "0"
    assert image_from_headers("i1", lower) == image


def test_upload_show_list_find_delete_raw(image_store, raw_disk, fake_swift):
    image = image_store.upload("raw1", raw_disk)
    assert image.disk_format == "raw" and image.size == 1 << 20 and len(image.checksum) == 32
    obj = fake_swift.accounts["AUTH_test"]["containers"]["images"]["objects"][image.id]
    assert obj["meta"]["x-object-meta-name"] == "raw1" and obj["etag"] == image.checksum
    assert image_store.show(image.id) == image
    assert image_store.list() == [image]
    assert image_store.find("raw1") == image
    image_store.upload("raw1", raw_disk)
    with pytest.raises(ImageNotFound, match="2 images are named"):
        image_store.find("raw1")
    assert image_store.delete(image.id) == [image.id]
    with pytest.raises(ImageNotFound):
        image_store.show(image.id)
    with pytest.raises(ImageNotFound):
        image_store.delete(image.id)


def test_upload_qcow2_detected(image_store, tmp_path):
    need_qemu_img()
    path = str(tmp_path / "d.qcow2")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", path, "16M"], check=True)
    image = image_store.upload("q", path)
    assert image.disk_format == "qcow2"
    with pytest.raises(InvalidImage, match="not raw"):
        image_store.upload("q", path, disk_format="raw")


def test_upload_rejects_bad_files_before_any_upload(image_store, tmp_path, fake_swift, kernel_pair):
    text = tmp_path / "notes.txt"
    text.write_text("not a disk\n")
    before = len(fake_swift.requests)
    with pytest.raises(InvalidImage, match="not a qcow2 or raw"):
        image_store.upload("bad", str(text))
    with pytest.raises(InvalidImage, match="cannot read"):
        image_store.upload("bad", str(tmp_path / "missing"))
    with pytest.raises(InvalidImage, match="not an initramfs"):
        image_store.upload("bad", kernel_path=kernel_pair[0], ramdisk_path=str(text))
    with pytest.raises(InvalidImage, match="needs a kernel"):
        image_store.upload("bad", ramdisk_path=kernel_pair[1])
    with pytest.raises(InvalidImage, match="needs a name"):
        image_store.upload("", str(text))
    assert len(fake_swift.requests) == before


def test_kernel_pair_parts_and_delete_together(image_store, kernel_pair):
    image = image_store.upload("tiny", kernel_path=kernel_pair[0], ramdisk_path=kernel_pair[1], cmdline="quiet")
    assert image.disk_format == "none" and image.cmdline == "quiet"
    kernel, ramdisk = image_store.show(image.kernel_id), image_store.show(image.ramdisk_id)
    assert (kernel.disk_format, kernel.name, kernel.parent_id) == ("aki", "tiny-kernel", image.id)
    assert (ramdisk.disk_format, ramdisk.name, ramdisk.parent_id) == ("ari", "tiny-ramdisk", image.id)
    assert sorted(i.name for i in image_store.list()) == ["tiny", "tiny-kernel", "tiny-ramdisk"]
    assert sorted(image_store.delete(image.id)) == sorted([image.id, kernel.id, ramdisk.id])
    assert image_store.list() == []


def test_upload_one_checks_part_references(image_store, kernel_pair, raw_disk):
    kernel = image_store.upload_one("k", kernel_pair[0], "aki")
    disk = image_store.upload_one("d", raw_disk)
    with pytest.raises(InvalidImage, match="is raw, not aki"):
        image_store.upload_one("x", None, "none", kernel_id=disk.id)
    with pytest.raises(InvalidImage, match="no ari image"):
        image_store.upload_one("x", None, "none", kernel_id=kernel.id, ramdisk_id="nope")
    with pytest.raises(InvalidImage, match="needs a kernel"):
        image_store.upload_one("x", None, "none")
    both = image_store.upload_one("x", raw_disk, "raw", kernel_id=kernel.id, cmdline="ro")
    assert (both.kernel_id, both.cmdline, both.disk_format) == (kernel.id, "ro", "raw")


def test_download_streams(image_store, raw_disk):
    image = image_store.upload("raw1", raw_disk)
    out = io.BytesIO()
    assert image_store.download(image, out) == 1 << 20
    assert out.getvalue().startswith(b"OBJSTORE-DISK-01")
