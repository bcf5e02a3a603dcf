"""Group commit of pending-file records: updates of one DB that arrive while
an fsync of its pending file runs share the next fsync.

What lives here: :class:`GroupCommit`, which a DB server hands to its brokers.
What does not: the pending file's format and lock (``broker.py``), the
servers (``db/server.py``).

Theory of operation
-------------------
A record may be acknowledged only once an fsync of the pending file that
*began after the record's append had finished* has returned without error.
Per pending file there is at most one fsync in flight (``running``) and one
batch of callers waiting for the next one (``open``):

1. A caller appends its record under the file's flock (broker.py), releases
   the lock and calls :meth:`GroupCommit.sync`. It joins the open batch.
2. If no fsync is running, the caller takes the open batch (its own and that
   of everyone who joined before) and runs the fsync through ``run_blocking``
   (the server passes a thread pool: the other greenthreads of the process go
   on, and keep appending, meanwhile). Otherwise it waits for the running
   fsync to end and tries again: its own batch opened after that fsync began,
   so that fsync may not cover its record.
3. When the fsync returns, every caller of the batch is woken with its
   result; one of the next batch leads the next fsync. N concurrent updates
   of one DB therefore cost about two fsyncs in a row instead of N, and the
   event loop never blocks on the disk.

A failed fsync fails every caller of its batch (the server answers 5xx and
the object server keeps an async_pending): after an fsync error Linux may
have dropped the dirty pages, so a later fsync's success would prove nothing.

This relies on cooperative scheduling (greenthreads: the bookkeeping between
two waits runs without interruption); with ``run_blocking`` None (tests,
CLIs, daemons: one caller at a time) :meth:`sync` is a plain fsync.
"""

import errno
import os

from objstore.common import green


def fsync_path(path):
    """Open ``path``, fsync it and close it (fsync covers the inode's data
    whichever descriptor wrote it)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _Batch:
    """The callers one fsync answers."""

    __slots__ = ("event", "finished", "error")

    def __init__(self, event):
        self.event = event
        self.finished = False
        self.error = None


class GroupCommit:
    """Shared fsyncs of pending files (see the module's theory of operation).

    :param run_blocking: ``callable(fn, *args)`` running the fsync (the
        server passes ``green.tpool_execute``); None: fsync directly, no
        grouping.
    :param make_event: the event type waiters block on (green.Event).
    """

    def __init__(self, run_blocking=None, make_event=green.Event):
        self.run_blocking = run_blocking
        self.make_event = make_event
        self.fsyncs = 0  # how many fsyncs ran (for tests and recon)
        self._open = {}  # path -> _Batch waiting for the next fsync
        self._running = {}  # path -> _Batch whose fsync is in flight

    def sync(self, path):
        """Return once an fsync of ``path`` that began after this call did.

        :raises OSError: that fsync (or the open before it) failed.
        """
        if self.run_blocking is None:
            self.fsyncs += 1
            fsync_path(path)
            return
        batch = self._open.get(path)
        if batch is None:
            batch = self._open[path] = _Batch(self.make_event())
        while not batch.finished:
            running = self._running.get(path)
            if running is not None:
                running.event.wait()
                continue
            # Nothing in flight and our batch not finished: it is still the
            # open one (only a leader moves it, and then it is running).
            lead = self._open.pop(path)
            self._running[path] = lead
            done = False
            try:
                self.fsyncs += 1
                self.run_blocking(fsync_path, path)
                done = True
            except OSError as err:
                lead.error = err
            finally:
                if not done and lead.error is None:
                    # the leader was interrupted (a timeout, a kill): its
                    # fsync may not have finished, so nobody may count on it
                    lead.error = OSError(errno.EIO, "interrupted")
                del self._running[path]
                lead.finished = True
                lead.event.send()
        if batch.error is not None:
            raise OSError(batch.error.errno, "fsync of %s failed: %s" % (path, batch.error.strerror))
