"""The object updater: replays the container updates that failed when an
object was written (async_pending files), so listings catch up.

What lives here: :class:`ObjectUpdater` and the pure decisions about one
pending file (:func:`newest_per_object`, :func:`update_request`). What does
not: writing async_pending files (``DiskFileManager.write_async_pending`` in
diskfile.py, which defines the format), the container server's handling.

Theory of operation:
- ``<devices>/<dev>/async_pending/<suffix>/<hash>-<timestamp>`` holds
  ``encoding.pack({"op", "account", "container", "obj", "headers",
  "container_nodes": [{"ip", "port", "device", "partition"}]}, 1)``.
- For each file the updater sends ``op`` (PUT or DELETE) to every container
  node of the entry, with the saved headers. A node that answered 2xx is
  recorded in the file (``"successes"``, rewritten atomically) so a later
  attempt does not repeat it; when every node succeeded the file is removed.
  On any failure the file stays for the next pass. A crash at any point
  leaves either the old file or its rewritten copy, never nothing: at worst
  an update is sent twice, which the container merges by timestamp.
- Several files for one object: the container keeps the newest row anyway,
  so only the newest is sent and the older ones are removed.
"""

import dataclasses
import os

from objstore.common import encoding
from objstore.common.config import option
from objstore.common.exceptions import ObjstoreError
from objstore.common.fs import atomic_write, ismount, listdir, remove_file
from objstore.common.timestamp import Timestamp
from objstore.daemon.runner import Daemon, DaemonConfig, RateLimiter, daemon_main
from objstore.web.backend import ConnectionPool, quote_path

ASYNC_VERSION = 1


@dataclasses.dataclass(frozen=True)
class UpdaterConfig(DaemonConfig):
    interval: float = option(300.0, "seconds from the start of one pass to the start of the next")
    updates_per_second: float = option(50.0, "async pendings replayed per second (0: no limit)")
    conn_timeout: float = option(0.5, "seconds to connect to a container server")
    node_timeout: float = option(10.0, "seconds to wait on a container server's answer")


def parse_pending_name(name):
    """``('<hash>', Timestamp)`` of an async_pending file name, or None."""
    name_hash, dash, stamp = name.partition("-")
    if not dash or len(name_hash) != 32:
        return None
    try:
        return name_hash, Timestamp(stamp)
    except ObjstoreError:
        return None


def newest_per_object(names):
    """Split file names of one suffix directory into the newest per object
    and the obsolete older ones.

    :returns: ``(newest names, obsolete names)``, both sorted; names that are
        not async_pending files are in neither.
    """
    best = {}
    obsolete = []
    for name in sorted(names):
        parsed = parse_pending_name(name)
        if parsed is None:
            continue
        name_hash, stamp = parsed
        if name_hash in best:
            older = best[name_hash]
            if older[0] < stamp:
                obsolete.append(older[1])
                best[name_hash] = (stamp, name)
            else:
                obsolete.append(name)
        else:
            best[name_hash] = (stamp, name)
    return sorted(name for _stamp, name in best.values()), sorted(obsolete)


def update_request(entry, node):
    """``(method, path, headers)`` of the container update for one node."""
    path = quote_path(node["device"], str(node["partition"]), entry["account"], entry["container"], entry["obj"])
    headers = {str(k): str(v) for k, v in (entry.get("headers") or {}).items()}
    return entry["op"], path, headers


def node_key(node):
    return "%s:%s/%s" % (node["ip"], node["port"], node["device"])


class ObjectUpdater(Daemon):
    """One pass: every async_pending on every local device replayed once.

    :param pool: the ConnectionPool to container servers (made when None).
    """

    name = "object-updater"
    server_section = "object-server"
    config_cls = UpdaterConfig

    def __init__(self, config, logger, pool=None, clock=None, sleep=None):
        super().__init__(config, logger)
        self.pool = pool or ConnectionPool(config.conn_timeout, config.node_timeout)
        kwargs = {}
        if clock is not None:
            kwargs["clock"] = clock
        self.limiter = RateLimiter(config.updates_per_second, sleep=sleep, **kwargs)

    def run_pass(self, devices=None, partitions=None):
        stats = {"successes": 0, "failures": 0, "unlinks": 0, "errors": 0}
        for name in sorted(listdir(self.config.devices)):
            if devices and name not in devices:
                continue
            path = os.path.join(self.config.devices, name)
            if not os.path.isdir(path) or (self.config.mount_check and not ismount(path)):
                continue
            self.update_device(path, stats)
            if self.stopping():
                break
        return stats

    def update_device(self, device_path, stats):
        base = os.path.join(device_path, "async_pending")
        for suffix in sorted(listdir(base)):
            suffix_path = os.path.join(base, suffix)
            newest, obsolete = newest_per_object(listdir(suffix_path))
            for name in obsolete:
                remove_file(os.path.join(suffix_path, name))
                stats["unlinks"] += 1
            for name in newest:
                if self.stopping():
                    return
                self.process(os.path.join(suffix_path, name), stats)
                self.limiter.wait()
            try:
                os.rmdir(suffix_path)  # only succeeds when empty
            except OSError:
                pass

    def process(self, path, stats):
        """Replay one async_pending file; remove it once every node has it."""
        try:
            with open(path, "rb") as handle:
                _version, entry = encoding.unpack(handle.read(), (ASYNC_VERSION,))
        except FileNotFoundError:
            return
        except (OSError, encoding.EncodingError) as err:
            stats["errors"] += 1
            self.logger.error("ERROR unreadable async_pending %s: %s", path, err)
            return
        successes = set(entry.get("successes") or ())
        failed = False
        for node in entry.get("container_nodes") or ():
            key = node_key(node)
            if key in successes:
                continue
            method, req_path, headers = update_request(entry, node)
            try:
                resp = self.pool.request(node["ip"], int(node["port"]), method, req_path, headers)
                ok = 200 <= resp.status < 300
                status = resp.status
            except ObjstoreError as err:
                ok, status = False, str(err)
            if ok:
                successes.add(key)
            else:
                failed = True
                self.logger.info("update of %s/%s/%s to %s failed: %s", entry["account"], entry["container"],
                                 entry["obj"], key, status)
        if not failed:
            remove_file(path)
            stats["successes"] += 1
            stats["unlinks"] += 1
            return
        stats["failures"] += 1
        if successes != set(entry.get("successes") or ()):
            entry["successes"] = sorted(successes)
            try:
                atomic_write(path, encoding.pack(entry, ASYNC_VERSION))
            except OSError as err:
                self.logger.warning("cannot record progress in %s: %s", path, err)


def main(argv=None):
    """``objstore-object-updater CONF [--once] [--devices ..]``."""
    return daemon_main(ObjectUpdater, argv)


if __name__ == "__main__":
    raise SystemExit(main())
