"""The ring as servers use it: path -> partition -> devices.

What lives here: ``Ring`` (loads a ring file, answers ``get_part``,
``get_nodes``, ``get_part_nodes``, ``get_more_nodes``, reloads itself when the
file changes) and the pure lookups it is built on (``part_of``,
``handoff_order``). What does not: building or rebalancing (builder.py), the
file encoding (ringfile.py), which IPs are this host's (common.ipaddrs; pass
them to ``local_devices``).

Node dicts returned by lookups are fresh copies, safe to mutate, with keys:
``id``, ``region``, ``zone``, ``ip``, ``port``, ``replication_ip``,
``replication_port``, ``device``, ``weight``, ``meta``, plus ``index`` (replica
position, primaries) or ``handoff_index`` (0, 1, ... in handoff order).

Handoff order: the partition table is walked from a per-partition starting
point with a per-partition odd stride (which visits every partition once, the
count being a power of two); devices are taken as met, so a device comes up in
proportion to its partitions, i.e. its weight. Four walks in turn yield devices
in a region no earlier node used, then a new zone, then a new host (ip), then
any device not yet yielded. The walk is a function of the partition and the
ring only: every server computes the same handoffs.
"""

import hashlib
import os
import struct
import time

from objstore.common.exceptions import RingError
from objstore.common.hashing import hash_path_raw
from objstore.ring import ringfile

_UNPACK = struct.Struct(">I").unpack_from


def part_of(digest, part_shift):
    """The partition of an md5 digest: its top bits, ``part_shift = 32 - part_power``."""
    return _UNPACK(digest)[0] >> part_shift


def _walk(part, partitions):
    """Deterministic (start, odd stride) for partition ``part``."""
    seed = hashlib.md5(b"handoff-%d" % part, usedforsecurity=False).digest()
    start = int.from_bytes(seed[:4], "big") % partitions
    stride = int.from_bytes(seed[4:8], "big") % partitions | 1
    return start, stride


class Ring:
    """A loaded ring file.

    :param path: the ``.ring.gz`` file.
    :param reload_time: seconds between checks of the file's mtime and size.
    :param secrets_pair: ``(prefix, suffix)`` bytes for hashing; by default
        the cluster secrets from ``$OBJSTORE_CONF`` (as ``hash_path``).
    :raises RingError: the file is missing or corrupt.
    """

    def __init__(self, path, reload_time=15, secrets_pair=None):
        self.path = os.fspath(path)
        self.reload_time = reload_time
        self.secrets_pair = secrets_pair
        self._stat = None
        self._load()
        self._next_check = time.time() + reload_time

    # -- loading -------------------------------------------------------------
    def _load(self):
        try:
            with open(self.path, "rb") as handle:
                stat = os.fstat(handle.fileno())
                data = handle.read()
        except FileNotFoundError:
            raise RingError("ring file %s not found" % self.path) from None
        except OSError as err:
            raise RingError("cannot read ring file %s: %s" % (self.path, err.strerror)) from None
        body, rows = ringfile.decode_ring(data)
        self._devs = body["devs"]
        self._rows = rows
        self._part_power = body["part_power"]
        self._part_shift = 32 - self._part_power
        self._partitions = 1 << self._part_power
        self._replica_count = float(body["replica_count"])
        self._version = body.get("version", 0)
        self._md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
        self._stat = (stat.st_mtime, stat.st_size, stat.st_ino)
        # tier totals for handoff walks, over devices that hold partitions
        totals = body.get("tier_totals")
        if not totals:
            present = set()
            for row in rows:
                present.update(set(row))
            totals = tier_totals([self._devs[i] for i in sorted(present)])
        self._tier_totals = tuple(totals)

    def _check_reload(self):
        now = time.time()
        if now < self._next_check:
            return
        self._next_check = now + self.reload_time
        try:
            stat = os.stat(self.path)
        except OSError:
            return  # keep serving the ring we have
        if (stat.st_mtime, stat.st_size, stat.st_ino) != self._stat:
            try:
                self._load()
            except RingError:
                pass  # a bad new file: keep serving the ring we have, retry later

    def has_changed(self):
        """True when the file on disk differs from the loaded one (no reload)."""
        try:
            stat = os.stat(self.path)
        except OSError:
            return True
        return (stat.st_mtime, stat.st_size, stat.st_ino) != self._stat

    # -- attributes ----------------------------------------------------------
    @property
    def devs(self):
        """Device dicts indexed by id (None for removed ids)."""
        self._check_reload()
        return self._devs

    @property
    def replica_count(self):
        """Replicas per partition (fractional when the last row is partial)."""
        self._check_reload()
        return self._replica_count

    @property
    def partition_count(self):
        self._check_reload()
        return self._partitions

    @property
    def part_power(self):
        self._check_reload()
        return self._part_power

    @property
    def version(self):
        """The builder's rebalance count when this ring was written."""
        self._check_reload()
        return self._version

    @property
    def md5(self):
        """md5 hex of the ring file as loaded (for recon)."""
        self._check_reload()
        return self._md5

    # -- lookups -------------------------------------------------------------
    def get_part(self, account, container=None, obj=None):
        """The partition of a path: the top ``part_power`` bits of its hash."""
        self._check_reload()
        return part_of(hash_path_raw(account, container, obj, self.secrets_pair), self._part_shift)

    def get_part_nodes(self, part):
        """Primary node dicts of a partition, each with ``index`` (replica row).

        :raises RingError: partition out of range.
        """
        self._check_reload()
        if not 0 <= part < self._partitions:
            raise RingError("partition %r out of range" % (part,))
        devs = self._devs
        nodes = []
        for index, row in enumerate(self._rows):
            if part < len(row):
                node = dict(devs[row[part]])
                node["index"] = index
                nodes.append(node)
        return nodes

    def get_nodes(self, account, container=None, obj=None):
        """``(partition, [primary node dicts])`` for a path; O(replicas).

        Each node dict has id, region, zone, ip, port, replication_ip,
        replication_port, device, weight, meta and index (its replica row).
        """
        part = self.get_part(account, container, obj)
        return part, self.get_part_nodes(part)

    def get_more_nodes(self, part):
        """Yield handoff node dicts for ``part``, best first, each with
        ``handoff_index``: new regions, then zones, then hosts, then devices."""
        self._check_reload()
        if not 0 <= part < self._partitions:
            raise RingError("partition %r out of range" % (part,))
        walk = handoff_order(part, self._rows, self._devs, self._tier_totals, self._partitions)
        for number, dev in enumerate(walk):
            node = dict(dev)
            node["handoff_index"] = number
            yield node

    def local_devices(self, ips, port):
        """Devices whose ip or replication_ip is in ``ips`` and whose port or
        replication_port is ``port`` (copies; pure, no interface lookups)."""
        self._check_reload()
        ips = set(ips)
        return [
            dict(dev) for dev in self._devs
            if dev is not None
            and (dev["ip"] in ips and dev["port"] == port
                 or dev["replication_ip"] in ips and dev["replication_port"] == port)
        ]


_TIER_KEYS = (
    lambda d: d["region"],
    lambda d: (d["region"], d["zone"]),
    lambda d: (d["region"], d["zone"], d["ip"]),
    lambda d: d["id"],
)


def tier_totals(devs):
    """How many regions, zones, hosts and devices ``devs`` span."""
    return tuple(len({key(d) for d in devs}) for key in _TIER_KEYS)


def handoff_order(part, rows, devs, totals, partitions):
    """Yield device dicts (not copies) to hand ``part`` off to, best first.

    :param rows: replica rows (arrays of device ids).
    :param devs: device dicts indexed by id.
    :param totals: ``tier_totals`` of the devices that hold partitions; a walk
        stops early once its tier is used up.
    """
    used = [set(), set(), set(), set()]
    for row in rows:
        if part < len(row):
            dev = devs[row[part]]
            for level in range(4):
                used[level].add(_TIER_KEYS[level](dev))
    start, stride = _walk(part, partitions)
    for level in range(4):
        if len(used[level]) >= totals[level]:
            continue
        key = _TIER_KEYS[level]
        used_level, used_devs = used[level], used[3]
        position = start
        for _ in range(partitions):
            for row in rows:
                if position < len(row):
                    dev = devs[row[position]]
                    if dev["id"] in used_devs or key(dev) in used_level:
                        continue
                    for lvl in range(4):
                        used[lvl].add(_TIER_KEYS[lvl](dev))
                    yield dev
            if len(used_level) >= totals[level]:
                break
            position = (position + stride) % partitions
