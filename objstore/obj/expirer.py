"""The object expirer: deletes objects whose X-Delete-At has passed, and
their listing entries with them.

What lives here: the queue's naming (:func:`queue_container`,
:func:`queue_entry`, :func:`parse_queue_entry`, pure), the object server's
side of queueing (:func:`queue_update_nodes`, :func:`queue_update_request`)
and :class:`ObjectExpirer` (one pass over the queue). What does not: the
proxy turning X-Delete-After into X-Delete-At and naming the queue's
container replicas (proxy/controllers/obj.py), the object server refusing to
serve an expired object (it does so on its own from the metadata).

Theory of operation (as Swift does, so the queue is the same shape):
- The queue is a hidden account, ``.expiring_objects``. Its containers are
  named by X-Delete-At rounded down to ``divisor`` (86400: one per day) and
  hold one row per object to delete: ``<delete_at>-<account>/<container>/<obj>``.
- The proxy's object PUT/POST names one queue container replica per object
  replica (``X-Delete-At-Host/-Device/-Partition/-Container``); each object
  server adds the row to its queue replica like any container update (an
  async_pending when that fails). The container server creates the queue
  container on the first row (hidden accounts auto-create).
- A pass lists the queue containers that are due: those in the account
  listing plus, since the account learns of new queue containers only when
  the container updater runs, the last ``lookback_days`` days' names probed
  directly. For each due row it sends DELETE to the object's primaries with
  ``X-Timestamp`` = the delete-at time and ``X-If-Delete-At``, plus the
  container headers so the listing row goes too. A 412 (the object's
  delete-at changed) or 409 (overwritten later) means the row is stale; in
  every case that a majority of primaries answered, the row is removed from
  every queue replica. Otherwise it stays for the next pass.
- ``processes``/``process`` split the rows among several expirers (by a hash
  of the row), so every node may run one without doing the same work.
"""

import dataclasses
import hashlib
import json
import os

from objstore.common.config import option
from objstore.common.exceptions import ObjstoreError
from objstore.common.timestamp import Timestamp
from objstore.daemon.runner import ClusterDaemon, DaemonConfig, daemon_main
from objstore.web.backend import quote_path

EXPIRING_ACCOUNT = ".expiring_objects"
DIVISOR = 86400
EMPTY_ETAG = hashlib.md5(b"", usedforsecurity=False).hexdigest()


@dataclasses.dataclass(frozen=True)
class ExpirerConfig(DaemonConfig):
    interval: float = option(300.0, "seconds from the start of one pass to the start of the next")
    expiring_objects_account_name: str = option(EXPIRING_ACCOUNT, "the hidden account of the queue")
    expiring_objects_container_divisor: int = option(DIVISOR, "X-Delete-At is rounded down to this for the queue container")
    lookback_days: int = option(2, "recent queue containers probed directly, in divisor units")
    processes: int = option(0, "how many expirers share the queue (0 or 1: this one does it all)")
    process: int = option(0, "which share this one does, from 0 to processes - 1")
    conn_timeout: float = option(0.5, "seconds to connect to a server")
    node_timeout: float = option(10.0, "seconds to wait on a server's answer")

    def validate(self):
        DaemonConfig.validate(self)
        if self.processes > 1 and not 0 <= self.process < self.processes:
            raise ValueError("process must be from 0 to processes - 1")


# --- pure: the queue's names ---------------------------------------------------
def queue_container(delete_at, divisor=DIVISOR):
    """The queue container of an X-Delete-At (a string of seconds)."""
    return str(int(delete_at) // divisor * divisor)


def queue_entry(delete_at, account, container, obj):
    """The queue row's name: ``<delete_at>-<account>/<container>/<obj>``."""
    return "%010d-%s/%s/%s" % (int(delete_at), account, container, obj)


def parse_queue_entry(name):
    """``(delete_at, account, container, obj)`` of a queue row, or None."""
    stamp, dash, path = name.partition("-")
    if not dash or not stamp.isdigit():
        return None
    parts = path.split("/", 2)
    if len(parts) != 3 or not all(parts):
        return None
    return int(stamp), parts[0], parts[1], parts[2]


def is_mine(name, processes, process):
    """Whether this expirer (``process`` of ``processes``) handles a row."""
    if processes <= 1:
        return True
    digest = hashlib.md5(name.encode("utf-8", "surrogateescape"), usedforsecurity=False).hexdigest()
    return int(digest, 16) % processes == process


def queue_update_nodes(headers):
    """The queue replica an object PUT names (``X-Delete-At-Host`` etc.).

    :returns: ``(container, [{"ip", "port", "device", "partition"}])`` or
        ``(None, [])`` when the request names none.
    """
    host = headers.get("X-Delete-At-Host")
    container = headers.get("X-Delete-At-Container")
    if not host or not container:
        return None, []
    devices = (headers.get("X-Delete-At-Device") or "").split(",")
    partition = headers.get("X-Delete-At-Partition") or ""
    nodes = []
    for index, one in enumerate(host.split(",")):
        ip, colon, port = one.strip().rpartition(":")
        if not colon or not port.isdigit() or index >= len(devices) or not devices[index].strip():
            continue
        nodes.append({"ip": ip.strip("[]"), "port": int(port), "device": devices[index].strip(),
                      "partition": partition.strip()})
    return container, nodes


def queue_update_request(op, delete_at, account, container, obj, timestamp):
    """``(account, queue container, row name, headers)`` of a queue row update
    (``op`` PUT adds the row, DELETE removes it)."""
    headers = {"X-Timestamp": Timestamp(timestamp).internal}
    if op == "PUT":
        headers.update({"X-Size": "0", "X-Content-Type": "text/plain", "X-Etag": EMPTY_ETAG})
    return EXPIRING_ACCOUNT, queue_container(delete_at), queue_entry(delete_at, account, container, obj), headers


def due_containers(names, now, divisor=DIVISOR, lookback=2):
    """Queue container names to visit: the listed ones that are due plus the
    last ``lookback`` periods' names, oldest first."""
    due = {name for name in names if name.isdigit() and int(name) <= now}
    current = int(now) // divisor * divisor
    for back in range(lookback + 1):
        due.add(str(current - back * divisor))
    return sorted(due, key=int)


def quorum(count):
    return count // 2 + 1


# --- the daemon ----------------------------------------------------------------
class ObjectExpirer(ClusterDaemon):
    """One pass over the expiring-objects queue.

    Rings, pool and clock come from ClusterDaemon.
    """

    name = "object-expirer"
    server_section = "object-server"
    config_cls = ExpirerConfig

    @property
    def account(self):
        return self.config.expiring_objects_account_name

    def _listing(self, ring_kind, container=None, marker=""):
        """One page of the queue account's (or a queue container's) listing.

        :returns: the list of entries, or None when no replica answered.
        """
        ring = self.ring(ring_kind)
        part, nodes = ring.get_nodes(self.account, container)
        path = quote_path(None, str(part), self.account, container)
        query = "?format=json&marker=%s" % quote_path(marker)[1:] if marker else "?format=json"
        found_none = False
        for node in nodes:
            try:
                resp = self.pool.request(node["ip"], node["port"], "GET",
                                         "/" + node["device"] + path + query, {})
            except ObjstoreError:
                continue
            if resp.status == 200:
                return json.loads(resp.body or b"[]")
            if resp.status == 204:
                return []
            if resp.status == 404:
                found_none = True
        return [] if found_none else None

    def _all(self, ring_kind, container=None):
        items, marker = [], ""
        while True:
            page = self._listing(ring_kind, container, marker)
            if page is None:
                return None if not items else items
            if not page:
                return items
            items.extend(page)
            marker = page[-1].get("name", "")
            if not marker:
                return items

    def run_pass(self, devices=None, partitions=None):
        stats = {"objects_expired": 0, "stale_entries": 0, "errors": 0, "containers_removed": 0}
        now = self.now()
        listed = self._all("account") or []
        names = [entry.get("name", "") for entry in listed]
        for container in due_containers(names, now, self.config.expiring_objects_container_divisor,
                                        self.config.lookback_days):
            if self.stopping():
                break
            self.expire_container(container, now, stats)
        return stats

    def expire_container(self, container, now, stats):
        rows = self._all("container", container)
        if rows is None:
            stats["errors"] += 1
            return
        left = 0
        for row in rows:
            name = row.get("name", "")
            parsed = parse_queue_entry(name)
            if parsed is None:
                self.logger.warning("removing unparsable queue row %r", name)
                self.remove_row(container, name)
                continue
            if parsed[0] > now or not is_mine(name, self.config.processes, self.config.process):
                left += 1
                continue
            if self.stopping():
                return
            outcome = self.delete_object(*parsed)
            if outcome is None:
                stats["errors"] += 1
                left += 1
                continue
            stats["objects_expired" if outcome else "stale_entries"] += 1
            if not self.remove_row(container, name):
                left += 1
        if not left and rows is not None and int(container) + self.config.expiring_objects_container_divisor <= now:
            if self.remove_container(container):
                stats["containers_removed"] += 1

    def delete_object(self, delete_at, account, container, obj):
        """DELETE an expired object on its primaries (listing row included).

        :returns: True when deleted, False when the row was stale (the object
            changed since), None when too few primaries answered.
        """
        part, nodes = self.ring("object").get_nodes(account, container, obj)
        cpart, cnodes = self.ring("container").get_nodes(account, container)
        answered, deleted = 0, False
        for index, node in enumerate(nodes):
            cnode = cnodes[index % len(cnodes)]
            headers = {
                "X-Timestamp": Timestamp(delete_at).internal,
                "X-If-Delete-At": str(delete_at),
                "X-Container-Host": "%s:%s" % (cnode["ip"], cnode["port"]),
                "X-Container-Device": cnode["device"],
                "X-Container-Partition": str(cpart),
            }
            path = quote_path(node["device"], str(part), account, container, obj)
            try:
                resp = self.pool.request(node["ip"], node["port"], "DELETE", path, headers)
            except ObjstoreError as err:
                self.logger.info("expiring %s/%s/%s on %s:%s failed: %s", account, container, obj,
                                 node["ip"], node["port"], err)
                continue
            if resp.status in (204, 404, 409, 412) or 200 <= resp.status < 300:
                answered += 1
                deleted = deleted or resp.status == 204 or resp.status == 404
        if answered < quorum(len(nodes)):
            return None
        return deleted

    def _to_container_replicas(self, method, container, name, headers):
        part, nodes = self.ring("container").get_nodes(self.account, container)
        ok = 0
        for node in nodes:
            path = quote_path(node["device"], str(part), self.account, container, name)
            try:
                resp = self.pool.request(node["ip"], node["port"], method, path, headers)
            except ObjstoreError:
                continue
            if 200 <= resp.status < 300 or resp.status == 404:
                ok += 1
        return ok >= quorum(len(nodes))

    def remove_row(self, container, name):
        return self._to_container_replicas("DELETE", container, name, {"X-Timestamp": Timestamp.now().internal})

    def remove_container(self, container):
        apart, anodes = self.ring("account").get_nodes(self.account)
        headers = {
            "X-Timestamp": Timestamp.now().internal,
            "X-Account-Host": ",".join("%s:%s" % (n["ip"], n["port"]) for n in anodes),
            "X-Account-Device": ",".join(n["device"] for n in anodes),
            "X-Account-Partition": str(apart),
        }
        return self._to_container_replicas("DELETE", container, None, headers)


def main(argv=None):
    """``objstore-object-expirer CONF [--once]``."""
    return daemon_main(ObjectExpirer, argv)


if __name__ == "__main__":
    raise SystemExit(main())
