"""The local base cache (fetch once, checksum verified) and qemu-img overlays."""

import fcntl
import json
import os
import subprocess
import sys
import threading
import time

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


# --- pruning: real files in a real cache dir, real qemu-img overlays; "now" is
# passed in (the only time mock) and last use is set with os.utime -------------

DAY = 86400
T0 = 1_900_000_000  # "now" of these tests


class _Image:
    """What ImageCache.using reads of an image."""

    def __init__(self, image_id, size, checksum=""):
        self.id, self.size, self.checksum = image_id, size, checksum


class _Store:
    """Writes ``data`` for any image: the object store is not what these tests look at."""

    def __init__(self, data):
        self.data = data
        self.downloads = 0

    def download(self, image, out):
        self.downloads += 1
        out.write(self.data)


def _base(cache, image_id, last_used, size=1 << 20):
    os.makedirs(cache.dir, exist_ok=True)
    path = cache.path_for(image_id)
    with open(path, "wb") as handle:
        handle.write(b"OBJSTORE-DISK-01".ljust(size, b"\1"))
    os.utime(path, (last_used, last_used))
    return path


def _files(cache):
    return sorted(os.listdir(cache.dir))


def test_unused_old_base_is_removed_with_its_lock_and_bytes_counted(tmp_path):
    cache = ImageCache(str(tmp_path))
    old = _base(cache, "old", T0 - 2 * DAY)
    open(old + ".lock", "w").close()
    blocks = os.stat(old).st_blocks * 512
    result = cache.prune(set(), DAY, now=T0)
    assert _files(cache) == []
    assert [(e["file"], e["kind"]) for e in result["removed"]] == [
        (cache_name("old"), "base"),
        (cache_name("old") + ".lock", "lock"),
    ]
    assert result["removed"][0]["bytes"] == blocks >= 1 << 20 and result["bytes_freed"] == blocks
    assert result["removed"][0]["last_used"] == T0 - 2 * DAY and result["kept"] == []


def test_base_an_overlay_backs_onto_is_kept_even_when_old_and_touched(tmp_path):
    need_qemu_img()
    cache = ImageCache(str(tmp_path))
    base = _base(cache, "img", T0 - 30 * DAY)
    overlay = str(tmp_path / "disk")
    create_overlay(base, "raw", overlay)
    assert imagecache.backing_file(overlay) == base
    in_use = {os.path.basename(imagecache.backing_file(overlay))}
    before = time.time()
    result = cache.prune(in_use, DAY, now=T0 + 365 * DAY)
    assert os.path.exists(base) and result["removed"] == []
    assert result["kept"] == [{"file": cache_name("img"), "reason": "in use by an instance"}]
    assert os.stat(base).st_mtime >= before - 1  # the pass marked it used now
    # the overlay still reads through its base
    raw = str(tmp_path / "check.raw")
    subprocess.run(["qemu-img", "convert", "-O", "raw", overlay, raw], check=True)
    assert open(raw, "rb").read(16) == b"OBJSTORE-DISK-01"


def test_recently_used_unused_base_is_kept_until_old_enough(tmp_path):
    cache = ImageCache(str(tmp_path))
    path = _base(cache, "recent", T0 - 3600)  # booted an hour ago, no instance left
    result = cache.prune(set(), DAY, now=T0)
    assert os.path.exists(path) and result["removed"] == []
    assert result["kept"] == [{"file": cache_name("recent"), "reason": "used 3600 s ago (kept for 86400 s)"}]
    assert cache.prune(set(), DAY, now=T0 + DAY - 3601)["removed"] == []
    assert [e["file"] for e in cache.prune(set(), DAY, now=T0 + DAY - 3600)["removed"]] == [cache_name("recent")]
    assert _files(cache) == []


def test_using_an_image_marks_it_used(tmp_path):
    cache = ImageCache(str(tmp_path))
    path = _base(cache, "img", T0 - 2 * DAY, size=100)
    store = _Store(b"x" * 100)
    before = time.time()
    with cache.using(store, _Image("img", 100)) as got:
        assert got == path
    assert store.downloads == 0 and os.stat(path).st_mtime >= before - 1
    assert cache.prune(set(), DAY, now=time.time())["removed"] == []


def test_locked_image_is_skipped_whole(tmp_path):
    cache = ImageCache(str(tmp_path))
    path = _base(cache, "busy", T0 - 2 * DAY)
    open(path + ".part", "wb").write(b"half")
    with open(path + ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a fetch or boot of this image is under way
        result = cache.prune(set(), DAY, now=T0)
        assert result["removed"] == [] and result["bytes_freed"] == 0
        assert result["kept"] == [{"file": cache_name("busy"), "reason": "locked: a fetch or boot is using it"}]
        assert os.path.exists(path) and os.path.exists(path + ".part")
    result = cache.prune(set(), DAY, now=T0)
    assert [e["kind"] for e in result["removed"]] == ["base", "temp", "lock"] and _files(cache) == []


def test_stale_temp_of_an_interrupted_fetch_is_removed_even_when_the_base_is_kept(tmp_path):
    cache = ImageCache(str(tmp_path))
    kept = _base(cache, "kept", T0 - 10)
    open(kept + ".part", "wb").write(b"x" * 5000)
    orphan = cache.path_for("orphan")  # a fetch died before the rename
    open(orphan + ".part", "wb").write(b"x" * 5000)
    open(orphan + ".lock", "w").close()
    result = cache.prune(set(), DAY, now=T0)
    assert sorted((e["file"], e["kind"]) for e in result["removed"]) == sorted(
        [
            (cache_name("kept") + ".part", "temp"),
            (cache_name("orphan") + ".part", "temp"),
            (cache_name("orphan") + ".lock", "lock"),
        ]
    )
    assert _files(cache) == [cache_name("kept")]


def test_dry_run_removes_and_touches_nothing(tmp_path):
    cache = ImageCache(str(tmp_path))
    old = _base(cache, "old", T0 - 2 * DAY)
    used = _base(cache, "used", T0 - 2 * DAY)
    open(old + ".part", "wb").write(b"x")
    before = _files(cache)
    result = cache.prune({cache_name("used")}, DAY, now=T0, dry_run=True)
    assert result["dry_run"] is True
    assert [e["kind"] for e in result["removed"] if e["file"].startswith(cache_name("old"))] == ["base", "temp"]
    assert result["bytes_freed"] == sum(e["bytes"] for e in result["removed"]) > 0
    assert _files(cache) == before  # not even a lock file was left behind
    assert os.stat(used).st_mtime == T0 - 2 * DAY


def test_max_age_zero_disables_pruning(tmp_path):
    cache = ImageCache(str(tmp_path))
    _base(cache, "old", T0 - 365 * DAY)
    result = cache.prune(set(), 0, now=T0)
    assert result["removed"] == [] and result["kept"] == [] and _files(cache) == [cache_name("old")]


def test_foreign_files_and_a_missing_dir_are_left_alone(tmp_path):
    cache = ImageCache(str(tmp_path))
    assert cache.prune(set(), DAY, now=T0)["removed"] == []  # no _base yet
    os.makedirs(cache.dir)
    note = os.path.join(cache.dir, "README")
    open(note, "w").close()
    os.utime(note, (0, 0))
    assert cache.prune(set(), DAY, now=T0)["removed"] == [] and _files(cache) == ["README"]


def test_fetch_waiting_on_a_lock_that_prune_unlinked_fetches_again(tmp_path):
    """A boot that waited while a prune removed the base (and unlinked the
    lock file it waited on) must not go on with a stale lock: it locks the
    new file and downloads the image again."""
    cache = ImageCache(str(tmp_path))
    path = _base(cache, "img", T0 - 2 * DAY, size=100)
    store = _Store(b"y" * 100)
    got = []
    with imagecache._flocked(path + ".lock"):  # as prune holds it
        waiter = threading.Thread(target=lambda: got.append(cache.fetch(store, _Image("img", 100))))
        waiter.start()
        waiter.join(0.3)
        assert waiter.is_alive()  # blocked on the lock
        os.unlink(path)
        os.unlink(path + ".lock")
    waiter.join(10)
    assert got == [path] and store.downloads == 1
    assert open(path, "rb").read() == b"y" * 100


def test_a_boot_of_this_process_holding_the_image_keeps_prune_away(tmp_path):
    cache = ImageCache(str(tmp_path))
    path = _base(cache, "img", T0 - 2 * DAY, size=100)
    with cache.using(_Store(b"x" * 100), _Image("img", 100)):  # making its overlay
        os.utime(path, (T0 - 2 * DAY, T0 - 2 * DAY))
        result = cache.prune(set(), DAY, now=T0)
        assert result["removed"] == [] and result["kept"][0]["reason"].startswith("locked")
    assert [e["kind"] for e in cache.prune(set(), DAY, now=T0)["removed"]] == ["base", "lock"]


def test_backing_file_read_from_the_header_matches_qemu_img(tmp_path):
    need_qemu_img()
    base = str(tmp_path / "base")
    open(base, "wb").write(b"\0" * 65536)
    os.mkdir(tmp_path / "inst")
    for backing in (base, "../base"):  # absolute, and relative to the overlay's dir
        overlay = str(tmp_path / "inst" / "disk")
        if os.path.exists(overlay):
            os.unlink(overlay)
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", backing, "-F", "raw", overlay], check=True)
        info = json.loads(subprocess.run(["qemu-img", "info", "--output=json", overlay], capture_output=True).stdout)
        found = os.path.normpath(imagecache.backing_file(overlay))
        assert found == os.path.normpath(info["full-backing-filename"]) == base
    blank = str(tmp_path / "blank")
    imagecache.create_blank(blank, 1 << 20)
    assert imagecache.backing_file(blank) is None
    assert imagecache.backing_file(base) is None  # raw: no header


def test_image_locked_by_another_process_is_skipped(tmp_path):
    """As a boot or fetch by another objstore-compute process holds it."""
    cache = ImageCache(str(tmp_path))
    path = _base(cache, "img", T0 - 2 * DAY)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, sys; f = open(sys.argv[1], 'a'); fcntl.flock(f, fcntl.LOCK_EX); "
            "print('held', flush=True); sys.stdin.read()",
            path + ".lock",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline() == "held\n"
        result = cache.prune(set(), DAY, now=T0)
        assert result["removed"] == [] and result["kept"][0]["reason"].startswith("locked") and os.path.exists(path)
    finally:
        holder.stdin.close()
        holder.wait(30)
    assert [e["kind"] for e in cache.prune(set(), DAY, now=T0)["removed"]] == ["base", "lock"]
