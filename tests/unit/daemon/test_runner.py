"""The daemon runner: config overlay, sleeps, rate limits, passes, recon."""

import dataclasses
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from objstore.common.config import option
from objstore.common.exceptions import ConfigError
from objstore.daemon import recon, runner


@dataclasses.dataclass(frozen=True)
class ToyConfig(runner.DaemonConfig):
    reclaim_age: int = option(604800, "seconds a tombstone is kept")
    words: str = option("hi", "what the toy says")


class ToyDaemon(runner.Daemon):
    name = "toy-worker"
    server_section = "toy-server"
    config_cls = ToyConfig

    def __init__(self, config, logger):
        super().__init__(config, logger)
        self.calls = []

    def run_pass(self, devices=None, partitions=None):
        self.calls.append((devices, partitions))
        return {"said": self.config.words, "count": len(self.calls)}


def _write(path, text):
    path.write_text(textwrap.dedent(text))
    return str(path)


def test_config_inherits_node_keys_from_server_section(tmp_path):
    conf = _write(tmp_path / "node.conf", """
        [DEFAULT]
        user = nobody
        [toy-server]
        devices = /data/node1
        bind_port = 6010
        workers = 4
        [toy-worker]
        words = hello
        interval = 5
    """)
    config = runner.load_daemon_config(conf, "toy-worker", ToyConfig, "toy-server")
    assert config.devices == "/data/node1"
    assert config.bind_port == 6010
    assert config.words == "hello"
    assert config.interval == 5.0


def test_config_own_section_overrides_and_rejects_unknown(tmp_path):
    conf = _write(tmp_path / "node.conf", """
        [toy-server]
        devices = /data/node1
        [toy-worker]
        devices = /elsewhere
    """)
    assert runner.load_daemon_config(conf, "toy-worker", ToyConfig, "toy-server").devices == "/elsewhere"
    bad = _write(tmp_path / "bad.conf", """
        [toy-worker]
        colour = blue
    """)
    with pytest.raises(ConfigError):
        runner.load_daemon_config(bad, "toy-worker", ToyConfig, "toy-server")


def test_config_missing_section_gives_defaults(tmp_path):
    conf = _write(tmp_path / "node.conf", """
        [DEFAULT]
        devices = /d
    """)
    config = runner.load_daemon_config(conf, "toy-worker", ToyConfig, "toy-server")
    assert config.devices == "/d"
    assert config.words == "hi"


def test_config_validation():
    from objstore.common.config import build

    with pytest.raises(ConfigError):
        build(ToyConfig, {"jitter": "2"})


def test_next_sleep():
    assert runner.next_sleep(30, 10, 0.0, 0.5) == 20
    assert runner.next_sleep(30, 40, 0.0, 0.5) == 0
    assert runner.next_sleep(30, 10, 0.1, 0.5) == pytest.approx(21.5)


class FakeClock:
    def __init__(self):
        self.now = 100.0
        self.slept = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


def test_rate_limiter_spaces_units():
    clock = FakeClock()
    limiter = runner.RateLimiter(10, clock=clock, sleep=clock.sleep)
    for _ in range(30):
        limiter.wait()
    # 30 units at 10/s take about 3 seconds in total
    assert sum(clock.slept) == pytest.approx(2.9, abs=0.11)


def test_rate_limiter_bytes_and_unlimited():
    clock = FakeClock()
    limiter = runner.RateLimiter(1000, clock=clock, sleep=clock.sleep)
    limiter.wait(5000)
    assert sum(clock.slept) == pytest.approx(5.0)
    free = runner.RateLimiter(0, clock=clock, sleep=clock.sleep)
    assert free.wait(10 ** 9) == 0.0


def test_rate_limiter_idle_time_earns_at_most_one_second():
    clock = FakeClock()
    limiter = runner.RateLimiter(10, clock=clock, sleep=clock.sleep)
    limiter.wait()
    clock.now += 100  # idle
    for _ in range(25):
        limiter.wait()
    assert sum(clock.slept) == pytest.approx(1.5, abs=0.11)


def test_run_once_writes_recon(tmp_path, capture):
    logger, handler = capture
    config = ToyConfig(devices=str(tmp_path / "devices"), recon_cache_path=str(tmp_path / "recon"))
    daemon = ToyDaemon(config, logger)
    entry = runner.run_once(daemon, devices=["sdb1"])
    assert entry["said"] == "hi"
    assert entry["partial"] is True
    runner.run_once(daemon)
    cached = recon.read_recon(str(tmp_path / "recon"), "toy-worker")
    assert cached["passes"] == 2
    assert cached["count"] == 2
    assert cached["partial"] is False
    assert daemon.calls == [(["sdb1"], None), (None, None)]
    assert any("pass done" in line for line in handler.lines())


def test_recon_dir_defaults_next_to_devices(tmp_path):
    assert recon.recon_dir("", str(tmp_path / "node1" / "devices")) == str(tmp_path / "node1" / "recon")
    assert recon.recon_dir("/var/cache/x", "/srv/node") == "/var/cache/x"


def test_run_forever_survives_a_crashing_pass(tmp_path, capture):
    logger, handler = capture

    class Crashy(ToyDaemon):
        def run_pass(self, devices=None, partitions=None):
            super().run_pass(devices, partitions)
            if len(self.calls) == 1:
                raise RuntimeError("boom")
            return {}

    clock = FakeClock()
    daemon = Crashy(ToyConfig(devices=str(tmp_path), interval=0, jitter=0), logger)
    runner.run_forever(daemon, clock=clock, rand=lambda: 0.0, sleep=clock.sleep, max_passes=3)
    assert len(daemon.calls) == 3
    assert any("pass failed" in line for line in handler.lines("ERROR"))


def test_run_forever_stops_when_asked(tmp_path, capture):
    logger, _ = capture

    class Stopper(ToyDaemon):
        def run_pass(self, devices=None, partitions=None):
            self.request_stop()
            return super().run_pass(devices, partitions)

    daemon = Stopper(ToyConfig(devices=str(tmp_path), interval=3600), logger)
    runner.run_forever(daemon, rand=lambda: 0.0)
    assert len(daemon.calls) == 1


def test_run_concurrently_keeps_order_and_logs_failures(tmp_path, capture):
    logger, handler = capture
    daemon = ToyDaemon(ToyConfig(devices=str(tmp_path), concurrency=3), logger)

    def work(item):
        if item == 2:
            raise ValueError("bad item")
        return item * 10

    assert daemon.run_concurrently(work, [1, 2, 3, 4]) == [10, None, 30, 40]
    assert len(handler.lines("ERROR")) == 1


def test_run_together_interleaves_daemons_in_one_process(tmp_path, capture):
    """Two daemons share one hub: while one sleeps between passes the other
    runs, and a stop request reaches both."""
    logger, _ = capture
    order = []

    class Napper(ToyDaemon):
        def run_pass(self, devices=None, partitions=None):
            order.append(self.config.words)
            if len(order) >= 6:
                for daemon in both:
                    daemon.request_stop()
            return super().run_pass(devices, partitions)

    both = [Napper(ToyConfig(devices=str(tmp_path), interval=0.01, jitter=0, words=word,
                             recon_cache_path=str(tmp_path / "recon")), logger) for word in ("a", "b")]
    assert runner.run_together(both) == 0
    assert sorted(set(order)) == ["a", "b"]
    assert order[:2] in (["a", "b"], ["b", "a"])  # b's first pass does not wait for a to finish
    assert recon.read_recon(str(tmp_path / "recon"), "toy-worker")["passes"] >= 6


def test_run_together_once_and_a_failing_daemon(tmp_path, capture):
    logger, handler = capture

    class Lost(ToyDaemon):
        name = "lost-worker"

        def run_pass(self, devices=None, partitions=None):
            raise ConfigError("two devices named sdb1 on this host")

    import io

    err = io.StringIO()
    good = ToyDaemon(ToyConfig(devices=str(tmp_path), recon_cache_path=str(tmp_path / "r")), logger)
    bad = Lost(ToyConfig(devices=str(tmp_path), recon_cache_path=str(tmp_path / "r")), logger)
    assert runner.run_together([bad, good], once=True, devices=["sdb1"], err=err) == 2
    assert good.calls == [(["sdb1"], None)]  # the other daemon still ran its pass
    assert err.getvalue() == "objstore-lost-worker: two devices named sdb1 on this host\n"


def test_parse_lists():
    assert runner.parse_int_list("1, 2,5") == [1, 2, 5]
    assert runner.parse_int_list("") is None
    assert runner.parse_name_list("sdb1,sdb2") == ["sdb1", "sdb2"]


SCRIPT = """
import sys
sys.path.insert(0, %(tests)r)
from objstore.daemon import runner
from tests.unit.daemon.test_runner import ToyDaemon
sys.exit(runner.daemon_main(ToyDaemon, sys.argv[1:]))
"""


def _run_script(tmp_path, args, **kw):
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    script = tmp_path / "toy.py"
    script.write_text(SCRIPT % {"tests": root})
    return subprocess.Popen([sys.executable, str(script)] + args, cwd=root, **kw)


def test_daemon_main_once_and_sigterm(tmp_path):
    conf = _write(tmp_path / "node.conf", """
        [toy-server]
        devices = %s
        [toy-worker]
        interval = 3600
        jitter = 0
    """ % (tmp_path / "devices"))
    proc = _run_script(tmp_path, [conf, "--once", "--devices", "sdb1"])
    assert proc.wait(90) == 0
    cached = recon.read_recon(str(tmp_path / "recon"), "toy-worker")
    assert cached["passes"] == 1 and cached["partial"] is True
    proc = _run_script(tmp_path, [conf], stderr=subprocess.PIPE)
    # wait for the first pass to be recorded, then ask it to stop
    import time
    deadline = time.time() + 90
    while recon.read_recon(str(tmp_path / "recon"), "toy-worker").get("passes") != 2:
        assert time.time() < deadline and proc.poll() is None
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(90) == 0
    assert b"toy-worker stopped" in proc.stderr.read()


def test_daemon_main_config_error(tmp_path):
    proc = _run_script(tmp_path, [str(tmp_path / "missing.conf"), "--once"], stderr=subprocess.PIPE)
    assert proc.wait(90) == 2
    assert b"cannot read config" in proc.stderr.read()
