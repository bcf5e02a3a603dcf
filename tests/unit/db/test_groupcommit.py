"""Group commit of pending records: concurrent updates of one DB share
fsyncs, each caller returns only after an fsync that began after its append,
and a failed fsync fails every caller it was meant to cover.

Real brokers on tmp_path, real fsyncs; greenthreads for the concurrency, and
a ``run_blocking`` that sleeps (yields) before each fsync to stand in for a
slow disk. The real process is covered by the container server's
``test_200_concurrent_object_updates_all_land``.
"""

import errno
import os

import pytest

from objstore.common import green
from objstore.container.broker import ContainerBroker
from objstore.db import broker as dbb
from objstore.db.groupcommit import GroupCommit

TS = "0000000002.00000"


class SlowDisk:
    """``run_blocking`` that yields, notes how many pending bytes each fsync
    covers once it returned, and fails the calls listed in ``fail``."""

    def __init__(self, path, fail=()):
        self.path = path
        self.fail = set(fail)
        self.calls = 0
        self.covered = 0  # pending bytes known durable

    def __call__(self, fn, *args):
        self.calls += 1
        call = self.calls
        size = os.path.getsize(self.path)  # what this fsync will cover, at the least
        green.sleep(0.01)
        if call in self.fail:
            raise OSError(errno.EIO, "injected")
        fn(*args)
        self.covered = max(self.covered, size)


@pytest.fixture
def db_file(tmp_path):
    path = str(tmp_path / "c.db")
    ContainerBroker(path).initialize("0000000001.00000")
    return path


def durable_names(path, covered):
    with open(path, "rb") as handle:
        return {record[0] for record in dbb.decode_pending(handle.read(covered))}


def test_concurrent_updates_share_fsyncs_and_each_waits_for_its_own(db_file):
    disk = SlowDisk(db_file + ".pending")
    group = GroupCommit(disk)
    late = []

    def update(name):
        ContainerBroker(db_file, group_commit=group).put_object(name, TS, 1, "t", "e")
        if name not in durable_names(db_file + ".pending", disk.covered):
            late.append(name)  # answered before an fsync covered its record

    pool = green.GreenPool(50)
    for i in range(40):
        pool.spawn(update, "obj-%02d" % i)
    pool.waitall()
    assert late == []
    assert group.fsyncs == disk.calls <= 3  # 40 records, one fsync or two in a row
    assert ContainerBroker(db_file).get_info()["object_count"] == 40


def test_updates_arriving_during_an_fsync_wait_for_the_next_one(db_file):
    disk = SlowDisk(db_file + ".pending")
    group = GroupCommit(disk)
    broker = ContainerBroker(db_file, group_commit=group)
    first = green.spawn(broker.put_object, "first", TS, 1, "t", "e")
    green.sleep(0)  # "first" appended and its fsync is in flight
    assert disk.calls == 1
    broker.put_object("second", TS, 1, "t", "e")  # appended after that fsync began
    first.wait()
    assert disk.calls == 2
    assert durable_names(db_file + ".pending", disk.covered) == {"first", "second"}


def test_a_failed_fsync_fails_its_whole_batch_and_the_next_one_is_fresh(db_file):
    disk = SlowDisk(db_file + ".pending", fail={2})
    group = GroupCommit(disk)
    results = {}

    def update(name):
        try:
            ContainerBroker(db_file, group_commit=group).put_object(name, TS, 1, "t", "e")
            results[name] = "ok"
        except OSError as err:
            results[name] = err.errno

    leader = green.spawn(update, "a")
    green.sleep(0)  # fsync 1 (covering "a") in flight
    batch = [green.spawn(update, "b%d" % i) for i in range(5)]  # all wait for fsync 2, which fails
    for thread in [leader] + batch:
        thread.wait()
    assert results == {"a": "ok", **{"b%d" % i: errno.EIO for i in range(5)}}
    update("c")
    assert results["c"] == "ok" and disk.calls == 3


def test_an_interrupted_leader_fails_its_batch_instead_of_acknowledging_it(db_file):
    path = db_file + ".pending"
    calls = []

    def run_blocking(fn, *args):
        calls.append(green.getcurrent())
        green.sleep(0.01 if len(calls) == 1 else 5)  # the second fsync never gets done here
        fn(*args)

    group = GroupCommit(run_blocking)
    errors = {}

    def sync(name):
        try:
            group.sync(path)
            errors[name] = None
        except OSError as err:
            errors[name] = err.errno

    with open(path, "ab") as handle:
        handle.write(dbb.encode_pending(["x", TS, 1, "t", "e", 0]))
    first = green.spawn(sync, "first")
    green.sleep(0)  # fsync 1 in flight
    second, third = green.spawn(sync, "second"), green.spawn(sync, "third")  # batch 2
    first.wait()
    while len(calls) < 2:
        green.sleep(0.001)
    leader = second if calls[1] is second else third
    leader.kill()  # a timeout or a dying connection ends the leader mid-fsync
    (third if leader is second else second).wait()
    assert errors == {"first": None, ("third" if leader is second else "second"): errno.EIO}


def test_without_run_blocking_it_is_a_plain_fsync(db_file):
    group = GroupCommit(None)
    ContainerBroker(db_file, group_commit=group).put_object("o", TS, 1, "t", "e")
    assert group.fsyncs == 1
    with pytest.raises(OSError):
        group.sync(db_file + ".missing")


def test_merge_past_the_cap_needs_no_fsync_of_the_pending_file(tmp_path):
    path = str(tmp_path / "c.db")
    ContainerBroker(path).initialize("0000000001.00000")
    group = GroupCommit(None)
    broker = ContainerBroker(path, pending_cap=1, group_commit=group)
    broker.put_object("o", TS, 1, "t", "e")  # past the cap at once: merged into SQLite (committed)
    assert group.fsyncs == 0
    assert ContainerBroker(path, stale_reads_ok=True).get_info()["object_count"] == 1
