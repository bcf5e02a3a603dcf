"""The container updater: sends each container's stats (object count, bytes,
put and delete timestamps) to its account's servers when they changed since
the last report the account accepted, so account listings and totals catch
up with object writes (which only reach the container servers) and with
container PUT/DELETE reports that failed at the time.

What lives here: :class:`ContainerUpdater` (one pass over the container DBs
on this node's disks) and the pure decision of whether a set of answers
counts as delivered. What does not: what a report holds and when one is
due (``report_headers`` in ``container/server.py``,
``ContainerBroker.needs_report`` / ``reported``), the account side
(``account/server.py``), looping (``daemon/runner.py``).

A report is delivered when a majority of the account's primaries answer 2xx;
the container then remembers what it reported, so an unchanged container
costs one small SQLite read per pass. Answers of 404 (no such account) are
not delivered: the account reaper or an operator decides about those
containers, and the updater keeps trying at each pass.
"""

import dataclasses
import os

from objstore.common.config import option
from objstore.common.exceptions import BackendError, DatabaseError
from objstore.common.fs import ismount, listdir
from objstore.container.broker import ContainerBroker
from objstore.container.server import report_headers
from objstore.daemon.runner import Daemon, DaemonConfig, RateLimiter, daemon_main
from objstore.db.replicator import db_files
from objstore.ring import Ring
from objstore.web.backend import ConnectionPool, quote_path


@dataclasses.dataclass(frozen=True)
class ContainerUpdaterConfig(DaemonConfig):
    interval: float = option(300.0, "seconds from the start of one pass to the start of the next")
    containers_per_second: float = option(50.0, "containers examined per second at most (0: no limit)")
    conn_timeout: float = option(0.5, "seconds to connect to an account server")
    node_timeout: float = option(3.0, "seconds to wait for an account server's answer")


def delivered(statuses, replicas):
    """True when a majority of ``replicas`` answered 2xx (``statuses``: ints, None for no answer)."""
    good = sum(1 for status in statuses if status is not None and 200 <= status < 300)
    return good >= replicas // 2 + 1


class ContainerUpdater(Daemon):
    """One pass: every container whose stats changed reported to its account.

    :param account_ring: the account Ring (from ``ring_dir`` when None).
    :param pool: a ConnectionPool (made from the config when None).
    """

    name = "container-updater"
    server_section = "container-server"
    config_cls = ContainerUpdaterConfig

    def __init__(self, config, logger, account_ring=None, pool=None, limiter=None):
        super().__init__(config, logger)
        self._ring = account_ring
        self.pool = pool or ConnectionPool(config.conn_timeout, config.node_timeout)
        self.limiter = limiter or RateLimiter(config.containers_per_second)

    @property
    def account_ring(self):
        if self._ring is None:
            self._ring = Ring(os.path.join(self.config.ring_dir, "account.ring.gz"))
        return self._ring

    def run_pass(self, devices=None, partitions=None):
        stats = {"checked": 0, "reported": 0, "failed": 0, "unchanged": 0}
        for name in sorted(listdir(self.config.devices)):
            device_path = os.path.join(self.config.devices, name)
            if devices and name not in devices:
                continue
            if (self.config.mount_check and not ismount(device_path)) or not os.path.isdir(device_path):
                continue
            for _part, path in db_files(os.path.join(device_path, "containers"), partitions):
                if self.stopping():
                    return stats
                stats["checked"] += 1
                outcome = self.update_one(path)
                stats[outcome] += 1
                self.limiter.wait()
        return stats

    def update_one(self, path):
        """Report one container if due; returns ``reported``, ``failed`` or ``unchanged``."""
        broker = ContainerBroker(path, logger=self.logger)
        try:
            info = broker.get_info()
            if not ContainerBroker.needs_report(info) or not info["account"] or not info["container"]:
                return "unchanged"
            part, nodes = self.account_ring.get_nodes(info["account"])
            headers = report_headers(info)
            statuses = []
            for node in nodes:
                request_path = quote_path(node["device"], str(part), info["account"], info["container"])
                try:
                    resp = self.pool.request(node["ip"], node["port"], "PUT", request_path, headers)
                    statuses.append(resp.status)
                except BackendError as err:
                    self.logger.warning("account update of %s/%s to %s:%s failed: %s", info["account"],
                                        info["container"], node["ip"], node["port"], err)
                    statuses.append(None)
            if not delivered(statuses, len(nodes)):
                self.logger.info("account update of %s/%s not delivered: %s",
                                 info["account"], info["container"], statuses)
                return "failed"
            broker.reported(info["put_timestamp"], info["delete_timestamp"],
                            info["object_count"], info["bytes_used"])
            return "reported"
        except DatabaseError as err:
            self.logger.error("cannot read %s: %s", path, err)
            return "failed"
        finally:
            broker.close()


def main(argv=None):
    """``objstore-container-updater CONF [--once] [--devices ..] [--partitions ..]``."""
    return daemon_main(ContainerUpdater, argv)


if __name__ == "__main__":
    raise SystemExit(main())
