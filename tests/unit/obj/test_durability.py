"""A 2xx on a write means the bytes are on disk: the object server answers a
PUT (or DELETE) only after the new file's data and metadata were fsynced,
the file renamed into place, and its directory fsynced.

The DiskFileManager runs every fsync through its injected ``run_blocking``;
here that is a recorder that still performs the real fsync, so the test sees
which file descriptors and directories were synced and what existed then.
"""

import errno
import os

import pytest

from objstore.common.fs import fsync_dir
from objstore.common.timestamp import Timestamp
from objstore.obj.diskfile import DiskFileManager
from objstore.obj.server import ObjectServer, ObjectServerConfig
from objstore.web.app import Request

PATH = "/sda/0/a/c/o"


class SyncRecorder:
    """``run_blocking`` that records each fsync with what it covered, then runs it."""

    def __init__(self):
        self.events = []

    def __call__(self, fn, *args):
        if fn is os.fsync:
            fd = args[0]
            target = os.readlink("/proc/self/fd/%d" % fd)
            self.events.append(("fsync", target, os.fstat(fd).st_size))
        elif fn is fsync_dir:
            self.events.append(("fsync_dir", args[0], sorted(os.listdir(args[0]))))
        return fn(*args)


def _app(devices, logger):
    recorder = SyncRecorder()
    config = ObjectServerConfig(devices=devices, mount_check=False)
    manager = DiskFileManager(devices, False, logger, run_blocking=recorder)
    return ObjectServer(config, logger, manager), recorder


def _call(app, method, body=None, **headers):
    req = Request.blank(PATH, environ={"REQUEST_METHOD": method}, headers=headers)
    if body is not None:
        req.body = body
    resp = req.get_response(app)
    resp.body
    return resp


def test_put_answers_201_only_after_file_and_directory_are_fsynced(devices, capture):
    app, recorder = _app(devices, capture[0])
    body = os.urandom(3 * 1024 * 1024 + 7)  # several chunks, and past a writeback point
    ts = Timestamp(1700000001).internal
    resp = _call(app, "PUT", body, **{"X-Timestamp": ts, "Content-Type": "x/y"})
    assert resp.status_int == 201
    kinds = [event[0] for event in recorder.events]
    assert kinds.index("fsync") < kinds.index("fsync_dir")
    _kind, synced_file, synced_size = recorder.events[kinds.index("fsync")]
    # the fsync covered the temp file holding every byte of the body (plus
    # the metadata when it lives in a trailer), before it became visible
    assert "/tmp/" in synced_file and synced_size >= len(body)
    _kind, synced_dir, listing = recorder.events[kinds.index("fsync_dir")]
    assert listing == [ts + ".data"]  # the directory was synced with the renamed file in it
    assert os.path.exists(os.path.join(synced_dir, ts + ".data"))


def test_delete_answers_only_after_the_tombstone_is_fsynced(loop_fs, capture, objstore_conf):
    """On a filesystem that does not journal metadata in order (ext2), the
    tombstone is fsynced itself, then its directory."""
    ext2 = loop_fs("ext2", 16)
    os.makedirs(os.path.join(ext2.path, "sda"))
    app, recorder = _app(ext2.path, capture[0])
    assert _call(app, "PUT", b"x", **{"X-Timestamp": Timestamp(1).internal, "Content-Type": "x/y"}).status_int == 201
    recorder.events.clear()
    ts = Timestamp(2).internal
    assert _call(app, "DELETE", **{"X-Timestamp": ts}).status_int == 204
    kinds = [event[0] for event in recorder.events]
    assert kinds[:2] == ["fsync", "fsync_dir"]
    assert ts + ".ts" in recorder.events[1][2]


def _xfs_app(loop_fs, capture):
    xfs = loop_fs("xfs", 300)  # mkfs.xfs's smallest
    os.makedirs(os.path.join(xfs.path, "sda"))
    app, recorder = _app(xfs.path, capture[0])
    return xfs, app, recorder


def _reopen(xfs, capture):
    """After a crash and a remount (XFS replays its log): a fresh app and manager."""
    xfs.remount()
    return _app(xfs.path, capture[0])[0]


def test_on_xfs_a_tombstone_is_durable_with_its_directory_fsync_alone(loop_fs, capture, objstore_conf):
    xfs, app, recorder = _xfs_app(loop_fs, capture)
    assert _call(app, "PUT", b"body", **{"X-Timestamp": Timestamp(1).internal, "Content-Type": "x/y"}).status_int == 201
    recorder.events.clear()
    ts = Timestamp(2).internal
    assert _call(app, "DELETE", **{"X-Timestamp": ts}).status_int == 204
    # metadata only: one journal commit (the directory's) instead of two
    assert [event[0] for event in recorder.events] == ["fsync_dir"]
    xfs.crash()  # right after the answer; nothing flushed since
    app = _reopen(xfs, capture)
    resp = _call(app, "GET")
    assert resp.status_int == 404 and resp.headers["X-Backend-Timestamp"] == ts  # the tombstone, with its metadata


def test_on_xfs_an_empty_object_and_a_post_survive_a_crash_right_after_the_answer(loop_fs, capture, objstore_conf):
    xfs, app, recorder = _xfs_app(loop_fs, capture)
    assert _call(app, "PUT", b"", **{"X-Timestamp": Timestamp(1).internal, "Content-Type": "x/y",
                                     "X-Object-Meta-Color": "blue"}).status_int == 201
    assert _call(app, "POST", **{"X-Timestamp": Timestamp(2).internal, "X-Object-Meta-Color": "red"}).status_int == 202
    assert "fsync" not in [event[0] for event in recorder.events]
    xfs.crash()
    app = _reopen(xfs, capture)
    resp = _call(app, "GET")
    assert resp.status_int == 200 and resp.body == b""
    assert resp.headers["X-Object-Meta-Color"] == "red" and resp.headers["Content-Type"] == "x/y"


def test_on_xfs_an_object_with_a_body_is_still_fsynced_itself(loop_fs, capture, objstore_conf):
    xfs, app, recorder = _xfs_app(loop_fs, capture)
    body = os.urandom(5000)
    assert _call(app, "PUT", body, **{"X-Timestamp": Timestamp(1).internal, "Content-Type": "x/y"}).status_int == 201
    assert [event[0] for event in recorder.events] == ["fsync", "fsync_dir"]
    xfs.crash()
    app = _reopen(xfs, capture)
    assert _call(app, "GET").body == body


def test_the_xfs_crash_loses_what_no_fsync_covered(loop_fs, capture, objstore_conf):
    """The control: the crash above is real. A tombstone renamed into place
    with no directory fsync after it is gone after the same crash."""
    xfs, app, _recorder = _xfs_app(loop_fs, capture)
    assert _call(app, "PUT", b"body", **{"X-Timestamp": Timestamp(1).internal, "Content-Type": "x/y"}).status_int == 201
    data_dir = None
    for root, _dirs, files in os.walk(os.path.join(xfs.path, "sda", "objects")):
        if any(name.endswith(".data") for name in files):
            data_dir = root
    tmp = os.path.join(xfs.path, "sda", "tmp", "unsynced")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT, 0o644)
    os.close(fd)
    os.rename(tmp, os.path.join(data_dir, Timestamp(3).internal + ".ts"))
    xfs.crash()
    _reopen(xfs, capture)
    assert sorted(os.listdir(data_dir)) == [Timestamp(1).internal + ".data"]



# --- background fdatasyncs while a big body arrives (diskfile's sync_every) ------
MIB = 1048576


class ThreadStarter:
    """``run_background`` on real threads; records the fds it synced and
    whether each one was still open when its fdatasync ran."""

    def __init__(self, hold=None, fail=None):
        self.hold = hold  # threading.Event the syncs wait for, if any
        self.fail = fail  # errno to raise instead of syncing
        self.started = []
        self.synced = []

    def __call__(self, fn, *args):
        import threading

        result = {}

        def run():
            if self.hold is not None:
                self.hold.wait(10)
            try:
                if self.fail is not None:
                    raise OSError(self.fail, os.strerror(self.fail))
                target = os.readlink("/proc/self/fd/%d" % args[0])
                fn(*args)
                self.synced.append(target)
            except BaseException as err:  # handed to wait(), as a greenthread would
                result["error"] = err

        thread = threading.Thread(target=run)
        self.started.append(thread)
        thread.start()

        class Handle:
            def wait(self):
                thread.join()
                if "error" in result:
                    raise result["error"]

        return Handle()


def _big_put(manager, body, ts):
    df = manager.get_diskfile("sda", 0, "a", "c", "big")
    with df.writer(len(body)) as writer:
        for off in range(0, len(body), MIB):
            writer.write(body[off:off + MIB])
        writer.put({"X-Timestamp": ts.internal, "Content-Length": str(len(body)), "ETag": writer.etag})
    return df


def test_big_bodies_are_synced_in_the_background_and_the_last_sync_awaited(devices, capture, monkeypatch):
    from objstore.obj import diskfile

    monkeypatch.setattr(diskfile, "WRITEBACK_EVERY", 2 * MIB)
    recorder, starter = SyncRecorder(), ThreadStarter()
    manager = DiskFileManager(devices, False, capture[0], run_blocking=recorder,
                              run_background=starter, sync_every=4 * MIB)
    body = os.urandom(17 * MIB + 5)
    df = _big_put(manager, body, Timestamp(1))
    # one sync per 4 MiB written (none in flight when the next was due), all
    # of the writer's temp file, and every one finished before put returned
    assert 2 <= len(starter.started) <= 4
    assert all("/tmp/" in target for target in starter.synced)
    assert len(starter.synced) == len(starter.started)
    assert not any(thread.is_alive() for thread in starter.started)
    assert [event[0] for event in recorder.events] == ["fsync", "fsync_dir"]  # the final one still runs
    with df.open():
        assert b"".join(df.reader()) == body


def test_no_background_sync_for_small_bodies_or_without_a_starter(devices, capture, monkeypatch):
    from objstore.obj import diskfile

    monkeypatch.setattr(diskfile, "WRITEBACK_EVERY", MIB)
    starter = ThreadStarter()
    manager = DiskFileManager(devices, False, capture[0], run_background=starter, sync_every=8 * MIB)
    _big_put(manager, os.urandom(7 * MIB), Timestamp(1))
    assert starter.started == []
    manager = DiskFileManager(devices, False, capture[0], sync_every=MIB)  # no run_background
    assert manager.sync_every == 0
    _big_put(manager, os.urandom(3 * MIB), Timestamp(2))


def test_one_background_sync_at_a_time(devices, capture, monkeypatch):
    import threading

    from objstore.obj import diskfile

    monkeypatch.setattr(diskfile, "WRITEBACK_EVERY", MIB)
    hold = threading.Event()
    starter = ThreadStarter(hold=hold)
    manager = DiskFileManager(devices, False, capture[0], run_background=starter, sync_every=MIB)
    df = manager.get_diskfile("sda", 0, "a", "c", "big")
    writer = df.writer(8 * MIB)
    for _ in range(8):
        writer.write(os.urandom(MIB))
    assert len(starter.started) == 1  # the first still runs: no second one started
    hold.set()
    writer.put({"X-Timestamp": Timestamp(1).internal, "Content-Length": str(8 * MIB), "ETag": writer.etag})
    writer.close()
    assert len(starter.synced) == 1


def test_an_abandoned_write_waits_for_its_background_sync_before_closing(devices, capture, monkeypatch):
    import threading

    from objstore.obj import diskfile

    monkeypatch.setattr(diskfile, "WRITEBACK_EVERY", MIB)
    hold = threading.Event()
    starter = ThreadStarter(hold=hold)
    manager = DiskFileManager(devices, False, capture[0], run_background=starter, sync_every=MIB)
    writer = manager.get_diskfile("sda", 0, "a", "c", "big").writer(4 * MIB)
    writer.write(os.urandom(2 * MIB))
    threading.Timer(0.2, hold.set).start()
    writer.close()  # the client went away: the temp file goes, but not under the sync
    assert len(starter.synced) == 1 and "/tmp/" in starter.synced[0]  # it ran on the open file
    assert os.listdir(os.path.join(devices, "sda", "tmp")) == []
    # a failed sync does not make closing an abandoned write fail
    manager = DiskFileManager(devices, False, capture[0], run_background=ThreadStarter(fail=errno.ENOSPC),
                              sync_every=MIB)
    writer = manager.get_diskfile("sda", 0, "a", "c", "big").writer(4 * MIB)
    writer.write(os.urandom(2 * MIB))
    writer.close()
    assert os.listdir(os.path.join(devices, "sda", "tmp")) == []


@pytest.mark.parametrize("err,status", [(errno.EIO, 500), (errno.ENOSPC, 507)])
def test_a_failed_background_sync_fails_the_put(devices, capture, monkeypatch, err, status):
    """Linux reports a writeback error to one fsync only: the background one's
    error must fail the PUT, or the final fsync could succeed over lost data."""
    from objstore.obj import diskfile

    monkeypatch.setattr(diskfile, "WRITEBACK_EVERY", MIB)
    starter = ThreadStarter(fail=err)
    config = ObjectServerConfig(devices=devices, mount_check=False)
    manager = DiskFileManager(devices, False, capture[0], run_background=starter, sync_every=MIB)
    app = ObjectServer(config, capture[0], manager)
    resp = _call(app, "PUT", os.urandom(3 * MIB), **{"X-Timestamp": Timestamp(1).internal, "Content-Type": "x/y"})
    assert resp.status_int == status
    assert len(starter.started) >= 1
    assert _call(app, "GET").status_int == 404  # nothing was put in place
    assert os.listdir(os.path.join(devices, "sda", "tmp")) == []


def test_the_server_syncs_big_bodies_through_its_thread_pool(devices, capture):
    """app_factory's manager starts real background fdatasyncs (green.spawn_blocking)."""
    from objstore.obj import server

    config = ObjectServerConfig(devices=devices, mount_check=False, mb_per_sync=1)
    app = server.app_factory(None, config, capture[0])
    started = []
    run_background = app.manager.run_background

    def counting(fn, *args):
        started.append(fn)
        return run_background(fn, *args)

    app.manager.run_background = counting
    body = os.urandom(20 * MIB)
    assert _call(app, "PUT", body, **{"X-Timestamp": Timestamp(1).internal, "Content-Type": "x/y"}).status_int == 201
    # (outside a monkey-patched server nothing yields while the body is
    # read, so the first sync runs only when put() waits for it; the later
    # writeback points find it still pending and start no other)
    assert len(started) == 1
    assert _call(app, "GET").body == body
