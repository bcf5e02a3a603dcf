"""The recon cache and the answers to ``GET /recon/<what>``.

Each daemon writes one JSON file per pass, ``<recon_dir>/<daemon-name>.json``
(atomically, so a reader never sees half a file). Storage servers answer
``GET /recon/<what>`` with :func:`recon_response`, which reads those files and
measures a few things live (async pendings, disk usage, ring md5s,
quarantined counts).

No HTTP types here: :func:`recon_response` returns ``(status, body)`` and the
server wraps it. How to route: a storage server's app checks
``req.path.startswith('/recon/')`` before splitting the device path.
"""

import hashlib
import json
import os
import time

from objstore.common.fs import atomic_write, ismount, listdir

# ``/recon/<what>[/<kind>]`` -> the daemon whose cache answers it; the kind
# defaults to object.
CACHED = {
    "replication": "%s-replicator",
    "auditor": "%s-auditor",
    "updater": "%s-updater",
}
SINGLE = {
    "expirer": "object-expirer",
    "reaper": "account-reaper",
}
KINDS = ("object", "container", "account")
QUARANTINE_KINDS = {"objects": "objects", "containers": "containers", "accounts": "accounts"}


def recon_dir(recon_cache_path, devices):
    """The recon directory: the configured one, or ``recon`` next to ``devices``.

    The default keeps the nodes of a one-machine cluster apart (each has its
    own devices directory) without any setting.
    """
    if recon_cache_path:
        return recon_cache_path
    parent = os.path.dirname(os.path.abspath(devices).rstrip("/")) or "/"
    return os.path.join(parent, "recon")


def recon_file(directory, name):
    return os.path.join(directory, "%s.json" % name)


def write_recon(directory, name, entry):
    """Replace the recon entry of daemon ``name`` (atomically)."""
    data = json.dumps(entry, sort_keys=True).encode("utf-8")
    atomic_write(recon_file(directory, name), data, fsync=False)


def read_recon(directory, name):
    """The last entry daemon ``name`` wrote, or ``{}``."""
    try:
        with open(recon_file(directory, name), "rb") as handle:
            value = json.loads(handle.read().decode("utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def device_dirs(devices, mount_check=False):
    """``[(name, path, usable)]`` for every device directory, sorted."""
    result = []
    for name in sorted(listdir(devices)):
        path = os.path.join(devices, name)
        if not os.path.isdir(path):
            continue
        usable = ismount(path) if mount_check else True
        result.append((name, path, usable))
    return result


def count_async_pendings(devices, mount_check=False):
    """How many async_pending files wait on all devices (a live count)."""
    total = 0
    for _name, path, usable in device_dirs(devices, mount_check):
        if not usable:
            continue
        base = os.path.join(path, "async_pending")
        for suffix in listdir(base):
            total += len(listdir(os.path.join(base, suffix)))
    return total


def disk_usage(devices, mount_check=False):
    """``[{device, mounted, size, used, avail}]`` per device (bytes)."""
    result = []
    for name, path, usable in device_dirs(devices, mount_check):
        entry = {"device": name, "mounted": usable}
        if usable:
            try:
                st = os.statvfs(path)
            except OSError:
                entry["mounted"] = False
            else:
                entry["size"] = st.f_blocks * st.f_frsize
                entry["avail"] = st.f_bavail * st.f_frsize
                entry["used"] = (st.f_blocks - st.f_bfree) * st.f_frsize
        result.append(entry)
    return result


def unmounted(devices, mount_check=True):
    """``[{device, mounted: false}]`` for devices not usable."""
    return [{"device": name, "mounted": False} for name, _p, usable in device_dirs(devices, mount_check) if not usable]


def ring_md5s(ring_dir):
    """``{path: md5 hex}`` of each ``*.ring.gz`` in ``ring_dir``."""
    result = {}
    for name in sorted(listdir(ring_dir)):
        if not name.endswith(".ring.gz"):
            continue
        path = os.path.join(ring_dir, name)
        digest = hashlib.md5(usedforsecurity=False)
        try:
            with open(path, "rb") as handle:
                for chunk in iter(lambda: handle.read(65536), b""):
                    digest.update(chunk)
        except OSError:
            continue
        result[path] = digest.hexdigest()
    return result


def quarantined_counts(devices, mount_check=False):
    """``{objects, containers, accounts, policies}`` totals plus per device."""
    totals = {kind: 0 for kind in QUARANTINE_KINDS}
    per_device = {}
    for name, path, usable in device_dirs(devices, mount_check):
        if not usable:
            continue
        counts = {}
        for kind in QUARANTINE_KINDS:
            counts[kind] = len(listdir(os.path.join(path, "quarantined", kind)))
            totals[kind] += counts[kind]
        per_device[name] = counts
    totals["devices"] = per_device
    return totals


def recon_data(what, devices, ring_dir, recon_cache_path="", mount_check=False):
    """The JSON-able answer for ``/recon/<what>``, or None when unknown.

    :param what: the path after ``/recon/`` (``replication``,
        ``replication/container``, ``auditor``, ``updater/object``,
        ``expirer``, ``reaper``, ``async``, ``diskusage``, ``ringmd5``,
        ``quarantined``, ``unmounted``, ``load``, ``time``).
    """
    directory = recon_dir(recon_cache_path, devices)
    head, _, kind = what.strip("/").partition("/")
    if head in CACHED:
        kind = kind or "object"
        if kind not in KINDS:
            return None
        return read_recon(directory, CACHED[head] % kind)
    if kind:
        return None
    if head in SINGLE:
        return read_recon(directory, SINGLE[head])
    if head == "async":
        entry = dict(read_recon(directory, "object-updater"))
        entry["async_pending"] = count_async_pendings(devices, mount_check)
        return entry
    if head == "diskusage":
        return disk_usage(devices, mount_check)
    if head == "unmounted":
        return unmounted(devices)
    if head == "ringmd5":
        return ring_md5s(ring_dir)
    if head == "quarantined":
        return quarantined_counts(devices, mount_check)
    if head == "load":
        one, five, fifteen = os.getloadavg()
        return {"1m": one, "5m": five, "15m": fifteen}
    if head == "time":
        return {"time": time.time()}
    return None


def recon_response(what, devices, ring_dir, recon_cache_path="", mount_check=False):
    """``(status, body bytes)`` for ``GET /recon/<what>``: 200 with JSON, or 404.

    A storage server calls it with its own config::

        if req.path.startswith("/recon/"):
            status, body = recon_response(req.path[len("/recon/"):], config.devices,
                                          config.ring_dir, getattr(config, "recon_cache_path", ""),
                                          config.mount_check)
            return Response(status=status, body=body, content_type="application/json")
    """
    data = recon_data(what, devices, ring_dir, recon_cache_path, mount_check)
    if data is None:
        return 404, b'{"error": "unknown recon check"}'
    return 200, json.dumps(data, sort_keys=True).encode("utf-8")
