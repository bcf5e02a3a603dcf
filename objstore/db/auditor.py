"""The shared DB auditor: opens every container (or account) database on the
node's disks, slowly, and quarantines the ones SQLite finds corrupt, so that
the replicators of the other replicas send a good copy back.
``container/auditor.py`` and ``account/auditor.py`` are subclasses made of
class attributes only.

What lives here: the walk of DB files on every device directory found (the
auditor checks the disks it finds; it needs no ring) and the check of one DB.
What does not: moving a DB aside (``quarantine_db`` in ``db/broker.py``, also
used by the servers when a request meets a corrupt DB), looping and rate
limiting machinery (``daemon/runner.py``).

A check is ``PRAGMA quick_check`` (page structure, not every index entry
against its table: the full ``integrity_check`` is O(n log n) per DB and
would keep disks busy for hours on big containers) plus reading the stat
row and the item count. ``databases_per_second`` keeps the disks available
to clients.
"""

import dataclasses
import os

from objstore.common.config import option
from objstore.common.exceptions import DatabaseCorrupt, DatabaseError
from objstore.common.fs import ismount, listdir
from objstore.daemon.runner import Daemon, DaemonConfig, RateLimiter
from objstore.db.broker import quarantine_db
from objstore.db.replicator import db_files


@dataclasses.dataclass(frozen=True)
class DBAuditorConfig(DaemonConfig):
    interval: float = option(1800.0, "seconds from the start of one pass to the start of the next")
    databases_per_second: float = option(50.0, "databases checked per second at most (0: no limit)")


def audit_db(broker):
    """Check one DB; returns its ``get_info()``.

    :raises DatabaseCorrupt: SQLite found it damaged.
    :raises DatabaseError: it cannot be read for another reason.
    """
    broker.quick_check()
    info = broker.get_info()
    with broker.get() as conn:
        conn.execute("SELECT COUNT(*) FROM %s" % broker.item_table).fetchone()
    return info


class DBAuditor(Daemon):
    """One pass: every DB on every device directory checked (see the module docstring).

    Subclasses set ``name``, ``server_section``, ``db_type`` and ``broker_class``.
    """

    config_cls = DBAuditorConfig
    db_type = None
    broker_class = None

    def __init__(self, config, logger, limiter=None):
        super().__init__(config, logger)
        self.limiter = limiter or RateLimiter(config.databases_per_second)

    def device_dirs(self, only=None):
        result = []
        for name in sorted(listdir(self.config.devices)):
            path = os.path.join(self.config.devices, name)
            if only and name not in only:
                continue
            if self.config.mount_check and not ismount(path):
                self.logger.warning("skipping %s: not mounted", name)
                continue
            if os.path.isdir(path):
                result.append(path)
        return result

    def run_pass(self, devices=None, partitions=None):
        stats = {"passed": 0, "failed": 0, "quarantined": 0}
        for device_path in self.device_dirs(devices):
            for _part, path in db_files(os.path.join(device_path, self.db_type + "s"), partitions):
                if self.stopping():
                    return stats
                broker = self.broker_class(path, logger=self.logger, stale_reads_ok=False)
                try:
                    audit_db(broker)
                    stats["passed"] += 1
                except DatabaseCorrupt as err:
                    broker.close()
                    stats["failed"] += 1
                    try:
                        quarantine_db(path, self.db_type, str(err), self.logger)
                        stats["quarantined"] += 1
                    except OSError as move_err:
                        self.logger.error("cannot quarantine %s: %s", path, move_err)
                except DatabaseError as err:
                    stats["failed"] += 1
                    self.logger.error("cannot audit %s: %s", path, err)
                finally:
                    broker.close()
                self.limiter.wait()
        return stats
