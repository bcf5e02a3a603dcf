"""InlineWhenFast: inline while calls are fast, to the pool when they get
slow, back inline once a probe finds them fast again (a fake clock; the
"pool" is a recorder that runs the call)."""

import pytest

from objstore.web.blocking import InlineWhenFast


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


@pytest.fixture
def setup():
    clock = Clock()
    pooled = []

    def threaded(fn, *args):
        pooled.append(args)
        return fn(*args)

    def taking(seconds):
        def fn(value):
            clock.now += seconds
            return value
        return fn

    return InlineWhenFast(threaded, limit=0.001, probe=1.0, clock=clock), clock, pooled, taking


def test_moves_to_the_pool_when_slow_and_back_after_a_fast_probe(setup):
    runner, clock, pooled, taking = setup
    assert runner(taking(0.0002), "a") == "a"
    assert (runner.inline_calls, runner.threaded_calls, pooled) == (1, 0, [])
    for _ in range(3):
        runner(taking(0.05), "slow")  # a few slow calls (the machine was busy) are not enough
        runner(taking(0.0002), "fast")
    assert not runner.slow
    for _ in range(8):
        runner(taking(0.05), "slow")  # the disk got slow: most calls take longer than the limit
    assert runner.slow
    assert runner(taking(0.05), "pooled") == "pooled"
    assert pooled[-1] == ("pooled",)
    inline = runner.inline_calls
    clock.now += 1.0  # time for a probe: inline again, and fast
    for _ in range(60):
        runner(taking(0.0001), "fast")
        clock.now += 1.0
    assert not runner.slow
    before = len(pooled)
    runner(taking(0.0001), "inline")
    assert len(pooled) == before and runner.inline_calls > inline


def test_a_failing_call_still_counts_and_raises(setup):
    runner, clock, _pooled, _taking = setup

    def boom():
        clock.now += 1.0
        raise OSError(5, "EIO")

    for _ in range(8):
        with pytest.raises(OSError):
            runner(boom)
    assert runner.slow
