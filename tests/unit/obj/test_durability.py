"""A 2xx on a write means the bytes are on disk: the object server answers a
PUT (or DELETE) only after the new file's data and metadata were fsynced,
the file renamed into place, and its directory fsynced.

The DiskFileManager runs every fsync through its injected ``run_blocking``;
here that is a recorder that still performs the real fsync, so the test sees
which file descriptors and directories were synced and what existed then.
"""

import os

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


def test_delete_answers_only_after_the_tombstone_is_fsynced(devices, capture):
    app, recorder = _app(devices, capture[0])
    assert _call(app, "PUT", b"x", **{"X-Timestamp": Timestamp(1).internal, "Content-Type": "x/y"}).status_int == 201
    recorder.events.clear()
    ts = Timestamp(2).internal
    assert _call(app, "DELETE", **{"X-Timestamp": ts}).status_int == 204
    kinds = [event[0] for event in recorder.events]
    assert kinds[:2] == ["fsync", "fsync_dir"]
    assert ts + ".ts" in recorder.events[1][2]
