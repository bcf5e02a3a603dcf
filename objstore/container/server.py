"""The container server: a WSGI app over one SQLite DB per container.

Verbs on ``/<dev>/<part>/<account>/<container>``: PUT (create, or raise the
put timestamp and merge metadata), DELETE (only when empty), HEAD, GET (the
object listing), POST (metadata). On ``/<dev>/<part>/<a>/<c>/<obj>``: PUT and
DELETE of an object row, sent by object servers. HEAD, GET, POST and
REPLICATE are in ``db/server.py``; what is a container's own is here (path
shape, PUT and DELETE, object rows, the versions headers, account reports).
After a PUT or DELETE of the container it reports its stats to the account
server(s) named by ``X-Account-Host`` / ``-Device`` / ``-Partition``; a
failed report is only logged (the container updater catches up later).

The rows, counts and SQL are in ``container/broker.py``; the listing walk and
rendering in ``db/listing.py``.

Static large objects: the proxy stores an SLO manifest's content type with
a ``swift_bytes=<total>`` parameter (``video/mp4;swift_bytes=52428800``),
so the object row this server gets carries the SLO's total next to the
manifest's own size. The row keeps both as they came (replication copies
rows verbatim); only the listing entry (``object_listing_entry``) reports
``bytes`` from ``swift_bytes`` and lists the content type without it, as
Swift's does. X-Container-Bytes-Used, and so the account's bytes, stay the
sum of the rows' sizes: a manifest counts its own bytes, never the total,
because the segments are objects of their own already counted in their
container (Swift counts the same way; the total would count them twice).
"""

import dataclasses
import sys

from objstore.common import green
from objstore.common.config import option
from objstore.common.constraints import check_name, load_constraints
from objstore.common.exceptions import BackendError, BadRequest, Conflict, DatabaseAlreadyExists, NotFound
from objstore.common.hashing import conf_path
from objstore.common.log import get_txn_id
from objstore.container.broker import ContainerBroker
from objstore.db import listing
from objstore.db.groupcommit import GroupCommit
from objstore.db.server import DatabaseServer, DatabaseServerConfig, check_partition, request_timestamp
from objstore.web.app import Response, error_response, split_path
from objstore.web.backend import ConnectionPool, quote_path
from objstore.web.blocking import InlineWhenFast
from objstore.web.server import server_main


@dataclasses.dataclass(frozen=True)
class ContainerServerConfig(DatabaseServerConfig):
    allow_versions: bool = option(False, "accept X-Versions-Location / X-History-Location on containers")
    auto_create_account_prefix: str = option(".", "accounts with this prefix get containers created on first object update")


CONTAINER_META_PREFIXES = ("x-container-meta-", "x-container-sysmeta-")
CONTAINER_META_NAMES = frozenset(
    ("x-container-read", "x-container-write", "x-container-sync-to", "x-container-sync-key")
)
VERSION_NAMES = frozenset(("x-versions-location", "x-history-location"))


def split_swift_bytes(content_type):
    """A content type without its ``swift_bytes`` parameter, and that parameter's value.

    ``"text/plain; charset=utf-8;swift_bytes=10"`` gives ``("text/plain;
    charset=utf-8", 10)``; the other parameters stay as written. A
    ``swift_bytes`` that is not a non-negative integer is dropped all the
    same and gives None; with several, the last valid one counts.

    :returns: ``(content type, int or None)``.
    """
    if ";" not in content_type:
        return content_type, None
    kept = []
    total = None
    pieces = content_type.split(";")
    for piece in pieces[1:]:
        key, equals, value = piece.partition("=")
        if equals and key.strip().lower() == "swift_bytes":
            value = value.strip()
            if value.isdigit():
                total = int(value)
            continue
        kept.append(piece)
    if len(kept) == len(pieces) - 1:
        return content_type, None
    return ";".join([pieces[0]] + kept).rstrip(), total


def object_listing_entry(row):
    """A container listing's entry for an object row (or a subdir): db/listing.py's,
    with ``bytes`` and ``content_type`` from a ``swift_bytes`` parameter (see the module docstring)."""
    entry = listing.object_entry(row)
    content_type = entry.get("content_type")
    if content_type and ";" in content_type:
        entry["content_type"], total = split_swift_bytes(content_type)
        if total is not None:
            entry["bytes"] = total
    return entry


def account_targets(headers):
    """``[(ip, port, device, partition)]`` from X-Account-Host/-Device/-Partition
    (comma-separated lists pair up in order).

    :raises BadRequest: the lists differ in length or a host is not ip:port.
    """
    hosts = [h.strip() for h in (headers.get("X-Account-Host") or "").split(",") if h.strip()]
    devices = [d.strip() for d in (headers.get("X-Account-Device") or "").split(",") if d.strip()]
    parts = [p.strip() for p in (headers.get("X-Account-Partition") or "").split(",") if p.strip()]
    if not hosts:
        return []
    if len(hosts) != len(devices) or (len(parts) != len(hosts) and len(parts) != 1):
        raise BadRequest("X-Account-Host, -Device and -Partition do not match")
    if len(parts) == 1:
        parts = parts * len(hosts)
    targets = []
    for host, device, part in zip(hosts, devices, parts):
        ip, _, port = host.rpartition(":")
        if not ip or not port.isdigit():
            raise BadRequest("Invalid X-Account-Host %r" % host)
        targets.append((ip.strip("[]"), int(port), device, part))
    return targets


def report_headers(info):
    """The headers of a container's stats report to its account (a
    container's ``get_info()``): what the account server's PUT of a
    container row reads."""
    return {
        "X-Put-Timestamp": info["put_timestamp"],
        "X-Delete-Timestamp": info["delete_timestamp"],
        "X-Object-Count": str(info["object_count"]),
        "X-Bytes-Used": str(info["bytes_used"]),
        "X-Timestamp": info["put_timestamp"],
    }


class ContainerServer(DatabaseServer):
    """The container server app (see the module docstring).

    :param config: ContainerServerConfig.
    :param logger: a logger.
    :param constraints: the cluster's Constraints.
    :param pool: a ConnectionPool for account reports (made from the config when None).
    :param group_commit: see DatabaseServer.
    """

    server_name = "container-server"
    broker_class = ContainerBroker
    db_type = "container"
    meta_kind = "container"
    meta_prefixes = CONTAINER_META_PREFIXES
    item_type = "object"
    item_path = "an object path on a container server"
    count_headers = (("X-Container-Object-Count", "object_count"), ("X-Container-Bytes-Used", "bytes_used"))
    listing_limit_name = "container_listing_limit"
    listing_entry = staticmethod(object_listing_entry)

    def __init__(self, config, logger, constraints, pool=None, group_commit=None):
        super().__init__(config, logger, constraints, group_commit)
        self.meta_names = CONTAINER_META_NAMES | (VERSION_NAMES if config.allow_versions else frozenset())
        self.pool = pool or ConnectionPool(config.conn_timeout, config.node_timeout)

    def _split(self, req):
        device, part, account, container, obj = split_path(req.path_info, 4, 5, rest_with_last=True)
        partition = check_partition(part)
        check_name(account, "account", self.constraints)
        check_name(container, "container", self.constraints)
        if obj is not None:
            check_name(obj, "object", self.constraints)
        broker = self.broker_for(device, partition, account, container)
        return broker, (account, container), obj

    def metadata_from(self, req, timestamp):
        if req.headers.get("X-Versions-Location") and not self.config.allow_versions:
            raise BadRequest("Versions are not allowed on this cluster")
        return super().metadata_from(req, timestamp)

    # --- verbs ----------------------------------------------------------------------------
    def PUT(self, req):
        broker, (account, container), obj = self._split(req)
        timestamp = request_timestamp(req)
        if obj is not None:
            if account.startswith(self.config.auto_create_account_prefix) and not broker.exists():
                # hidden accounts (the expirer's queue, obj/expirer.py) get containers on the first row
                try:
                    broker.initialize(timestamp)
                except DatabaseAlreadyExists:
                    pass
            return self._put_object(req, broker, account, obj, timestamp)
        metadata = self.metadata_from(req, timestamp)
        targets = account_targets(req.headers)
        created = False
        if not broker.exists():
            try:
                broker.initialize(timestamp, {k: list(v) for k, v in metadata.items()})
                created = True
            except DatabaseAlreadyExists:
                pass
        if not created:
            was_deleted = broker.is_deleted()
            broker.update_put_timestamp(timestamp)
            if broker.is_deleted():
                raise Conflict("Container was deleted after this request's timestamp")
            broker.update_metadata(metadata)
            created = was_deleted
        failure = self.report_to_accounts(broker, account, container, targets)
        if failure is not None:
            return failure
        return Response(status=201 if created else 202)

    def _put_object(self, req, broker, account, obj, timestamp):
        try:
            size = int(req.headers["X-Size"])
        except (KeyError, ValueError):
            raise BadRequest("Missing or invalid X-Size") from None
        if size < 0:
            raise BadRequest("Missing or invalid X-Size")
        content_type = req.headers.get("X-Content-Type")
        etag = req.headers.get("X-Etag")
        if content_type is None or etag is None:
            raise BadRequest("Missing X-Content-Type or X-Etag")
        self._require_container(broker, account, timestamp)
        broker.put_object(obj, timestamp, size, content_type, etag)
        return Response(status=201)

    def _require_container(self, broker, account, timestamp):
        # an update for a container we never had tells the object server to
        # keep its async_pending; only internal accounts (the expirer's
        # ".expiring_objects") get their containers made on first update
        if broker.exists():
            return
        prefix = self.config.auto_create_account_prefix
        if prefix and account.startswith(prefix):
            try:
                broker.initialize(timestamp)
            except DatabaseAlreadyExists:
                pass
            return
        raise NotFound("No such container")

    def DELETE(self, req):
        broker, (account, container), obj = self._split(req)
        timestamp = request_timestamp(req)
        if obj is not None:
            self._require_container(broker, account, timestamp)
            broker.delete_object(obj, timestamp)
            return Response(status=204)
        targets = account_targets(req.headers)
        if not broker.exists():
            raise NotFound("No such container")
        if broker.is_deleted():
            return error_response(404, headers=self.deleted_headers(broker.get_info()))
        if not broker.empty():
            raise Conflict("There was a conflict when trying to complete your request.")
        broker.delete_db(timestamp)
        if not broker.is_deleted():
            raise Conflict("Container was written after this request's timestamp")
        failure = self.report_to_accounts(broker, account, container, targets)
        if failure is not None:
            return failure
        return Response(status=204)

    # --- account reports --------------------------------------------------------------------
    def report_to_accounts(self, broker, account, container, targets):
        """Send the container's stats to each account node.

        :returns: None, or a 404 response when an account server says the
            account does not exist (the container must not appear in it).
        """
        if not targets:
            return None
        info = broker.get_info()
        headers = dict(report_headers(info), **{"X-Trans-Id": get_txn_id() or ""})
        all_ok = True
        for ip, port, device, part in targets:
            path = quote_path(device, part, account, container)
            try:
                resp = self.pool.request(ip, port, "PUT", path, headers)
            except BackendError as err:
                all_ok = False
                self.logger.error("account update to %s:%s/%s failed: %s (the updater will retry)",
                                  ip, port, device, err)
                continue
            if resp.status == 404:
                return error_response(404, "Account not found")
            if not 200 <= resp.status < 300:
                all_ok = False
                self.logger.error("account update to %s:%s/%s answered %s (the updater will retry)",
                                  ip, port, device, resp.status)
        if all_ok:
            broker.reported(info["put_timestamp"], info["delete_timestamp"],
                            info["object_count"], info["bytes_used"])
        return None


def app_factory(conf_path_, config, logger):
    """The server runner's factory: a ContainerServer with the cluster's
    constraints, fsyncing pending records in threads, grouped (db/groupcommit.py)."""
    return ContainerServer(config, logger, load_constraints(conf_path()),
                           group_commit=GroupCommit(InlineWhenFast(green.tpool_execute)))


def main(argv=None):
    return server_main("container-server", ContainerServerConfig, app_factory, argv)


if __name__ == "__main__":
    sys.exit(main())
