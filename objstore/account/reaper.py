"""The account reaper: empties accounts that a reseller admin deleted.

What lives here: :class:`AccountReaper` (one pass over this node's account
databases) and the pure choice of who reaps (:func:`is_reaper_for`). What
does not: marking an account deleted (the account server's DELETE), removing
the account database once its tombstone is old (the account replicator's
reclaim), the object and container servers' handling of the deletes.

Theory of operation (as Swift's reaper):
- A pass walks ``<devices>/<dev>/accounts/<part>/<suffix>/<hash>/<hash>.db``
  on the local devices. An account whose status is DELETED (and whose delete
  is older than ``delay_reaping``) is reaped, by one node only: the one
  holding the partition's first primary, so the replicas do not all repeat
  the same deletes (another node's copy waits for the replicator).
- Reaping lists the account's containers from the local database; for each
  container it pages through the listing of a container replica, sends
  DELETE for each object to its object primaries (with the container headers,
  so the listing rows go too), then DELETE for the container to its
  primaries (with the account headers, so the account's row goes). Anything
  that fails is left for the next pass; the account stays DELETED until
  then. The empty, deleted account's database is reclaimed by the account
  replicator after ``reclaim_age``.
"""

import dataclasses
import json
import os

from objstore.account.broker import DELETED_STATUS, AccountBroker
from objstore.common.config import option
from objstore.common.exceptions import ObjstoreError
from objstore.common.fs import ismount, listdir
from objstore.common.timestamp import Timestamp
from objstore.daemon import local
from objstore.daemon.runner import ClusterDaemon, DaemonConfig, daemon_main
from objstore.web.backend import quote_path

PAGE = 1000


@dataclasses.dataclass(frozen=True)
class ReaperConfig(DaemonConfig):
    interval: float = option(3600.0, "seconds from the start of one pass to the start of the next")
    delay_reaping: float = option(0.0, "seconds after an account's deletion before it is reaped")
    conn_timeout: float = option(0.5, "seconds to connect to a server")
    node_timeout: float = option(10.0, "seconds to wait on a server's answer")


def is_reaper_for(device, primaries):
    """True when ``device`` (a ring device dict) is the partition's first primary."""
    return bool(primaries) and primaries[0]["id"] == device["id"]


def account_dbs(device_path):
    """Yield ``(part, db_file)`` of every account database on a device."""
    base = os.path.join(device_path, "accounts")
    for part in sorted(listdir(base)):
        if not part.isdigit():
            continue
        for suffix in sorted(listdir(os.path.join(base, part))):
            for name_hash in sorted(listdir(os.path.join(base, part, suffix))):
                db_file = os.path.join(base, part, suffix, name_hash, name_hash + ".db")
                if os.path.exists(db_file):
                    yield int(part), db_file


class AccountReaper(ClusterDaemon):
    """One pass: every deleted account this node is first primary of, emptied.

    Rings, pool and clock come from ClusterDaemon.
    """

    name = "account-reaper"
    server_section = "account-server"
    config_cls = ReaperConfig

    def run_pass(self, devices=None, partitions=None):
        stats = {"accounts_reaped": 0, "accounts_pending": 0, "containers_deleted": 0,
                 "objects_deleted": 0, "failures": 0}
        ring = self.ring("account")
        for device in local.local_devices(ring.devs, self.config.bind_ip, self.config.bind_port, devices):
            path = os.path.join(self.config.devices, device["device"])
            if not os.path.isdir(path) or (self.config.mount_check and not ismount(path)):
                continue
            for part, db_file in account_dbs(path):
                if self.stopping():
                    return stats
                if partitions and part not in partitions:
                    continue
                if not is_reaper_for(device, ring.get_part_nodes(part)):
                    continue
                try:
                    self.consider(db_file, stats)
                except Exception:  # the daemon loop's catch-all, per account
                    stats["failures"] += 1
                    self.logger.exception("ERROR reaping %s", db_file)
        return stats

    def consider(self, db_file, stats):
        broker = AccountBroker(db_file, logger=self.logger)
        info = broker.get_info()
        if info.get("status") != DELETED_STATUS:
            return
        if float(Timestamp(info["delete_timestamp"])) + self.config.delay_reaping > self.now():
            return
        account = info["account"]
        containers, marker = [], ""
        while True:
            page = broker.list_containers(PAGE, marker)
            rows = [row for row in page if "name" in row]
            if not rows:
                break
            containers.extend(row["name"] for row in rows)
            marker = rows[-1]["name"]
        if not containers:
            return
        self.logger.info("reaping account %s: %d containers", account, len(containers))
        done = True
        for container in containers:
            if self.stopping():
                return
            done = self.reap_container(account, container, stats) and done
        stats["accounts_reaped" if done else "accounts_pending"] += 1

    def _listing(self, account, container, marker):
        part, nodes = self.ring("container").get_nodes(account, container)
        query = "?format=json&limit=%d" % PAGE
        if marker:
            query += "&marker=" + quote_path(marker)[1:]
        missing = 0
        for node in nodes:
            path = quote_path(node["device"], str(part), account, container) + query
            try:
                resp = self.pool.request(node["ip"], node["port"], "GET", path, {})
            except ObjstoreError:
                continue
            if resp.status == 200:
                return json.loads(resp.body or b"[]")
            if resp.status == 204:
                return []
            if resp.status == 404:
                missing += 1
        return [] if missing == len(nodes) else None

    def reap_container(self, account, container, stats):
        """Delete every object of a container, then the container.

        :returns: True when the container is gone everywhere it answered.
        """
        marker = ""
        ok = True
        while True:
            rows = self._listing(account, container, marker)
            if rows is None:
                stats["failures"] += 1
                return False
            names = [row["name"] for row in rows if "name" in row]
            if not names:
                break
            for name in names:
                if self.stopping():
                    return False
                if self.delete_object(account, container, name):
                    stats["objects_deleted"] += 1
                else:
                    stats["failures"] += 1
                    ok = False
            marker = names[-1]
        if not ok:
            return False
        if self.delete_container(account, container):
            stats["containers_deleted"] += 1
            return True
        stats["failures"] += 1
        return False

    def delete_object(self, account, container, obj):
        """DELETE an object on all its primaries (each telling one container replica)."""
        return self._delete_everywhere("object", (account, container, obj), "container",
                                       (account, container), ok=(404, 409))

    def delete_container(self, account, container):
        """DELETE a container on all its primaries (each telling one account replica)."""
        return self._delete_everywhere("container", (account, container), "account", (account,), ok=(404,))

    def _delete_everywhere(self, kind, names, parent_kind, parent_names, ok):
        """True when every primary of ``names`` answered 2xx or a status in ``ok``.

        Each replica's request names one replica of the parent (``X-Container-*``
        or ``X-Account-*``) to update, as the proxy does.
        """
        part, nodes = self.ring(kind).get_nodes(*names)
        ppart, pnodes = self.ring(parent_kind).get_nodes(*parent_names)
        prefix = "X-%s-" % parent_kind.capitalize()
        timestamp = Timestamp.now().internal
        good = 0
        for index, node in enumerate(nodes):
            pnode = pnodes[index % len(pnodes)]
            headers = {
                "X-Timestamp": timestamp,
                prefix + "Host": "%s:%s" % (pnode["ip"], pnode["port"]),
                prefix + "Device": pnode["device"],
                prefix + "Partition": str(ppart),
            }
            try:
                resp = self.pool.request(node["ip"], node["port"], "DELETE",
                                         quote_path(node["device"], str(part), *names), headers)
            except ObjstoreError as err:
                self.logger.info("reaper: DELETE %s %s on %s:%s failed: %s", kind, "/".join(names),
                                 node["ip"], node["port"], err)
                continue
            if 200 <= resp.status < 300 or resp.status in ok:
                good += 1
        return good == len(nodes)

def main(argv=None):
    """``objstore-account-reaper CONF [--once] [--devices ..] [--partitions ..]``."""
    return daemon_main(AccountReaper, argv)


if __name__ == "__main__":
    raise SystemExit(main())
