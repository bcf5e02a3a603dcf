"""The ring builder: the operators' side of the ring.

What lives here: ``RingBuilder`` (devices, weights, replica count, overload,
``min_part_hours`` bookkeeping, rebalance orchestration, validation, the
dispersion report, searches, and loading/saving the builder file and writing
the ring file). What does not: the placement math (placement.py, pure), the
file encodings (ringfile.py), lookups for servers (ring.py), argument parsing
and printing (objstore/cli/ringbuilder.py).

Time is read through ``time.time`` of this module only, so tests can patch it.
"""

import array
import dataclasses
import math
import random
import time

from objstore.common.exceptions import RingBuilderError, RingError, RingValidationError
from objstore.common.fs import atomic_write
from objstore.ring import measures, placement, ringfile
from objstore.ring.devspec import matches

MAX_PART_POWER = 24  # 16M partitions; 'i' rows of 3 replicas are ~200 MB beyond that
MAX_MOVES_HOURS = 0xFF
DEV_KEYS = ringfile.RING_DEV_KEYS


@dataclasses.dataclass(frozen=True)
class RebalanceResult:
    """What a rebalance did.

    ``parts_moved``: partitions with at least one replica on a new device;
    ``balance``: worst device balance in percent after it; ``dispersion``:
    percent of partitions with a tier over its cap; ``removed_devs``: ids of
    devices dropped from the ring; ``rows_resized``: the replica count
    changed the partition table's shape.
    """

    parts_moved: int
    balance: float
    dispersion: float
    removed_devs: tuple
    rows_resized: bool = False


def ring_path_for(builder_path):
    """``<name>.ring.gz`` beside ``<name>.builder``."""
    base = builder_path[: -len(".builder")] if builder_path.endswith(".builder") else builder_path
    return base + ".ring.gz"


class RingBuilder:
    """Builds and rebalances a ring.

    :param part_power: partitions = 2 ** part_power (1..24).
    :param replicas: replica count, >= 1, may be fractional.
    :param min_part_hours: hours before a partition may move again.
    """

    def __init__(self, part_power, replicas, min_part_hours):
        if not isinstance(part_power, int) or not 1 <= part_power <= MAX_PART_POWER:
            raise RingBuilderError("part_power must be an integer from 1 to %d" % MAX_PART_POWER)
        self._check_replicas(replicas)
        if not isinstance(min_part_hours, int) or not 0 <= min_part_hours <= MAX_MOVES_HOURS:
            raise RingBuilderError("min_part_hours must be an integer from 0 to %d" % MAX_MOVES_HOURS)
        self.part_power = part_power
        self.replicas = float(replicas)
        self.min_part_hours = min_part_hours
        self.overload = 0.0
        self.version = 0
        self.devs = []
        self._remove_devs = set()
        self._rows = None
        self._last_part_moves = bytearray([MAX_MOVES_HOURS]) * self.partition_count
        self._last_part_moves_epoch = int(time.time())
        self.dispersion = 0.0
        self.seed = None

    @classmethod
    def create(cls, part_power, replicas, min_part_hours):
        """A new, empty builder (the same as the constructor)."""
        return cls(part_power, replicas, min_part_hours)

    # -- properties ------------------------------------------------------------
    @property
    def partition_count(self):
        return 1 << self.part_power

    def _check_replicas(self, replicas):
        if isinstance(replicas, bool) or not isinstance(replicas, (int, float)) \
                or math.isnan(replicas) or not 1 <= replicas <= 64:
            raise RingBuilderError("replicas must be a number from 1 to 64")

    def live_devs(self):
        """Devices that exist and are not waiting to be removed."""
        return [d for d in self.devs if d is not None and d["id"] not in self._remove_devs]

    def _weighted_devs(self):
        return [d for d in self.live_devs() if d["weight"] > 0]

    def parts_by_dev(self):
        """Assigned slots per device id (a list indexed by id)."""
        if self._rows is None:
            return [0] * len(self.devs)
        return placement.count_parts(self._rows, len(self.devs))

    @property
    def has_assignments(self):
        return self._rows is not None

    # -- devices -----------------------------------------------------------
    def add_dev(self, dev=None, **fields):
        """Add a device; returns its id.

        :param dev: a dict, or give the fields as keywords: region (default 1),
            zone, ip, port, replication_ip/replication_port (default ip/port),
            device, weight (> 0), meta (default ''), id (default: next free).
        :raises RingBuilderError: a missing or bad field, or a duplicate
            id or ip:port/device.
        """
        given = dict(dev or {}, **fields)
        new = {
            "region": given.get("region", 1),
            "zone": given.get("zone"),
            "ip": given.get("ip"),
            "port": given.get("port"),
            "device": given.get("device"),
            "weight": given.get("weight"),
            "meta": given.get("meta") or "",
        }
        for key in ("zone", "ip", "port", "device", "weight"):
            if new[key] is None or new[key] == "":
                raise RingBuilderError("a device needs a %s" % key)
        new["replication_ip"] = given.get("replication_ip") or new["ip"]
        new["replication_port"] = given.get("replication_port") or new["port"]
        for key in ("region", "zone", "port", "replication_port"):
            if isinstance(new[key], bool) or not isinstance(new[key], int) or new[key] < 0:
                raise RingBuilderError("%s must be a non-negative integer, not %r" % (key, new[key]))
        for key in ("port", "replication_port"):
            if not 0 < new[key] < 65536:
                raise RingBuilderError("%s %r is not a TCP port" % (key, new[key]))
        new["weight"] = self._check_weight(new["weight"], allow_zero=False)
        if "/" in new["device"] or new["device"] in (".", ".."):
            raise RingBuilderError("invalid device name %r" % new["device"])
        for other in self.live_devs():
            if (other["ip"], other["port"], other["device"]) == (new["ip"], new["port"], new["device"]):
                raise RingBuilderError(
                    "device %s:%s/%s already exists as d%d"
                    % (new["ip"], new["port"], new["device"], other["id"]))
        dev_id = given.get("id")
        if dev_id is None:
            dev_id = self._next_id()
        elif not isinstance(dev_id, int) or dev_id < 0:
            raise RingBuilderError("invalid device id %r" % dev_id)
        elif dev_id < len(self.devs) and self.devs[dev_id] is not None:
            raise RingBuilderError("device id %d already in use" % dev_id)
        new["id"] = dev_id
        while len(self.devs) <= dev_id:
            self.devs.append(None)
        self.devs[dev_id] = {key: new[key] for key in DEV_KEYS}
        return dev_id

    def _next_id(self):
        # reuse a hole only when no partition can still point at it
        for index, dev in enumerate(self.devs):
            if dev is None:
                return index
        return len(self.devs)

    @staticmethod
    def _check_weight(weight, allow_zero):
        try:
            value = float(weight)
        except (TypeError, ValueError):
            raise RingBuilderError("invalid weight %r" % (weight,)) from None
        if math.isnan(value) or math.isinf(value) or value < 0 or (value == 0 and not allow_zero):
            raise RingBuilderError(
                "weight must be %s, not %r" % ("0 or more" if allow_zero else "above 0", weight))
        return value

    def _dev(self, dev_id):
        if not isinstance(dev_id, int) or not 0 <= dev_id < len(self.devs) \
                or self.devs[dev_id] is None or dev_id in self._remove_devs:
            raise RingBuilderError("no device with id %r" % (dev_id,))
        return self.devs[dev_id]

    def set_dev_weight(self, dev_id, weight):
        """Set a device's weight (0 drains it over the next rebalances)."""
        self._dev(dev_id)["weight"] = self._check_weight(weight, allow_zero=True)

    def set_dev_info(self, dev_id, **change):
        """Change ip, port, replication_ip, replication_port, device or meta."""
        dev = self._dev(dev_id)
        allowed = {"ip", "port", "replication_ip", "replication_port", "device", "meta"}
        unknown = set(change) - allowed
        if unknown:
            raise RingBuilderError("cannot change %s" % ", ".join(sorted(unknown)))
        new = dict(dev, **change)
        for key in ("port", "replication_port"):
            if not isinstance(new[key], int) or not 0 < new[key] < 65536:
                raise RingBuilderError("%s %r is not a TCP port" % (key, new[key]))
        for other in self.live_devs():
            if other["id"] != dev_id and (other["ip"], other["port"], other["device"]) == (
                    new["ip"], new["port"], new["device"]):
                raise RingBuilderError("device %s:%s/%s already exists as d%d" % (
                    new["ip"], new["port"], new["device"], other["id"]))
        dev.update(change)

    def remove_dev(self, dev_id):
        """Mark a device for removal; the next rebalance reassigns its partitions."""
        self._dev(dev_id)
        self._remove_devs.add(dev_id)
        if self._rows is None:
            self.devs[dev_id] = None
            self._remove_devs.discard(dev_id)

    def set_replicas(self, replicas):
        """Change the replica count; the next rebalance fills or drops rows."""
        self._check_replicas(replicas)
        self.replicas = float(replicas)

    def set_overload(self, overload):
        """Let a device take up to (1 + overload) times its weight-fair share for dispersion."""
        try:
            value = float(overload)
        except (TypeError, ValueError):
            raise RingBuilderError("invalid overload %r" % (overload,)) from None
        if math.isnan(value) or value < 0:
            raise RingBuilderError("overload must be 0 or more")
        self.overload = value

    def set_min_part_hours(self, hours):
        if not isinstance(hours, int) or not 0 <= hours <= MAX_MOVES_HOURS:
            raise RingBuilderError("min_part_hours must be an integer from 0 to %d" % MAX_MOVES_HOURS)
        self.min_part_hours = hours

    def search_devs(self, criteria):
        """Live devices matching every key of ``criteria`` (see devspec)."""
        return [d for d in self.live_devs() if matches(d, criteria)]

    # -- time bookkeeping --------------------------------------------------
    def _age_part_moves(self):
        """Add the hours passed since the last rebalance to each partition's counter."""
        now = int(time.time())
        hours = (now - self._last_part_moves_epoch) // 3600
        if hours > 0:
            table = bytes(min(v + hours, MAX_MOVES_HOURS) for v in range(256))
            self._last_part_moves = bytearray(self._last_part_moves.translate(table))
            self._last_part_moves_epoch += hours * 3600

    def pretend_min_part_hours_passed(self):
        """Let every partition move at the next rebalance."""
        self._last_part_moves = bytearray([MAX_MOVES_HOURS]) * self.partition_count

    def min_part_seconds_left(self):
        """Seconds until every partition may move again."""
        if self._rows is None:
            return 0
        elapsed = int(time.time()) - self._last_part_moves_epoch
        youngest = min(self._last_part_moves) if self._last_part_moves else MAX_MOVES_HOURS
        return max(0, (self.min_part_hours - youngest) * 3600 - elapsed)

    # -- rebalance -----------------------------------------------------------
    def _plan(self):
        tree = placement.Tree(self._weighted_devs())
        lengths = placement.row_lengths(self.partition_count, self.replicas)
        total = sum(lengths)
        shares = placement.plan_shares(tree, total / self.partition_count, self.overload)
        quota = placement.plan_quotas(tree, shares, self.partition_count, total)
        return tree, lengths, quota

    def rebalance(self, seed=None):
        """Assign partitions to devices (see placement.py for the theory).

        :param seed: makes the result reproducible.
        :returns: RebalanceResult.
        :raises RingBuilderError: fewer weighted devices than replicas.
        """
        weighted = self._weighted_devs()
        needed = int(math.ceil(self.replicas - placement.EPS))
        if len(weighted) < needed:
            raise RingBuilderError(
                "%g replicas need at least %d devices with weight; the builder has %d"
                % (self.replicas, needed, len(weighted)))
        rng = random.Random(seed)
        self.seed = seed
        self._age_part_moves()
        tree, lengths, quota = self._plan()
        parts = self.partition_count
        resized = False
        if self._rows is None or all(all(d < 0 for d in row) for row in self._rows if row):
            self._rows = placement.initial_layout(tree, quota, parts, lengths, rng)
            moved = parts
            self._last_part_moves = bytearray(parts)
        else:
            resized = [len(row) for row in self._rows] != lengths
            moved = self._incremental(tree, quota, lengths, rng)
        removed = tuple(sorted(self._remove_devs))
        for dev_id in removed:
            self.devs[dev_id] = None
        self._remove_devs.clear()
        while self.devs and self.devs[-1] is None:
            self.devs.pop()
        self.version += 1
        self.dispersion = measures.dispersion_of(tree, quota, parts, self._rows, self.devs)
        return RebalanceResult(moved, self.get_balance(), self.dispersion, removed, resized)

    def _resize_rows(self, lengths):
        rows = self._rows[: len(lengths)]
        for index, length in enumerate(lengths):
            if index == len(rows):
                rows.append(array.array("i", [placement.UNASSIGNED]) * length)
            elif len(rows[index]) < length:
                rows[index].extend([placement.UNASSIGNED] * (length - len(rows[index])))
            elif len(rows[index]) > length:
                del rows[index][length:]
        self._rows = rows

    def _incremental(self, tree, quota, lengths, rng):
        self._resize_rows(lengths)
        parts = self.partition_count
        table = bytes(1 if v >= self.min_part_hours else 0 for v in range(256))
        movable = bytearray(self._last_part_moves.translate(table))
        valid = bytearray(len(self.devs))
        for dev in self.live_devs():
            valid[dev["id"]] = 1
        assigner = placement.Assigner(tree, quota, parts, self._rows, self.devs, movable, rng)
        gathered = assigner.gather_forced(valid)
        assigner.gather_dispersion(gathered)
        assigner.place(gathered)
        assigner.move_for_balance()
        moved_parts = 0
        for part, flag in enumerate(assigner.moved):
            if flag:
                moved_parts += 1
                self._last_part_moves[part] = 0
        return moved_parts

    # -- measures ------------------------------------------------------------
    def get_balance(self):
        """Worst device balance in percent against weight-fair shares."""
        if self._rows is None:
            return 0.0
        total = sum(len(row) for row in self._rows)
        return measures.ring_balance(self.live_devs(), self.parts_by_dev(), total)

    def dev_balances(self):
        """``{dev_id: (parts, balance percent)}`` for every live device."""
        parts = self.parts_by_dev()
        live = self.live_devs()
        total_weight = sum(d["weight"] for d in live if d["weight"] > 0)
        total = sum(len(row) for row in self._rows) if self._rows else 0
        out = {}
        for dev in live:
            got = parts[dev["id"]] if dev["id"] < len(parts) else 0
            bal = measures.balance_of(got, dev["weight"], total_weight, total) if total_weight and total else 0.0
            out[dev["id"]] = (got, bal)
        return out

    def fair_shares(self):
        """``{dev_id: weight-fair partition count}`` (floats) for every live device."""
        live = self.live_devs()
        total_weight = sum(d["weight"] for d in live if d["weight"] > 0)
        total = sum(placement.row_lengths(self.partition_count, self.replicas))
        return {d["id"]: (total * d["weight"] / total_weight if total_weight else 0.0) for d in live}

    def dispersion_report(self):
        """Per tier node, how many partitions hold 0..R replicas there.

        :returns: ``{"dispersion": percent, "tiers": [{"tier": "r1z2",
            "level": "zone", "max": cap, "replicas": [n0, n1, ...],
            "over": partitions above max}, ...]}``
        """
        if self._rows is None:
            return {"dispersion": 0.0, "tiers": []}
        tree, _, quota = self._plan()
        percent, tallies = measures.dispersion_of(
            tree, quota, self.partition_count, self._rows, self.devs, detail=True)
        caps = placement.node_caps(quota, self.partition_count)
        tiers = []
        for node in range(1, len(tree)):
            counts = list(tallies.get(node, [0] * (len(self._rows) + 1)))
            counts[0] = self.partition_count - sum(counts[1:])
            key = tree.keys[node]
            name = "r%s" % key[0]
            if len(key) > 1:
                name += "z%s" % key[1]
            if len(key) > 2:
                name += "-%s" % key[2]
            if len(key) > 3:
                name += "/%s" % self.devs[key[3]]["device"]
            cap = max(caps[node], 1)
            tiers.append({
                "tier": name, "level": placement.LEVEL_NAMES[len(key)], "max": cap,
                "replicas": counts, "over": sum(counts[cap + 1:]),
            })
        return {"dispersion": percent, "tiers": tiers}

    def list_parts(self, dev_ids):
        """``[(partition, replicas on those devices)]``, most first, then by partition."""
        wanted = set(dev_ids)
        hits = {}
        for row in self._rows or ():
            for part, dev in enumerate(row):
                if dev in wanted:
                    hits[part] = hits.get(part, 0) + 1
        return sorted(hits.items(), key=lambda item: (-item[1], item[0]))

    def validate(self):
        """Check the assignment: every slot on a known device, no partition
        twice on one device, per-device counts consistent, row shapes right.

        :raises RingValidationError: describing the first problem found.
        """
        if self._rows is None:
            raise RingValidationError("the ring has not been rebalanced yet")
        lengths = placement.row_lengths(self.partition_count, self.replicas)
        if [len(row) for row in self._rows] != lengths:
            raise RingValidationError(
                "replica rows do not match %g replicas; rebalance first" % self.replicas)
        for row in self._rows:
            for part, dev in enumerate(row):
                if dev < 0 or dev >= len(self.devs) or self.devs[dev] is None:
                    raise RingValidationError("partition %d is not assigned to a known device" % part)
        full = min(lengths)
        nrows = len(self._rows)
        for part in range(self.partition_count):
            reps = [row[part] for row in self._rows] if part < full else [
                row[part] for row in self._rows if part < len(row)]
            if len(set(reps)) != len(reps):
                raise RingValidationError("partition %d has two replicas on one device" % part)
        counted = sum(self.parts_by_dev())
        if counted != sum(lengths) or nrows != len(lengths):
            raise RingValidationError("device partition counts do not add up")
        for dev_id in self._remove_devs:
            if self.parts_by_dev()[dev_id]:
                raise RingValidationError("d%d is being removed; rebalance first" % dev_id)

    # -- ring and files ------------------------------------------------------
    def ring_bytes(self):
        """The ring file contents for the current assignment.

        :raises RingBuilderError: not rebalanced, or rows out of date.
        """
        if self._rows is None:
            raise RingBuilderError("the builder has not been rebalanced yet")
        lengths = placement.row_lengths(self.partition_count, self.replicas)
        if [len(row) for row in self._rows] != lengths or self._remove_devs or any(
                len(row) and min(row) < 0 for row in self._rows):
            raise RingBuilderError("the builder has changes that need a rebalance first")
        replica_count = sum(lengths) / self.partition_count
        return ringfile.encode_ring(self.part_power, replica_count, self.devs, self._rows, self.version)

    def write_ring(self, path):
        """Atomically write the ring file to ``path``."""
        ringfile.write_ring_file(path, self.ring_bytes())

    def to_state(self):
        return {
            "part_power": self.part_power, "replicas": self.replicas,
            "min_part_hours": self.min_part_hours, "overload": self.overload,
            "version": self.version, "devs": self.devs,
            "remove_devs": sorted(self._remove_devs), "rows": self._rows,
            "last_part_moves": self._last_part_moves,
            "last_part_moves_epoch": self._last_part_moves_epoch,
            "dispersion": self.dispersion, "seed": self.seed,
        }

    @classmethod
    def from_state(cls, state):
        try:
            builder = cls(state["part_power"], state["replicas"], state["min_part_hours"])
            builder.overload = float(state.get("overload", 0.0))
            builder.version = int(state.get("version", 0))
            builder.devs = [None if d is None else {k: d[k] for k in DEV_KEYS} for d in state["devs"]]
            builder._remove_devs = set(state.get("remove_devs", ()))
            builder._rows = state.get("rows")
            builder._last_part_moves = bytearray(state["last_part_moves"])
            builder._last_part_moves_epoch = int(state.get("last_part_moves_epoch", 0))
            builder.dispersion = float(state.get("dispersion", 0.0))
            builder.seed = state.get("seed")
            for row in builder._rows or ():
                if len(row) > builder.partition_count or (
                        len(row) and max(row) >= len(builder.devs)):
                    raise ValueError("partition table does not fit the devices")
        except (KeyError, TypeError, ValueError, AttributeError, RingBuilderError) as err:
            raise RingError("corrupt builder file: %s" % err) from None
        return builder

    def save(self, path):
        """Atomically write the builder file."""
        atomic_write(path, ringfile.encode_builder(self.to_state()))

    @classmethod
    def load(cls, path):
        """Read a builder file.

        :raises RingError: missing, unreadable or corrupt.
        """
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            raise RingError("builder file %s not found" % path) from None
        except OSError as err:
            raise RingError("cannot read builder file %s: %s" % (path, err.strerror)) from None
        return cls.from_state(ringfile.decode_builder(data))
