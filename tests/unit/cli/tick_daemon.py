"""A tiny real daemon for the manager and all-in-one tests: each pass appends
a line to ``<devices>/ticks``; with ``stubborn = true`` it ignores SIGTERM from
its first pass on (to test stop timeouts)."""

import dataclasses
import os
import signal
import sys

from objstore.common.config import option
from objstore.daemon.runner import Daemon, DaemonConfig, daemon_main


@dataclasses.dataclass(frozen=True)
class TickConfig(DaemonConfig):
    stubborn: bool = option(False, "ignore SIGTERM once running")


class TickDaemon(Daemon):
    name = "tick-daemon"
    server_section = "echo"
    config_cls = TickConfig

    def run_pass(self, devices=None, partitions=None):
        if self.config.stubborn:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        os.makedirs(self.config.devices, exist_ok=True)
        with open(os.path.join(self.config.devices, "ticks"), "a") as handle:
            handle.write("tick %d\n" % os.getpid())
        return {"ticks": 1}


def main(argv=None):
    return daemon_main(TickDaemon, argv)


if __name__ == "__main__":
    sys.exit(main())
