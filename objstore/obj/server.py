"""The object server: the HTTP verbs of one storage node's objects (PUT,
GET, HEAD, DELETE, POST, REPLICATE) and the container updates that follow a
PUT or DELETE.

What does not live here: the on-disk format (diskfile.py, metadata.py,
hashes.py), conditional/range rules (conditions.py), the HTTP plumbing and
process runner (objstore.web).

Rules (the backend protocol of /work/notes/conventions.md, as Swift's):
- Paths are ``/<dev>/<part>/<a>/<c>/<o>``; device, partition, account and
  container must be non-empty and not ``.``/``..``, the partition digits
  (400 otherwise, before any filesystem access). Object names are hashed, so
  they may hold anything.
- X-Timestamp decides: a PUT not newer than the stored data or tombstone, a
  POST not newer than the newest data or .meta, a DELETE not newer than the
  data (or older than a tombstone) get 409 with X-Backend-Timestamp, and
  nothing changes.
- After a PUT or DELETE (not ``X-Backend-Replication: true``) the container
  replicas named by X-Container-Host/-Device/-Partition (comma-separated, one
  per replica) are told in parallel, waiting at most
  ``container_update_timeout``; whatever did not succeed by then is written
  as one async_pending file for the object updater. The client's request
  succeeds either way.
"""

import dataclasses
import socket
import sys
import time
import uuid

from objstore.common import footer, green
from objstore.common.config import config_true, option
from objstore.common.constraints import DEFAULT as DEFAULT_CONSTRAINTS
from objstore.common.constraints import check_metadata, check_object_size, load_constraints
from objstore.common.encoding import pack
from objstore.common.exceptions import (
    BadRequest,
    ClientDisconnect,
    ClientTimeout,
    DiskFileDeleted,
    DiskFileExpired,
    DiskFileNotFound,
    LengthRequired,
    ObjstoreError,
    RequestEntityTooLarge,
    UnprocessableEntity,
)
from objstore.common.hashing import conf_path
from objstore.common.timestamp import Timestamp, normalize_delete_at
from objstore.daemon.recon import recon_response
from objstore.obj import conditions, expirer
from objstore.obj.diskfile import CRC_KEY, DiskFileManager, parse_reserve
from objstore.obj.hashes import parse_suffixes
from objstore.web.app import BaseApp, Response, meta_text, split_path
from objstore.web.backend import ConnectionPool, quote_path
from objstore.web.blocking import InlineWhenFast
from objstore.web.server import ServerConfig, server_main

USER_META_PREFIX = "x-object-meta-"
SYSMETA_PREFIX = "x-object-sysmeta-"
# Metadata keys that are ours, not headers to echo.
INTERNAL_KEYS = frozenset(("name", "Content-Length", "ETag", "X-Timestamp", "Content-Type", CRC_KEY))


@dataclasses.dataclass(frozen=True)
class ObjectServerConfig(ServerConfig):
    """The ``[object-server]`` section."""

    devices: str = option("/srv/node", "directory holding one directory per device")
    mount_check: bool = option(True, "refuse (507) a device directory that is not a mount point")
    ring_dir: str = option("/etc/objstore", "where account/container/object ring files live")
    reclaim_age: int = option(604800, "seconds after which tombstones are removed")
    fallocate_reserve: str = option("0", "bytes, or a percentage like 1%, kept free; writes beyond get 507")
    disk_chunk_size: int = option(1048576, "bytes per read from disk")
    network_chunk_size: int = option(1048576, "bytes per read from the client")
    container_update_timeout: float = option(1.0, "seconds a PUT/DELETE waits for container updates")
    conn_timeout: float = option(0.5, "seconds to connect to a container server")
    node_timeout: float = option(3.0, "seconds to wait on a container server's answer")
    keep_cache_size: int = option(5242880, "objects up to this size stay in the page cache after a GET")
    fsync_in_threads: bool = option(
        True, "run a big write's fsync in a thread pool so other requests go on meanwhile "
              "(small files and directories: inline while the disk answers within 5 ms)")
    mb_per_sync: int = option(
        32, "while a big body arrives, fdatasync its file in the background each time this many more "
            "MiB were written, so that the fsync before the answer has little left to flush (0: never; "
            "needs fsync_in_threads)")
    allowed_headers: tuple[str, ...] = option(
        ("Content-Disposition", "Content-Encoding", "X-Delete-At", "X-Object-Manifest",
         "X-Static-Large-Object", "Cache-Control", "Content-Language", "Expires", "X-Robots-Tag"),
        "headers stored with an object and given back, besides X-Object-Meta-*",
    )

    def validate(self):
        parse_reserve(self.fallocate_reserve)
        if self.disk_chunk_size <= 0 or self.network_chunk_size <= 0:
            raise ValueError("chunk sizes must be positive")
        if self.mb_per_sync < 0:
            raise ValueError("mb_per_sync must be 0 or more")


# --- pure request parsing ------------------------------------------------------
def validate_segments(device, partition, *names):
    """Check the path parts that become directories (or hashes) before any I/O.

    :raises BadRequest: empty, ``.``/``..``, a slash in device, or a
        partition that is not digits.
    """
    if not device or device in (".", "..") or "/" in device:
        raise BadRequest("Invalid device: %r" % (device,))
    if not partition or not partition.isdigit():
        raise BadRequest("Invalid partition: %r" % (partition,))
    for name in names:
        if not name or name in (".", ".."):
            raise BadRequest("Invalid path component: %r" % (name,))


def split_object_path(path):
    """``(device, partition, account, container, obj)`` of an object path.

    :raises BadRequest: too few parts or an invalid one.
    """
    device, partition, account, container, obj = split_path(path, 5, 5, True)
    validate_segments(device, partition, account, container)
    if not obj:
        raise BadRequest("Invalid object name")
    return device, partition, account, container, obj


def request_timestamp(headers):
    value = headers.get("X-Timestamp")
    if not value:
        raise BadRequest("Missing X-Timestamp header")
    return Timestamp(value)


def container_nodes(headers):
    """The container replicas a PUT/DELETE names, as node dicts.

    :returns: ``[{"ip", "port", "device", "partition"}]`` (empty when none).
    :raises BadRequest: lists of different lengths or a bad host.
    """
    hosts = headers.get("X-Container-Host")
    if not hosts:
        return []
    hosts = [h.strip() for h in hosts.split(",")]
    devices = [d.strip() for d in (headers.get("X-Container-Device") or "").split(",")]
    partitions = [p.strip() for p in (headers.get("X-Container-Partition") or "").split(",")]
    if len(partitions) == 1 and len(hosts) > 1:
        partitions = partitions * len(hosts)  # one partition shared by all replicas
    if not (len(hosts) == len(devices) == len(partitions)):
        raise BadRequest("X-Container-Host, -Device and -Partition do not match")
    nodes = []
    for host, device, partition in zip(hosts, devices, partitions):
        ip, colon, port = host.rpartition(":")
        if not colon or not port.isdigit() or not device:
            raise BadRequest("Invalid X-Container-Host %r" % host)
        nodes.append({"ip": ip.strip("[]"), "port": int(port), "device": device, "partition": partition})
    return nodes


def stored_headers(headers, allowed_headers):
    """The request headers an object keeps: user metadata, sysmeta, allowed ones.

    Names are kept as Swift spells them: ``X-Object-Meta-Color`` (title case),
    allowed headers as configured.

    :param allowed_headers: names, or a ``{lower-case name: name}`` dict.
    """
    allowed = allowed_headers if isinstance(allowed_headers, dict) else \
        {name.lower(): name for name in allowed_headers}
    result = {}
    for key, value in headers.items():
        low = key.lower()
        if low.startswith(USER_META_PREFIX) or low.startswith(SYSMETA_PREFIX):
            result[key.title()] = value
        elif low in allowed:
            result[allowed[low]] = value
    return result


def response_headers(metadata, data_timestamp):
    """The headers of a GET/HEAD from an object's merged metadata."""
    timestamp = Timestamp(metadata["X-Timestamp"])
    headers = {
        "Content-Type": metadata.get("Content-Type", "application/octet-stream"),
        "ETag": metadata.get("ETag", ""),
        "X-Timestamp": timestamp.normal,
        "X-Backend-Timestamp": timestamp.internal,
        "X-Backend-Data-Timestamp": Timestamp(data_timestamp).internal,
        "Last-Modified": timestamp.http_date,
    }
    for key, value in metadata.items():
        if key not in INTERNAL_KEYS:
            headers[key] = value
    return headers


def _read_input(wsgi_input, want, what):
    """Up to ``want`` bytes of the request body (b'' at its end).

    :raises ClientTimeout: the sender stalled.
    :raises ClientDisconnect: it went away (eventlet: broken chunked encoding, reset).
    """
    try:
        return wsgi_input.read(want)
    except socket.timeout:
        raise ClientTimeout("timed out reading %s" % what) from None
    except (OSError, ValueError) as err:
        raise ClientDisconnect("client went away: %s" % err) from None


# --- the app ---------------------------------------------------------------------
class ObjectServer(BaseApp):
    """WSGI app for one node's objects.

    :param config: ObjectServerConfig.
    :param logger: one access line per request, warnings on failures.
    :param diskfile_manager: DiskFileManager over ``config.devices``.
    :param constraints: API limits (metadata size and count, object size).
    :param pool: backend ConnectionPool for container updates (made from the config if None).
    """

    server_name = "object-server"

    def __init__(self, config, logger, diskfile_manager, constraints=DEFAULT_CONSTRAINTS, pool=None):
        super().__init__(logger, access_log=config.access_log)
        self.config = config
        self.manager = diskfile_manager
        self.constraints = constraints
        self.pool = pool or ConnectionPool(config.conn_timeout, config.node_timeout)
        self.allowed_headers = {name.lower(): name for name in config.allowed_headers}
        self.routes = {
            "PUT": self.PUT, "GET": self.GET, "HEAD": self.HEAD, "DELETE": self.DELETE,
            "POST": self.POST, "REPLICATE": self.REPLICATE,
        }

    def handle(self, req):
        if req.path_info.startswith("/recon/"):  # served before the device path (daemon/recon.py)
            status, body = recon_response(req.path_info[len("/recon/"):], self.config.devices,
                                          self.config.ring_dir, "", self.config.mount_check)
            return Response(status=status, body=body, content_type="application/json", charset=None)
        return super().handle(req)

    # --- helpers -------------------------------------------------------------------
    def _conflict(self, existing):
        return Response(status=409, body=b"", headers={"X-Backend-Timestamp": existing.internal})

    def _not_found(self, timestamp=None):
        headers = {"X-Backend-Timestamp": timestamp.internal} if timestamp is not None else {}
        return Response(status=404, body=b"", headers=headers)

    def _delete_at(self, headers, timestamp):
        value = headers.get("X-Delete-At")
        if value is None:
            return None
        delete_at = normalize_delete_at(value)
        if delete_at < float(timestamp):
            raise BadRequest("X-Delete-At in past")
        return delete_at

    def _read_body(self, req, writer, size):
        """Stream the request body into ``writer``; ``size`` None means chunked."""
        wsgi_input = req.environ["wsgi.input"]
        chunk = self.config.network_chunk_size
        remaining = size
        while remaining is None or remaining > 0:
            want = chunk if remaining is None else min(chunk, remaining)
            data = _read_input(wsgi_input, want, "the request body")
            if not data:
                if remaining is not None:
                    raise ClientDisconnect("body ended after %d of %d bytes" % (size - remaining, size))
                return
            writer.write(data)
            if remaining is not None:
                remaining -= len(data)
            elif writer.bytes_written > self.constraints.max_file_size:
                raise RequestEntityTooLarge("Your request is too large.")

    # --- PUT ---------------------------------------------------------------------------
    def PUT(self, req):
        device, partition, account, container, obj = split_object_path(req.path_info)
        headers = req.headers
        timestamp = request_timestamp(headers)
        replication = config_true(headers.get("X-Backend-Replication", "false"))
        size = self._body_size(req)
        footed = self._accept_footer(req, size)
        if footed:
            size -= footer.SIZE
        check_object_size(size, self.constraints)
        check_metadata(meta_text(headers), "object", self.constraints)
        nodes = [] if replication else container_nodes(headers)
        if not replication:
            self._delete_at(headers, timestamp)
        df = self.manager.get_diskfile(device, partition, account, container, obj)
        existing, _is_tombstone = df.state()
        if existing is not None and existing >= timestamp:
            return self._conflict(existing)
        if_none = headers.get("If-None-Match")
        if if_none is not None and not replication and existing is not None and not _is_tombstone:
            tags = conditions.parse_etags(if_none)
            try:
                with df.open():  # an expired or quarantined object does not exist
                    if "*" in tags or df.metadata.get("ETag") in tags:
                        return Response(status=412, body=b"", headers={"X-Backend-Timestamp": existing.internal})
            except DiskFileNotFound:
                pass
        given_etag = (headers.get("ETag") or "").strip('"').lower()
        with df.writer(size, md5=not footed) as writer:
            self._read_body(req, writer, size)
            etag = self._read_footer(req, writer) if footed else writer.etag
            if given_etag and given_etag != etag:
                raise UnprocessableEntity("ETag %s does not match the body's md5 %s" % (given_etag, etag))
            metadata = {
                "X-Timestamp": timestamp.internal,
                "Content-Type": headers.get("Content-Type") or "application/octet-stream",
                "ETag": etag,
                "Content-Length": str(writer.bytes_written),
            }
            metadata.update(stored_headers(headers, self.allowed_headers))
            writer.put(metadata)
        if nodes:
            self.container_update(req, "PUT", device, account, container, obj, timestamp, nodes, {
                "X-Size": str(writer.bytes_written),
                "X-Content-Type": metadata["Content-Type"],
                "X-Etag": etag,
            })
        if not replication:
            self._queue_delete_at(req, device, account, container, obj, timestamp)
        return Response(status=201, body=b"", headers={"ETag": etag})

    def _queue_delete_at(self, req, device, account, container, obj, timestamp):
        """Add the expirer's queue row (see obj/expirer.py) when the PUT has X-Delete-At
        and names a queue replica (X-Delete-At-Host/-Device/-Partition/-Container)."""
        delete_at = req.headers.get("X-Delete-At")
        queue, nodes = expirer.queue_update_nodes(req.headers)
        if not delete_at or not nodes:
            return
        q_account, _q, row, extra = expirer.queue_update_request("PUT", delete_at, account, container, obj, timestamp)
        extra.pop("X-Timestamp", None)
        self.container_update(req, "PUT", device, q_account, queue, row, timestamp, nodes, extra)

    def _accept_footer(self, req, size):
        """True when the sender puts the body's md5 and CRC-32 after it
        (common/footer.py); then the ``100 Continue`` says this server
        understands it.

        :raises BadRequest: a footer of another format, or on a body of
            unknown or too small a length.
        """
        wanted = req.headers.get(footer.HEADER)
        if wanted is None:
            return False
        if wanted.strip().lower() != footer.FORMAT or size is None or size < footer.SIZE:
            raise BadRequest("unsupported body footer %r" % wanted)
        set_headers = getattr(req.environ["wsgi.input"], "set_hundred_continue_response_headers", None)
        if set_headers is not None:
            set_headers([(footer.HEADER, footer.FORMAT)])
        return True

    def _read_footer(self, req, writer):
        """The md5 the sender gives, once the CRC-32 of what arrived matches its own.

        :raises UnprocessableEntity: the body changed on the way (nothing is stored).
        :raises ClientDisconnect: the footer is cut short.
        """
        wsgi_input = req.environ["wsgi.input"]
        data = b""
        while len(data) < footer.SIZE:
            more = _read_input(wsgi_input, footer.SIZE - len(data), "the body footer")
            if not more:
                raise ClientDisconnect("body footer ended after %d of %d bytes" % (len(data), footer.SIZE))
            data += more
        md5, crc = footer.parse(data)
        if crc != writer.crc:
            raise UnprocessableEntity("body changed on the way: CRC-32 %s, the sender's %s" % (writer.crc, crc))
        return md5

    def _body_size(self, req):
        if "chunked" in (req.headers.get("Transfer-Encoding") or "").lower():
            return None
        value = req.environ.get("CONTENT_LENGTH")
        if value is None or value == "":
            raise LengthRequired("Missing Content-Length or Transfer-Encoding: chunked")
        try:
            size = int(value)
        except ValueError:
            raise BadRequest("Invalid Content-Length") from None
        if size < 0:
            raise BadRequest("Invalid Content-Length")
        return size

    # --- GET / HEAD ------------------------------------------------------------------
    def _open(self, req):
        """The opened DiskFile, or a Response to answer instead."""
        device, partition, account, container, obj = split_object_path(req.path_info)
        df = self.manager.get_diskfile(device, partition, account, container, obj)
        try:
            df.open()
        except DiskFileDeleted as err:
            return None, self._missing(req, err.timestamp)
        except DiskFileExpired as err:
            return None, self._missing(req, getattr(err, "timestamp", None))
        except DiskFileNotFound:
            return None, self._missing(req, None)
        return df, None

    def _missing(self, req, timestamp):
        if conditions.parse_etags(req.headers.get("If-Match")) == ["*"]:
            return Response(status=412, body=b"")
        return self._not_found(timestamp)

    def GET(self, req):
        df, answer = self._open(req)
        if answer is not None:
            return answer
        try:
            return self._get_response(req, df)
        finally:
            df.close()  # a no-op once a reader owns the fd

    def HEAD(self, req):
        df, answer = self._open(req)
        if answer is not None:
            return answer
        df.close()
        headers = response_headers(df.metadata, df.data_timestamp)
        status = conditions.check_conditions("HEAD", req.headers, df.metadata.get("ETag"), df.timestamp)
        resp = Response(status=status or 200)
        _set_headers(resp, headers)
        resp.headers["Content-Length"] = str(df.content_length) if not status else "0"
        return resp

    def _get_response(self, req, df):
        metadata = df.metadata
        headers = response_headers(metadata, df.data_timestamp)
        etag = metadata.get("ETag")
        status = conditions.check_conditions("GET", req.headers, etag, df.timestamp)
        if status:
            resp = Response(status=status, body=b"")
            _set_headers(resp, headers, skip=("Content-Type",))
            return resp
        length = df.content_length
        ranges = None
        if req.headers.get("Range") and conditions.if_range_allows(req.headers.get("If-Range"), etag, df.timestamp):
            ranges = conditions.parse_ranges(req.headers.get("Range"), length)
        if ranges == []:
            resp = Response(status=416, body=b"")
            resp.headers["Content-Range"] = "bytes */%d" % length
            _set_headers(resp, headers, skip=("Content-Type",))
            return resp
        reader = df.reader()
        if not ranges:
            resp = Response(status=200, app_iter=_Body(iter(reader), reader))
            _set_headers(resp, headers)
            resp.headers["Content-Length"] = str(length)
            return resp
        if len(ranges) == 1:
            start, stop = ranges[0]
            resp = Response(status=206, app_iter=_Body(reader.app_iter_range(start, stop), reader))
            _set_headers(resp, headers)
            resp.headers["Content-Range"] = conditions.content_range(start, stop, length)
            resp.headers["Content-Length"] = str(stop - start)
            return resp
        boundary = uuid.uuid4().hex
        parts, closing, total = conditions.multipart_layout(ranges, length, headers["Content-Type"], boundary)
        resp = Response(status=206, app_iter=_Body(_multipart(reader, parts, closing), reader))
        _set_headers(resp, headers)
        resp.headers["Content-Type"] = "multipart/byteranges;boundary=%s" % boundary
        resp.headers["Content-Length"] = str(total)
        return resp

    # --- DELETE ----------------------------------------------------------------------
    def DELETE(self, req):
        device, partition, account, container, obj = split_object_path(req.path_info)
        headers = req.headers
        timestamp = request_timestamp(headers)
        replication = config_true(headers.get("X-Backend-Replication", "false"))
        nodes = [] if replication else container_nodes(headers)
        df = self.manager.get_diskfile(device, partition, account, container, obj)
        found = False
        delete_at = None
        try:
            with df.open(allow_expired=True):
                found = True
                existing = df.timestamp
                delete_at = df.metadata.get("X-Delete-At")
                if delete_at is not None and int(delete_at) <= time.time():
                    found = False  # expired: answers 404 but is still deleted
        except DiskFileDeleted as err:
            existing = err.timestamp
            if existing >= timestamp:
                return self._conflict(existing) if existing > timestamp else self._not_found(existing)
        except DiskFileNotFound:
            existing = None
        if_delete_at = headers.get("X-If-Delete-At")
        if if_delete_at is not None and (delete_at is None or str(delete_at) != if_delete_at.strip()):
            return Response(status=412, body=b"")
        if existing is not None and existing >= timestamp:
            return self._conflict(existing)
        df.delete(timestamp)
        if nodes:
            self.container_update(req, "DELETE", device, account, container, obj, timestamp, nodes, {})
        return Response(status=204 if found else 404, body=b"",
                        headers={"X-Backend-Timestamp": timestamp.internal})

    # --- POST --------------------------------------------------------------------------
    def POST(self, req):
        device, partition, account, container, obj = split_object_path(req.path_info)
        headers = req.headers
        timestamp = request_timestamp(headers)
        check_metadata(meta_text(headers), "object", self.constraints)
        self._delete_at(headers, timestamp)
        df, answer = self._open(req)
        if answer is not None:
            return answer
        df.close()
        if df.timestamp >= timestamp:
            return self._conflict(df.timestamp)
        metadata = {"X-Timestamp": timestamp.internal}
        metadata.update(stored_headers(headers, self.allowed_headers))
        for key in [k for k in metadata if k.lower().startswith(SYSMETA_PREFIX)]:
            del metadata[key]  # sysmeta is set by PUT only
        df.write_metadata(metadata)
        self._queue_delete_at(req, device, account, container, obj, timestamp)
        return Response(status=202, body=b"", headers={"X-Backend-Timestamp": timestamp.internal})

    # --- REPLICATE -------------------------------------------------------------------
    def REPLICATE(self, req):
        """Suffix hashes of ``/<dev>/<part>[/<suf>-<suf>...]``, recalculating those named."""
        device, partition, suffixes = split_path(req.path_info, 2, 3)
        validate_segments(device, partition)
        try:
            recalculate = parse_suffixes(suffixes)
        except ValueError as err:
            raise BadRequest(str(err)) from None
        hashes = self.manager.get_hashes(device, partition, recalculate)
        resp = Response(status=200, body=pack(hashes))
        resp.headers["Content-Type"] = "application/octet-stream"
        return resp

    # --- container updates -----------------------------------------------------------
    def container_update(self, req, op, device, account, container, obj, timestamp, nodes, extra):
        """Tell the container replicas about the row; leave an async_pending for failures."""
        headers = {"X-Timestamp": timestamp.internal, "X-Trans-Id": req.headers.get("X-Trans-Id", "-")}
        headers.update(extra)
        results = {}
        if len(nodes) == 1:
            # the usual case (the proxy names one container replica per object
            # replica): no greenthread of its own needed
            with green.Timeout(self.config.container_update_timeout, False):
                index, error = self._update_node(0, nodes[0], op, account, container, obj, headers)
                results[index] = error
        else:
            pile = green.GreenPile(len(nodes))
            for index, node in enumerate(nodes):
                pile.spawn(self._update_node, index, node, op, account, container, obj, headers)
            with green.Timeout(self.config.container_update_timeout, False):
                for index, error in pile:
                    results[index] = error
        failed = [node for index, node in enumerate(nodes) if results.get(index, "timed out") is not None]
        if not failed:
            return
        reasons = ", ".join("%s:%s/%s %s" % (node["ip"], node["port"], node["device"],
                                              results.get(index, "timed out"))
                            for index, node in enumerate(nodes) if results.get(index, "timed out") is not None)
        try:
            self.manager.write_async_pending(device, op, account, container, obj, timestamp, headers, failed)
        except (ObjstoreError, OSError) as err:
            # the object itself is durable; only its listing row is at risk
            self.logger.error("container update %s /%s/%s/%s failed (%s) and no async_pending: %s",
                              op, account, container, obj, reasons, err)
            return
        self.logger.warning("container update %s /%s/%s/%s left for the updater: %s",
                            op, account, container, obj, reasons)

    def _update_node(self, index, node, op, account, container, obj, headers):
        """``(index, None)`` on success, ``(index, reason)`` on failure."""
        path = quote_path(node["device"], node["partition"], account, container, obj)
        try:
            resp = self.pool.request(node["ip"], node["port"], op, path, headers)
        except (ObjstoreError, OSError) as err:
            return index, str(err) or type(err).__name__
        if not 200 <= resp.status < 300:
            return index, "status %d" % resp.status
        return index, None


def _set_headers(resp, headers, skip=()):
    for key, value in headers.items():
        if key not in skip:
            resp.headers[key] = value


def _multipart(reader, parts, closing):
    for head, start, stop in parts:
        yield head
        yield from reader.app_iter_range(start, stop)
        yield b"\r\n"
    yield closing


class _Body:
    """A response body iterator that closes the DiskFileReader when the server is done."""

    __slots__ = ("iterator", "reader")

    def __init__(self, iterator, reader):
        self.iterator = iterator
        self.reader = reader

    def __iter__(self):
        return self.iterator

    def close(self):
        self.reader.close()


# --- process ---------------------------------------------------------------------
def app_factory(conf_path_, config, logger):
    """``callable(conf_path, config, logger) -> app`` for server_main."""
    manager = DiskFileManager(
        config.devices, config.mount_check, logger, config.reclaim_age, config.fallocate_reserve,
        config.disk_chunk_size, config.keep_cache_size,
        run_blocking=green.tpool_execute if config.fsync_in_threads else None,
        run_short=InlineWhenFast(green.tpool_execute) if config.fsync_in_threads else None,
        run_background=green.spawn_blocking if config.fsync_in_threads else None,
        sync_every=config.mb_per_sync * 1048576,
    )
    return ObjectServer(config, logger, manager, load_constraints(conf_path()))


def main(argv=None):
    return server_main("object-server", ObjectServerConfig, app_factory, argv)


if __name__ == "__main__":
    sys.exit(main())
