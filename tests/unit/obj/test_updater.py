"""The object updater: replays async_pendings, removes each on success,
keeps (and records progress in) each on failure."""

import os

import pytest

from objstore.common import encoding
from objstore.common.timestamp import Timestamp
from objstore.obj.diskfile import DiskFileManager
from objstore.obj.updater import ObjectUpdater, UpdaterConfig, newest_per_object, update_request
from objstore.web.backend import BackendResponse
from objstore.common.exceptions import BackendError

NODES = [
    {"ip": "127.0.0.1", "port": 6011, "device": "sdb1", "partition": 7},
    {"ip": "127.0.0.1", "port": 6021, "device": "sdb2", "partition": 7},
]


class RecordingPool:
    """Stands in for the network: answers per port, records every request."""

    def __init__(self, answers):
        self.answers = answers  # port -> status, or an exception to raise
        self.sent = []

    def request(self, ip, port, method, path, headers=None, body=None):
        self.sent.append((port, method, path, dict(headers or {})))
        answer = self.answers.get(port, 201)
        if isinstance(answer, Exception):
            raise answer
        return BackendResponse(answer, "", {}, b"")


@pytest.fixture
def node(tmp_path, objstore_conf, capture):
    devices = tmp_path / "devices"
    (devices / "sdb1").mkdir(parents=True)
    logger, handler = capture
    return str(devices), DiskFileManager(str(devices), False, logger), logger


def _pendings(devices):
    base = os.path.join(devices, "sdb1", "async_pending")
    return sorted(os.path.join(s, n) for s in os.listdir(base) for n in os.listdir(os.path.join(base, s))) \
        if os.path.isdir(base) else []


def _updater(devices, logger, pool):
    return ObjectUpdater(UpdaterConfig(devices=devices, mount_check=False, updates_per_second=0), logger, pool)


def test_success_removes_the_file(node):
    devices, manager, logger = node
    ts = Timestamp.now()
    manager.write_async_pending("sdb1", "PUT", "a", "c", "o", ts,
                                {"X-Timestamp": ts.internal, "X-Size": "3"}, NODES)
    pool = RecordingPool({})
    stats = _updater(devices, logger, pool).run_pass()
    assert stats["successes"] == 1
    assert _pendings(devices) == []
    assert [(port, method, path) for port, method, path, _h in pool.sent] == [
        (6011, "PUT", "/sdb1/7/a/c/o"), (6021, "PUT", "/sdb2/7/a/c/o")]
    assert pool.sent[0][3]["X-Size"] == "3"


def test_failure_keeps_the_file_and_records_progress(node):
    devices, manager, logger = node
    ts = Timestamp.now()
    path = manager.write_async_pending("sdb1", "DELETE", "a", "c", "o", ts, {"X-Timestamp": ts.internal}, NODES)
    pool = RecordingPool({6021: BackendError("connection refused")})
    stats = _updater(devices, logger, pool).run_pass()
    assert stats["failures"] == 1
    assert os.path.exists(path)
    with open(path, "rb") as handle:
        entry = encoding.unpack(handle.read())[1]
    assert entry["successes"] == ["127.0.0.1:6011/sdb1"]
    # the next pass only retries the node that failed, then removes the file
    pool = RecordingPool({})
    _updater(devices, logger, pool).run_pass()
    assert [port for port, *_rest in pool.sent] == [6021]
    assert not os.path.exists(path)


def test_server_error_keeps_the_file(node):
    devices, manager, logger = node
    ts = Timestamp.now()
    path = manager.write_async_pending("sdb1", "PUT", "a", "c", "o", ts, {"X-Timestamp": ts.internal}, NODES[:1])
    _updater(devices, logger, RecordingPool({6011: 503})).run_pass()
    assert os.path.exists(path)


def test_only_the_newest_update_per_object_is_sent(node):
    devices, manager, logger = node
    old, new = Timestamp(1700000000), Timestamp(1700000005)
    manager.write_async_pending("sdb1", "PUT", "a", "c", "o", old, {"X-Timestamp": old.internal}, NODES[:1])
    manager.write_async_pending("sdb1", "DELETE", "a", "c", "o", new, {"X-Timestamp": new.internal}, NODES[:1])
    pool = RecordingPool({})
    _updater(devices, logger, pool).run_pass()
    assert [(method, headers["X-Timestamp"]) for _p, method, _path, headers in pool.sent] == [
        ("DELETE", new.internal)]
    assert _pendings(devices) == []


def test_unreadable_file_is_kept_and_logged(node):
    devices, manager, logger = node
    base = os.path.join(devices, "sdb1", "async_pending", "abc")
    os.makedirs(base)
    bad = os.path.join(base, "0" * 29 + "abc-1700000000.00000")
    with open(bad, "wb") as handle:
        handle.write(b"garbage")
    stats = _updater(devices, logger, RecordingPool({})).run_pass()
    assert stats["errors"] == 1
    assert os.path.exists(bad)


def test_newest_per_object_and_update_request():
    h1, h2 = "a" * 32, "b" * 32
    names = ["%s-1700000001.00000" % h1, "%s-1700000002.00000" % h1, "%s-1700000001.00000" % h2, "junk"]
    newest, obsolete = newest_per_object(names)
    assert newest == ["%s-1700000002.00000" % h1, "%s-1700000001.00000" % h2]
    assert obsolete == ["%s-1700000001.00000" % h1]
    entry = {"op": "PUT", "account": "a", "container": "c c", "obj": "o/x", "headers": {"X-Size": 1}}
    assert update_request(entry, NODES[0]) == ("PUT", "/sdb1/7/a/c%20c/o/x", {"X-Size": "1"})


def test_a_crash_mid_update_keeps_the_file(node):
    devices, manager, logger = node
    ts = Timestamp.now()
    path = manager.write_async_pending("sdb1", "PUT", "a", "c", "o", ts, {"X-Timestamp": ts.internal}, NODES)

    class Crash(BaseException):
        pass

    class CrashingPool(RecordingPool):
        def request(self, ip, port, method, path, headers=None, body=None):
            if port == 6021:
                raise Crash()  # the process dies between two container nodes
            return super().request(ip, port, method, path, headers, body)

    with pytest.raises(Crash):
        _updater(devices, logger, CrashingPool({})).run_pass()
    assert os.path.exists(path)
    _updater(devices, logger, RecordingPool({})).run_pass()
    assert not os.path.exists(path)
