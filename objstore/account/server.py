"""The account server: a WSGI app over one SQLite DB per account.

Verbs on ``/<dev>/<part>/<account>``: PUT (create; 403 while a deleted
account awaits the reaper), DELETE (marks it deleted; the reaper empties it),
HEAD, GET (the container listing), POST (metadata). On
``/<dev>/<part>/<account>/<container>``: PUT of a container row, the stats
report a container server sends (``X-Put-Timestamp``,
``X-Delete-Timestamp``, ``X-Object-Count``, ``X-Bytes-Used``). HEAD, GET,
POST and REPLICATE are in ``db/server.py``; what is an account's own is here
(path shape, PUT and DELETE, the count headers, the ``Deleted`` status).

The rows, totals and SQL are in ``account/broker.py``; the listing walk and
rendering in ``db/listing.py``.
"""

import dataclasses
import sys

from objstore.common import green
from objstore.common.constraints import check_name, load_constraints
from objstore.common.exceptions import BadRequest, DatabaseAlreadyExists, Forbidden, NotFound
from objstore.common.hashing import conf_path
from objstore.common.timestamp import Timestamp
from objstore.account.broker import DELETED_STATUS, AccountBroker
from objstore.db import listing
from objstore.db.groupcommit import GroupCommit
from objstore.db.server import DatabaseServer, DatabaseServerConfig, check_partition, request_timestamp
from objstore.web.app import Response, error_response, split_path
from objstore.web.blocking import InlineWhenFast
from objstore.web.server import server_main


@dataclasses.dataclass(frozen=True)
class AccountServerConfig(DatabaseServerConfig):
    pass


ACCOUNT_META_PREFIXES = ("x-account-meta-", "x-account-sysmeta-")
ACCOUNT_META_NAMES = frozenset(("x-account-access-control",))


class AccountServer(DatabaseServer):
    """The account server app (see the module docstring).

    :param config: AccountServerConfig.
    :param logger: a logger.
    :param constraints: the cluster's Constraints.
    """

    server_name = "account-server"
    broker_class = AccountBroker
    db_type = "account"
    meta_kind = "account"
    meta_prefixes = ACCOUNT_META_PREFIXES
    meta_names = ACCOUNT_META_NAMES
    item_type = "container"
    item_path = "a container path on an account server"
    count_headers = (
        ("X-Account-Container-Count", "container_count"),
        ("X-Account-Object-Count", "object_count"),
        ("X-Account-Bytes-Used", "bytes_used"),
    )
    listing_limit_name = "account_listing_limit"
    listing_entry = staticmethod(listing.container_entry)

    def _split(self, req):
        device, part, account, container = split_path(req.path_info, 3, 4)
        partition = check_partition(part)
        check_name(account, "account", self.constraints)
        if container is not None:
            check_name(container, "container", self.constraints)
        broker = self.broker_for(device, partition, account)
        return broker, (account,), container

    def deleted_headers(self, info):
        headers = super().deleted_headers(info)
        if info.get("status") == DELETED_STATUS:
            headers["X-Account-Status"] = "Deleted"
        return headers

    # --- verbs ------------------------------------------------------------------------
    def PUT(self, req):
        broker, _names, container = self._split(req)
        if container is not None:
            return self._put_container(req, broker, container)
        timestamp = request_timestamp(req)
        metadata = self.metadata_from(req, timestamp)
        if not broker.exists():
            try:
                broker.initialize(timestamp, {k: list(v) for k, v in metadata.items()})
                return Response(status=201)
            except DatabaseAlreadyExists:
                pass
        info = broker.get_info()
        if info["status"] == DELETED_STATUS:
            raise Forbidden("Recently deleted")
        was_deleted = broker.is_deleted_info(info)
        broker.update_put_timestamp(timestamp)
        broker.update_metadata(metadata)
        return Response(status=201 if was_deleted and not broker.is_deleted() else 202)

    def _put_container(self, req, broker, container):
        try:
            put_ts = Timestamp(req.headers.get("X-Put-Timestamp") or 0)
            delete_ts = Timestamp(req.headers.get("X-Delete-Timestamp") or 0)
            object_count = int(req.headers.get("X-Object-Count") or 0)
            bytes_used = int(req.headers.get("X-Bytes-Used") or 0)
        except ValueError:
            raise BadRequest("Invalid container stats headers") from None
        if put_ts.ticks == 0 and delete_ts.ticks == 0:
            raise BadRequest("Missing X-Put-Timestamp or X-Delete-Timestamp")
        if not broker.exists():
            raise NotFound("No such account")
        # the account must be live to gain containers; a deleted one still
        # takes deletions (the reaper's DELETEs report back here)
        if delete_ts <= put_ts and broker.is_deleted():
            return error_response(404, headers=self.deleted_headers(broker.get_info()))
        broker.put_container(container, put_ts, delete_ts, object_count, bytes_used)
        return Response(status=204 if delete_ts > put_ts else 201)

    def DELETE(self, req):
        broker, _names, container = self._split(req)
        self._no_item(req, container)
        timestamp = request_timestamp(req)
        info, missing = self._info_or_404(broker)
        if missing is not None:
            return missing
        broker.delete_db(timestamp)
        return Response(status=204)


def app_factory(conf_path_, config, logger):
    """The server runner's factory: an AccountServer with the cluster's constraints."""
    return AccountServer(config, logger, load_constraints(conf_path()),
                         group_commit=GroupCommit(InlineWhenFast(green.tpool_execute)))


def main(argv=None):
    return server_main("account-server", AccountServerConfig, app_factory, argv)


if __name__ == "__main__":
    sys.exit(main())
