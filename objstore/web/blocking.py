"""How a server process runs short blocking disk calls (fsyncs of small files
and directories): inline while the disk answers them quickly, in a thread
pool once it does not.

What does not live here: which calls are short (the callers decide: the
object server's small-file and directory fsyncs, the DB servers' pending-file
fsyncs), the thread pool itself (``common.green.tpool_execute``).

Why: an eventlet server runs all its requests in one OS thread, so a blocking
call stalls every other request of the process for its duration. A thread
pool avoids the stall but costs each call a hand-off between threads (a queue,
two wake-ups, a pipe write and read, the GIL changing hands): about 0.1 ms of
CPU, as much as an fsync takes on a disk with a write cache, and two or three
of them per object PUT on each node. :class:`InlineWhenFast` keeps a moving
share of its inline calls that took longer than ``limit`` seconds and runs a
call inline while that share is at most one half (the typical call is fast),
in the pool otherwise. On a slow disk the calls thus move to the pool after a
few slow ones, and come back once the disk is fast again.

The default limit, 5 ms, is high on purpose: in a cluster whose servers
share the CPUs, a process waiting on an fsync leaves its CPU to the others,
while a thread hand-off burns CPU every time. Measured on a 2-core VM under
other load (4 KiB PUTs at concurrency 10, fsyncs of 0.2-3 ms): with a 1 or
2 ms limit the calls went to the pool most of the time and the cluster spent
~11-14 ms of CPU per PUT; with 5 ms they stayed inline: ~8-9 ms. A spinning
disk (fsyncs of 8 ms and more) still gets the pool.
"""

import time

# Weight of the newest call in the moving share of slow calls: about the
# last ten calls count.
WEIGHT = 0.1
# Calls go to the pool while more than this share of the recent inline calls
# took longer than the limit: a median test, so that an fsync descheduled now
# and then on a busy machine (which says nothing of the disk) does not count.
SLOW_SHARE = 0.5


class InlineWhenFast:
    """``callable(fn, *args)``: run ``fn(*args)`` inline while such calls are
    fast, through ``threaded`` otherwise (see the module docstring).

    Durations are measured inline only: in a pool thread the time would also
    count the wait for the GIL after the call, which the event loop holds
    while it has work. While calls go to the pool, one every ``probe``
    seconds runs inline to measure again.

    :param threaded: ``callable(fn, *args)`` running it in a thread pool.
    :param limit: seconds; a call taking longer is slow.
    :param probe: seconds between inline calls while most calls are slow.
    :param clock: a monotonic clock (tests pass a fake one).
    """

    def __init__(self, threaded, limit=0.005, probe=1.0, clock=time.monotonic):
        self.threaded = threaded
        self.limit = limit
        self.probe = probe
        self.clock = clock
        self.slow_share = 0.0
        self.next_probe = 0.0
        self.inline_calls = 0
        self.threaded_calls = 0

    @property
    def slow(self):
        return self.slow_share > SLOW_SHARE

    def __call__(self, fn, *args):
        start = self.clock()
        if self.slow_share > SLOW_SHARE and start < self.next_probe:
            self.threaded_calls += 1
            return self.threaded(fn, *args)
        self.inline_calls += 1
        try:
            return fn(*args)
        finally:
            end = self.clock()
            self.slow_share += WEIGHT * ((end - start > self.limit) - self.slow_share)
            if self.slow_share > SLOW_SHARE:
                self.next_probe = end + self.probe
