"""The local base cache (fetch once, checksum verified) and qemu-img overlays."""

import json
import os
import subprocess

import pytest

from objstore.common.exceptions import HypervisorError, InvalidImage
from objstore.compute import imagecache
from objstore.compute.imagecache import ImageCache, cache_name, create_overlay, flatten
from tests.unit.compute.needs import need_qemu_img

pytestmark = pytest.mark.compute


def test_cache_name_is_sha1_of_id():
    assert cache_name("abc") == "a9993e364706816aba3e25717850c26c9cd0d89d"


def test_fetch_once_then_from_cache(image_store, raw_disk, fake_swift, tmp_path):
    image = image_store.upload("raw1", raw_disk)
    cache = ImageCache(str(tmp_path / "state"))
    path = cache.fetch(image_store, image)
    assert path == os.path.join(str(tmp_path / "state"), "_base", cache_name(image.id))
    assert open(path, "rb").read(16) == b"OBJSTORE-DISK-01"
    gets = [r for r in fake_swift.requests if r[0] == "GET"]
    assert cache.fetch(image_store, image) == path
    assert [r for r in fake_swift.requests if r[0] == "GET"] == gets
    cache.evict(image.id)
    assert not cache.cached(image.id)


def test_checksum_mismatch_keeps_nothing(image_store, raw_disk, fake_swift, tmp_path):
    image = image_store.upload("raw1", raw_disk)
    cache = ImageCache(str(tmp_path / "state"))
    fake_swift.corrupt("AUTH_test", "images", image.id)
    with pytest.raises(Exception) as info:
        cache.fetch(image_store, image)
    assert "MD5" in str(info.value) or "checksum" in str(info.value)
    assert os.listdir(cache.dir) == [cache_name(image.id) + ".lock"]


def test_recorded_checksum_is_checked_too(image_store, raw_disk, tmp_path):
    import dataclasses

    image = dataclasses.replace(image_store.upload("raw1", raw_disk), checksum="0" * 32)
    cache = ImageCache(str(tmp_path / "state"))
    with pytest.raises(InvalidImage, match="checksum"):
        cache.fetch(image_store, image)
    assert not cache.cached(image.id)


def test_overlay_backed_by_base_and_flatten(tmp_path):
    need_qemu_img()
    base = str(tmp_path / "base")
    with open(base, "wb") as handle:
        handle.write(b"OBJSTORE-DISK-01".ljust(1 << 20, b"\0"))
    overlay = str(tmp_path / "disk")
    create_overlay(base, "raw", overlay, 4 << 20)
    info = json.loads(subprocess.run(["qemu-img", "info", "--output=json", overlay], capture_output=True).stdout)
    assert info["format"] == "qcow2" and info["backing-filename"] == base
    assert info["backing-filename-format"] == "raw" and info["virtual-size"] == 4 << 20
    flat = str(tmp_path / "flat.qcow2")
    flatten(overlay, flat)
    info = json.loads(subprocess.run(["qemu-img", "info", "--output=json", flat], capture_output=True).stdout)
    assert "backing-filename" not in info
    raw_again = str(tmp_path / "again.raw")
    subprocess.run(["qemu-img", "convert", "-O", "raw", flat, raw_again], check=True)
    assert open(raw_again, "rb").read(16) == b"OBJSTORE-DISK-01"


def test_qemu_img_errors_are_one_line(tmp_path):
    need_qemu_img()
    with pytest.raises(HypervisorError) as info:
        imagecache.qemu_img("info", str(tmp_path / "missing"))
    assert "qemu-img info failed" in str(info.value) and "\n" not in str(info.value)
