"""What the container and account servers share: their common options, the
checks on every request (partition, device, mount, timestamp), metadata
headers in and out, the verbs that read or annotate a DB the same way for
both kinds (HEAD, GET with its listing, POST), and the server side of the DB
replication protocol (the REPLICATE verb).

What a container or an account *means* is in ``container/server.py`` and
``account/server.py``: the path shape, PUT and DELETE, the rows sent by other
servers, the count headers and the listing entry; the SQL is in the brokers.

REPLICATE protocol (version 1)
------------------------------
``REPLICATE /<device>/<partition>/<hash>`` where ``<hash>`` names the DB
(``hash_path(account[, container])``). The caller is the DB replicator of a
peer that holds a replica of the same DB; ``id`` values are the brokers'
database ids. An op comes in one of two shapes:

- **msgpack ops** (small arguments): the request body is
  ``objstore.common.encoding.pack({"op": <name>, ...args}, 1)``.
- **streamed ops** (a body as large as a DB): the op name and its small
  arguments are headers (``X-Replicate-Op``, ``X-Replicate-<Arg>``) and the
  body is raw bytes with a ``Content-Length`` (no chunked encoding), read a
  chunk at a time and never held whole in memory. ``put_db`` is the only one.

Either way a 2xx answer's body is ``pack(result, 1)``.

``sync``  args ``id`` (the caller's DB id), ``max_row``, ``info`` (the caller's
    ``created_at``, ``put_timestamp``, ``delete_timestamp``, ``metadata``).
    The receiver merges the timestamps and the metadata (per key, newest wins)
    and answers 200 with ``{"id", "max_row", "point", "info"}`` where
    ``point`` is the receiver's incoming sync point for the caller (-1 if it
    never merged the caller's rows): the caller then sends the rows after
    ``point``. 404 when the receiver has no such DB (the caller sends the
    whole DB with ``put_db``).
``merge_items``  args ``source`` (the caller's id) and ``items`` (rows as
    ``get_items_since`` gives them, with ``ROWID``). Merged newest-wins in one
    transaction; the receiver's incoming point for ``source`` becomes the
    largest ``ROWID`` sent. 202 with ``{"max_row"}``.
``merge_syncs``  args ``sync_points`` (``[{"remote_id", "sync_point"}]``, the
    caller's own incoming points, sent only once all the caller's rows are
    merged on the receiver: the receiver then holds everything the caller
    had from those third replicas too). Entries naming the receiver's own id
    are ignored. 202.
``put_db`` (streamed)  headers ``X-Replicate-Op: put_db``,
    ``X-Replicate-Source: <the caller's id>``, ``Content-Type:
    application/vnd.sqlite3``, ``Content-Length``; the body is the file of a
    consistent copy made with ``backup_to`` (:func:`put_db_headers` makes the
    headers). The receiver writes it to ``<device>/tmp/<uuid>.db`` as it
    arrives, fsyncs it and checks it: every byte arrived (a body that ends
    short: 499, a stalled one: 408), ``PRAGMA quick_check`` passes and it
    holds this server's kind of DB (else 400). With no local DB the copy is
    given a new database id, told it holds everything of ``source`` up to
    the copy's ``max_row``, and renamed into place (201). With a local DB,
    the copy's rows (in chunks of ``MERGE_CHUNK``) and timestamps are merged
    into it instead (202). Whatever the outcome the temp file is removed; a
    refused copy touches nothing that existed. No ``Content-Length``: 411; a
    full device: 507.
``put_db`` (msgpack, deprecated)  args ``source`` and ``db`` (the copy's
    bytes), handled as the streamed one once written. Still accepted for one
    release so that a node upgraded before its peer receives whole DBs from
    a replicator that sends them this way; remove it after that release.
Unknown ops and undecodable bodies answer 400; a missing device 507.
"""

import dataclasses
import errno
import functools
import os
import socket
import uuid

from objstore.common import encoding
from objstore.common.config import option
from objstore.common.constraints import check_metadata
from objstore.common.exceptions import (
    BadRequest,
    ClientDisconnect,
    ClientTimeout,
    DatabaseCorrupt,
    DatabaseError,
    DatabaseNotFound,
    InsufficientStorage,
    LengthRequired,
    NotFound,
)
from objstore.common.fs import check_device, fsync_dir, mkdirs
from objstore.common.timestamp import Timestamp
from objstore.daemon.recon import recon_response
from objstore.db import listing
from objstore.db.broker import db_dir, db_path, quarantine_db, remove_temp_db
from objstore.web.app import BaseApp, Response, error_response, meta_text, split_path
from objstore.web.server import ServerConfig

REPLICATE_VERSION = 1
MERGE_CHUNK = 1000  # rows per merge when folding a received DB into a local one
# A streamed op: its name and small arguments travel as headers, its body raw.
OP_HEADER = "X-Replicate-Op"
SOURCE_HEADER = "X-Replicate-Source"
DB_CONTENT_TYPE = "application/vnd.sqlite3"  # the IANA type of an SQLite file
BODY_CHUNK = 65536  # bytes of a streamed body read (and held) at a time


@dataclasses.dataclass(frozen=True)
class DatabaseServerConfig(ServerConfig):
    """Options shared by the container and account servers."""

    devices: str = option("/srv/node", "directory holding one directory per device")
    mount_check: bool = option(True, "answer 507 for a device directory that is not a mount point")
    ring_dir: str = option("/etc/objstore", "where account.ring.gz, container.ring.gz, object.ring.gz live")
    reclaim_age: int = option(604800, "seconds after which deleted rows and databases are reclaimed")
    node_timeout: float = option(3.0, "seconds to wait for another node's answer")
    conn_timeout: float = option(0.5, "seconds to wait for a connection to another node")
    db_timeout: float = option(25.0, "seconds to wait for a database or pending-file lock")
    pending_cap: int = option(131072, "bytes of batched row updates that trigger a merge into SQLite")
    recon_cache_path: str = option("", "directory of the daemons' recon files (empty: <devices>/recon)")


def request_timestamp(req, header="X-Timestamp"):
    """The request's timestamp header as a Timestamp.

    :raises BadRequest: missing or invalid.
    """
    value = req.headers.get(header)
    if not value:
        raise BadRequest("Missing %s header" % header)
    return Timestamp(value)


def put_db_headers(source, size):
    """The request headers of a streamed ``put_db`` of a ``size`` byte DB file.

    :param source: the sender's database id.
    """
    return {
        OP_HEADER: "put_db",
        SOURCE_HEADER: source,
        "Content-Type": DB_CONTENT_TYPE,
        "Content-Length": str(size),
    }


def body_length(headers):
    """A streamed op's body size from its ``Content-Length``.

    :raises LengthRequired: there is none (a chunked body is refused too).
    :raises BadRequest: it is not a number.
    """
    value = headers.get("Content-Length")
    if value is None:
        raise LengthRequired("a streamed REPLICATE needs a Content-Length")
    if not value.isdigit():
        raise BadRequest("Invalid Content-Length: %s" % value)
    return int(value)


def receive_body(wsgi_input, handle, length, chunk=BODY_CHUNK):
    """Copy exactly ``length`` bytes of a request body into the file ``handle``,
    ``chunk`` bytes at a time (never more than ``length`` is read: what follows
    on a keep-alive connection is the next request).

    :raises ClientDisconnect: the body ended short (or the sender went away).
    :raises ClientTimeout: the sender stalled.
    :raises InsufficientStorage: the device is full.
    """
    remaining = length
    while remaining > 0:
        try:
            data = wsgi_input.read(min(chunk, remaining))
        except socket.timeout:
            raise ClientTimeout("timed out reading the body") from None
        except (OSError, ValueError) as err:  # eventlet: reset, broken encoding
            raise ClientDisconnect("sender went away: %s" % err) from None
        if not data:
            raise ClientDisconnect("body ended after %d of %d bytes" % (length - remaining, length))
        try:
            handle.write(data)
        except OSError as err:
            if err.errno in (errno.ENOSPC, errno.EDQUOT):
                raise InsufficientStorage("no space for the body: %s" % err) from None
            raise
        remaining -= len(data)


def check_partition(part):
    if not part.isdigit():
        raise BadRequest("Invalid partition: %s" % part)
    return int(part)


def metadata_updates(headers, prefixes, names, timestamp):
    """``{header: (value, timestamp)}`` for the metadata headers of a request.

    :param prefixes: lower-case header prefixes that are metadata
        (``x-container-meta-``...).
    :param names: lower-case exact header names that are metadata too.
    """
    ts = Timestamp(timestamp).internal
    updates = {}
    for key, value in headers.items():
        low = key.lower()
        if low in names or any(low.startswith(p) and len(low) > len(p) for p in prefixes):
            # one spelling per key whatever case the client used, as WSGI gives it
            updates[key.title()] = (value, ts)
    return updates


def metadata_headers(metadata):
    """Response headers for the visible (non-empty) metadata values."""
    return {key: value for key, (value, _ts) in metadata.items() if value != ""}


def backend_headers(info):
    """The ``X-Backend-*`` timestamps of a DB from its ``get_info()`` (also on
    the 404 of a deleted one, so the proxy can tell it from a missing one)."""
    return {
        "X-Backend-Timestamp": info["created_at"],
        "X-Backend-Put-Timestamp": info["put_timestamp"],
        "X-Backend-Delete-Timestamp": info["delete_timestamp"],
        "X-Backend-Status-Changed-At": info["status_changed_at"],
    }


def stat_headers(info, count_headers):
    """HEAD/GET headers of a DB from its ``get_info()``.

    :param count_headers: ``((header, info key), ...)``: the kind's counts.
    """
    headers = {header: str(info[key]) for header, key in count_headers}
    headers["X-Timestamp"] = Timestamp(info["created_at"]).normal
    headers["X-PUT-Timestamp"] = Timestamp(info["put_timestamp"]).normal
    headers.update(backend_headers(info))
    headers.update(metadata_headers(info["metadata"]))
    return headers


class DatabaseServer(BaseApp):
    """Shared plumbing and verbs for ContainerServer and AccountServer.

    Subclasses set the class attributes and implement ``_split``, ``PUT``
    and ``DELETE``.

    :param config: a DatabaseServerConfig (subclass).
    :param logger: where to log.
    :param constraints: the cluster's Constraints (listing limits, metadata).
    :param group_commit: a ``GroupCommit`` the brokers fsync pending records
        through (the process runner's factory passes one over the thread
        pool); None: each record is fsynced on its own, in place.
    """

    broker_class = None
    db_type = None
    meta_kind = None  # "container" or "account": for check_metadata
    meta_prefixes = ()
    meta_names = frozenset()
    item_type = None  # what a row is: "object" or "container" (the listing's item tag)
    item_path = None  # for the 400 of a verb that takes no row path: "an object path on a container server"
    count_headers = ()  # ((header, get_info key), ...) of HEAD/GET
    listing_limit_name = None  # the Constraints field that caps a listing's limit
    listing_entry = None  # staticmethod: a listing row -> its API dict (db/listing.py)

    def __init__(self, config, logger, constraints, group_commit=None):
        super().__init__(logger, access_log=config.access_log)
        self.config = config
        self.constraints = constraints
        self.group_commit = group_commit
        self.routes = {
            "REPLICATE": self.REPLICATE, "PUT": self.PUT, "DELETE": self.DELETE,
            "HEAD": self.HEAD, "GET": self.GET, "POST": self.POST,
        }

    # --- request plumbing ----------------------------------------------------------
    def handle(self, req):
        if req.method == "GET" and req.path_info.startswith("/recon/"):
            status, body = recon_response(
                req.path_info[len("/recon/"):], self.config.devices, self.config.ring_dir,
                self.config.recon_cache_path, self.config.mount_check,
            )
            return Response(status=status, body=body, content_type="application/json")
        try:
            return super().handle(req)
        except DatabaseCorrupt as err:
            # move it aside so the next request gets 404 and the replicators
            # of the other replicas send a good copy back
            db_file = getattr(err, "db_file", None)
            if db_file and self._is_db_path(db_file):
                try:
                    quarantine_db(db_file, self.db_type, str(err), self.logger)
                except OSError as move_err:
                    self.logger.error("cannot quarantine %s: %s", db_file, move_err)
            raise

    def _is_db_path(self, path):
        """True for ``<devices>/<dev>/<db_type>s/<part>/<suffix>/<hash>/<hash>.db``."""
        parts = os.path.relpath(path, self.config.devices).split(os.sep)
        return len(parts) == 6 and parts[1] == self.db_type + "s" and parts[5] == parts[4] + ".db"

    def device_path(self, device):
        """The device's directory, or raise 507 (not mounted / missing)."""
        return check_device(self.config.devices, device, self.config.mount_check)

    def make_broker(self, db_file, account=None, container=None):
        return self.broker_class(
            db_file, account=account, container=container, timeout=self.config.db_timeout,
            logger=self.logger, pending_cap=self.config.pending_cap, group_commit=self.group_commit,
        )

    def broker_for(self, device, partition, account, container=None):
        self.device_path(device)
        path = db_path(self.config.devices, device, self.db_type, partition, account, container)
        return self.make_broker(path, account, container)

    def metadata_from(self, req, timestamp):
        """Validated metadata updates of a PUT/POST (400 when over the limits)."""
        check_metadata(meta_text(req.headers), self.meta_kind, self.constraints)
        return metadata_updates(req.headers, self.meta_prefixes, self.meta_names, timestamp)

    def listing_response(self, req, rows, entry, root_tag, root_name, item_tag, headers):
        """A listing response: 204 for an empty plain listing, else 200."""
        fmt = listing.choose_format(req.params.get("format"), req.headers.get("Accept"))
        entries = [entry(row) for row in rows]
        body, content_type = listing.render(entries, fmt, root_tag, root_name, item_tag)
        resp = Response(status=200 if (entries or fmt != "plain") else 204)
        resp.headers.update(headers)
        if resp.status_int == 200:
            resp.body = body
        resp.content_type = content_type
        resp.charset = "utf-8"
        return resp

    def _split(self, req):
        """``(broker, names, item)`` of a request path: the DB's broker, its
        names (``(account,)`` or ``(account, container)``) and the row name
        that follows them (None for a path to the DB itself).

        :raises BadRequest: a path of the wrong shape or an invalid name.
        """
        raise NotImplementedError

    def _no_item(self, req, item):
        """Refuse a row path to a verb that only applies to the DB itself."""
        if item is not None:
            raise BadRequest("%s of %s" % (req.method, self.item_path))

    def deleted_headers(self, info):
        """Headers of the 404 for a deleted DB."""
        return backend_headers(info)

    def _info_or_404(self, broker):
        """``(info, None)`` for a live DB, ``(None, 404 response)`` for a deleted one.

        :raises NotFound: there is no such DB.
        """
        if not broker.exists():
            raise NotFound("No such %s" % self.db_type)
        info = broker.get_info()
        if broker.is_deleted_info(info):
            return None, error_response(404, headers=self.deleted_headers(info))
        return info, None

    # --- verbs alike for both kinds ----------------------------------------------------
    def HEAD(self, req):
        broker, _names, item = self._split(req)
        self._no_item(req, item)
        info, missing = self._info_or_404(broker)
        if missing is not None:
            return missing
        resp = Response(status=204)
        resp.headers.update(stat_headers(info, self.count_headers))
        fmt = listing.choose_format(req.params.get("format"), req.headers.get("Accept"))
        resp.content_type = listing.FORMATS[fmt]
        resp.charset = "utf-8"
        return resp

    def GET(self, req):
        broker, names, item = self._split(req)
        self._no_item(req, item)
        params = listing.parse_params(req.params, getattr(self.constraints, self.listing_limit_name))
        info, missing = self._info_or_404(broker)
        if missing is not None:
            return missing
        rows = broker.list_items(
            params["limit"], params["marker"], params["end_marker"], params["prefix"],
            params["delimiter"], params["reverse"], params["path"],
        )
        return self.listing_response(
            req, rows, self.listing_entry, self.db_type, names[-1], self.item_type,
            stat_headers(info, self.count_headers),
        )

    def POST(self, req):
        broker, _names, item = self._split(req)
        self._no_item(req, item)
        timestamp = request_timestamp(req)
        metadata = self.metadata_from(req, timestamp)
        info, missing = self._info_or_404(broker)
        if missing is not None:
            return missing
        broker.update_metadata(metadata)
        return Response(status=204)

    # --- REPLICATE -----------------------------------------------------------------------
    def REPLICATE(self, req):
        device, part, name_hash = split_path(req.path_info, 3, 3)
        check_partition(part)
        if len(name_hash) != 32 or any(ch not in "0123456789abcdef" for ch in name_hash):
            raise BadRequest("Invalid hash: %s" % name_hash)
        self.device_path(device)
        streamed = req.headers.get(OP_HEADER)
        if streamed is not None:
            # never req.body here: it would hold the whole DB in memory
            if streamed != "put_db":
                raise BadRequest("unknown streamed REPLICATE op %r" % streamed)
            handler = functools.partial(self._rep_put_db_stream, req)
            args = {"source": req.headers.get(SOURCE_HEADER)}
        else:
            try:
                _version, args = encoding.unpack(req.body, (REPLICATE_VERSION,))
            except encoding.EncodingError as err:
                raise BadRequest("bad REPLICATE body: %s" % err) from None
            if not isinstance(args, dict):
                raise BadRequest("bad REPLICATE body")
            handler = {
                "sync": self._rep_sync,
                "merge_items": self._rep_merge_items,
                "merge_syncs": self._rep_merge_syncs,
                "put_db": self._rep_put_db,
            }.get(args.get("op"))
            if handler is None:
                raise BadRequest("unknown REPLICATE op %r" % (args.get("op"),))
        directory = db_dir(self.config.devices, device, self.db_type, part, name_hash)
        broker = self.make_broker(os.path.join(directory, name_hash + ".db"))
        try:
            status, result = handler(broker, args, device)
        finally:
            broker.close()
        resp = Response(status=status, body=encoding.pack(result, REPLICATE_VERSION))
        resp.content_type = "application/octet-stream"
        return resp

    @staticmethod
    def _public_info(info):
        return {
            "created_at": info["created_at"],
            "put_timestamp": info["put_timestamp"],
            "delete_timestamp": info["delete_timestamp"],
            "metadata": info["metadata"],
        }

    def _rep_sync(self, broker, args, device):
        if not broker.exists():
            return 404, {}
        info = args.get("info") or {}
        if info:
            broker.merge_timestamps(info["created_at"], info["put_timestamp"], info["delete_timestamp"])
            broker.update_metadata({k: tuple(v) for k, v in (info.get("metadata") or {}).items()})
        mine = broker.get_info()
        return 200, {
            "id": mine["id"],
            "max_row": mine["max_row"],
            "point": broker.get_sync(args["id"], incoming=True),
            "info": self._public_info(mine),
        }

    def _rep_merge_items(self, broker, args, device):
        if not broker.exists():
            raise DatabaseNotFound("no such database")
        broker.merge_items(args.get("items") or [], source=args.get("source"))
        return 202, {"max_row": broker.get_info()["max_row"]}

    def _rep_merge_syncs(self, broker, args, device):
        if not broker.exists():
            raise DatabaseNotFound("no such database")
        own = broker.get_info()["id"]
        points = [p for p in args.get("sync_points") or [] if p.get("remote_id") != own]
        broker.merge_syncs(points, incoming=True)
        return 202, {}

    def _temp_db(self, device):
        """A fresh temp DB path in the device's tmp dir (same filesystem as
        the DBs, so the rename into place is atomic)."""
        tmp_dir = os.path.join(self.config.devices, device, "tmp")
        mkdirs(tmp_dir)
        return os.path.join(tmp_dir, "%s.db" % uuid.uuid4().hex)

    def _rep_put_db_stream(self, req, broker, args, device):
        length = body_length(req.headers)
        tmp = self._temp_db(device)
        try:
            with open(tmp, "wb") as handle:
                receive_body(req.environ["wsgi.input"], handle, length)
                handle.flush()
                os.fsync(handle.fileno())
                if os.fstat(handle.fileno()).st_size != length:
                    raise DatabaseError("wrote %d bytes of a %d byte copy"
                                        % (os.fstat(handle.fileno()).st_size, length))
            return self._install_db(broker, tmp, args.get("source"))
        finally:
            remove_temp_db(tmp)

    def _rep_put_db(self, broker, args, device):
        """The deprecated msgpack ``put_db``: the copy arrived in memory."""
        if not isinstance(args.get("db"), bytes):
            raise BadRequest("put_db without a db")
        tmp = self._temp_db(device)
        try:
            with open(tmp, "wb") as handle:
                handle.write(args["db"])
                handle.flush()
                os.fsync(handle.fileno())
            return self._install_db(broker, tmp, args.get("source"))
        finally:
            remove_temp_db(tmp)

    def _install_db(self, broker, tmp, source):
        """Check the received copy at ``tmp`` and make it ``broker``'s DB:
        renamed into place when there is none (201), else merged into it
        (202). The caller removes ``tmp`` (and whatever SQLite left beside it).

        :raises BadRequest: the copy is corrupt or not a DB of this kind.
        """
        copy = self.make_broker(tmp)
        try:
            try:
                copy.quick_check()
                info = copy.get_info()  # fails on another kind's DB (no such stat table)
            except DatabaseCorrupt:
                raise BadRequest("the database copy sent is corrupt") from None
            except DatabaseError as err:
                raise BadRequest("the copy sent is not a %s database: %s" % (self.db_type, err)) from None
            if not broker.exists():
                copy.new_storage_id()
                if source:
                    copy.merge_syncs([{"remote_id": source, "sync_point": info["max_row"]}])
                copy.close()
                mkdirs(broker.db_dir)
                if not broker.exists():
                    os.rename(tmp, broker.db_file)
                    fsync_dir(broker.db_dir)
                    return 201, {}
                # another put_db created it meanwhile: merge into that one
            broker.merge_timestamps(info["created_at"], info["put_timestamp"], info["delete_timestamp"])
            broker.update_metadata({k: tuple(v) for k, v in info["metadata"].items()})
            point = -1
            while True:
                rows = copy.get_items_since(point, MERGE_CHUNK)
                if not rows:
                    break
                broker.merge_items(rows, source=source or info["id"])
                point = rows[-1]["ROWID"]
            return 202, {}
        finally:
            copy.close()
