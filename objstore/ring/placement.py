"""Pure partition-assignment math for the ring builder.

What lives here: the failure-domain tree (region > zone > host > device), the
replica plan (how many replicas of each partition every tier node should
hold), integer quotas, the initial layout and the incremental pass. What
does not: balance and dispersion (measures.py); files, logging, clocks and
device bookkeeping (builder.py owns those and hands us plain lists).

Theory of operation
===================
Terms: ``P`` partitions, ``R`` replicas (maybe fractional: the last replica
row then covers only the first ``round(frac * P)`` partitions), a *slot* is one
(replica row, partition) cell, ``total = sum(len(row))`` slots in all.

1. **Tree.** The weighted devices form a tree root > region > zone > host (ip)
   > device. Each node knows its weight and ``ndev``, the number of devices
   under it (a partition can put at most one replica on each device, so a node
   can never hold more than ``ndev`` replicas of one partition).

2. **Replica plan (shares).** Top-down, each node's *share* (replicas of an
   average partition it should hold) is split among its children. Two splits
   are computed: *weighted* (proportional to weight, water-filled so no child
   exceeds its ``ndev``) and *dispersed* (each child within
   ``[floor(S/n), ceil(S/n)]``, weights deciding inside those bounds: the most
   even spread the parent's share allows). The plan moves from the weighted
   split towards the dispersed one, but a child may grow only up to
   ``(1 + overload)`` times its weight-fair share; the children that shrink
   give up exactly what the growing ones may take. With overload 0 the plan
   is the weighted one (unless ``ndev`` forces otherwise).

3. **Quotas.** The shares become integer slot counts by largest-remainder
   apportionment *top-down*, so a region whose share is exactly 1.0 gets
   exactly ``P`` slots (independent rounding per device could hand it ``P+1``
   and force some partition to hold two replicas there). A node's dispersion
   *cap* is ``ceil(quota / P)``: the most replicas of one partition it should
   hold.

4. **Initial layout** (nothing assigned yet). Every replica row is a
   *layer*: a list of cells (row, partition) with distinct partitions. A node
   lays its layers end to end (each in random order) and cuts the line into
   consecutive pieces, one per child, sized by the child's quota. A child of
   at most ``P`` slots then spans at most a layer boundary, and the layer it
   enters is ordered so that the columns (partitions) it already holds come
   last: it gets distinct partitions, so never two replicas of one partition
   (a rare leftover clash is repaired by a swap). A child above ``P`` gets
   its pieces as its own layers and recurses, holding at most
   ``ceil(quota / P)`` replicas of any partition. Inside a child of at most
   ``P`` slots, its devices (each repeated ``quota`` times) are dealt onto its
   cells taken every k-th (k = cells / smallest quota), which spreads each
   device evenly over them.
   Every device gets exactly its quota, every cap holds, partners
   of a device are spread at random over the other subtrees (random layer
   orders keep, say, zone 1 of region 1 from always pairing with zone 2 of
   region 2, which would later leave no partition able to move between
   them), and the work is O(total) list operations with a random draw per
   run of up to 64 cells: no per-slot decisions.

5. **Incremental pass** (a ring exists). Partitions may move when
   ``min_part_hours`` have passed since they last moved, and then only one
   replica of each per rebalance. First *gather* what must move: slots on
   removed devices and in new replica rows (always, whatever the hours), then
   one replica of each movable partition where some node exceeds its cap;
   these are *placed* by descending the tree from the root, at each level
   taking the child with the largest unmet quota among those under their
   cap for this partition and still holding a free device (constraints relax
   in order, quota first then cap, never one-replica-per-device). Then
   *balance moves*: each replica on a device above quota moves straight to a
   device below quota when a strict path (under every cap, positive need at
   every level) exists for its partition; replicas with no such path stay
   put, which avoids the churn of gathering blindly and placing back.
   Between strict passes a *relay* pass may move replicas to devices exactly
   at quota, from where the next strict pass can forward other partitions
   (the greedy can strand an over-full device whose partitions all already
   have a replica where the need is). Gathering is O(slots); placing is
   O(moved * fan-out).

6. **Measures** (measures.py). *Balance* is the worst relative difference
   between a device's partitions and its weight-fair share, in percent.
   *Dispersion* is the percentage of partitions in which some node holds
   more replicas than its cap.
"""

import array
import collections
import math

EPS = 1e-9
LEVEL_NAMES = ("root", "region", "zone", "host", "device")
UNASSIGNED = -1


class Tree:
    """The failure-domain tree of the weighted devices.

    Node 0 is the root; node ids grow in depth-first order, so a parent's id
    is always below its children's. ``dev_node[dev_id]`` is a device's leaf.
    """

    def __init__(self, devs):
        self.keys = [()]
        self.level = [0]
        self.parent = [-1]
        self.children = [[]]
        self.weight = [0.0]
        self.ndev = [0]
        self.dev_id = [-1]
        self.index = {(): 0}
        self.dev_node = {}
        ordered = sorted(devs, key=lambda d: (d["region"], d["zone"], d["ip"], d["id"]))
        for dev in ordered:
            key = ()
            node = 0
            path = [0]
            for part in (dev["region"], dev["zone"], dev["ip"], dev["id"]):
                key = key + (part,)
                child = self.index.get(key)
                if child is None:
                    child = len(self.keys)
                    self.index[key] = child
                    self.keys.append(key)
                    self.level.append(len(key))
                    self.parent.append(node)
                    self.children.append([])
                    self.weight.append(0.0)
                    self.ndev.append(0)
                    self.dev_id.append(-1)
                    self.children[node].append(child)
                node = child
                path.append(node)
            self.dev_id[node] = dev["id"]
            self.dev_node[dev["id"]] = node
            for item in path:
                self.weight[item] += float(dev["weight"])
                self.ndev[item] += 1

    def __len__(self):
        return len(self.keys)

    def ancestors(self, dev):
        """Node ids of a device dict's region, zone, host and leaf (-1 where absent)."""
        key = ()
        out = []
        for part in (dev["region"], dev["zone"], dev["ip"], dev["id"]):
            key = key + (part,)
            out.append(self.index.get(key, -1))
        return out

    def leaves(self, node):
        """Leaf node ids under ``node``, in tree order."""
        stack = [node]
        out = []
        while stack:
            item = stack.pop()
            kids = self.children[item]
            if not kids:
                out.append(item)
            else:
                stack.extend(reversed(kids))
        return out


def waterfill(total, weights, lows, highs):
    """Split ``total`` as ``clamp(lam * w, low, high)`` per item, summing to total.

    :returns: list of floats. When ``total`` is outside ``[sum(lows),
        sum(highs)]`` the bound itself is returned.
    """
    n = len(weights)
    if total >= sum(highs) - EPS:
        return list(highs)
    if total <= sum(lows) + EPS:
        return list(lows)
    top = max(highs[i] / weights[i] for i in range(n) if weights[i] > 0) * 2 + 1.0
    lo_l, hi_l = 0.0, top
    for _ in range(100):
        mid = (lo_l + hi_l) / 2
        got = sum(min(max(mid * weights[i], lows[i]), highs[i]) for i in range(n))
        if got < total:
            lo_l = mid
        else:
            hi_l = mid
    out = [min(max(hi_l * weights[i], lows[i]), highs[i]) for i in range(n)]
    # push the last rounding crumbs onto unclamped items
    diff = total - sum(out)
    free = [i for i in range(n) if lows[i] + EPS < out[i] < highs[i] - EPS]
    if free and abs(diff) > 0:
        for i in free:
            out[i] += diff / len(free)
    return out


def _split(share, kids, tree, replicas, overload):
    """Children's shares of a node holding ``share`` replicas (step 2 above)."""
    n = len(kids)
    weights = [tree.weight[c] for c in kids]
    caps = [min(float(tree.ndev[c]), share) for c in kids]
    weighted = waterfill(share, weights, [0.0] * n, caps)
    lo = math.floor(math.floor(share + EPS) / n)
    hi = math.ceil(math.ceil(share - EPS) / n)
    lows = [min(float(lo), cap) for cap in caps]
    highs = [min(float(hi), cap) for cap in caps]
    if sum(highs) < share - EPS:
        highs = caps
    dispersed = waterfill(share, weights, lows, highs)
    total_weight = tree.weight[0]
    ups, downs = [], []
    for i, c in enumerate(kids):
        fair = replicas * tree.weight[c] / total_weight
        limit = max(weighted[i], fair * (1.0 + overload))
        ups.append(max(0.0, min(dispersed[i], limit) - weighted[i]))
        downs.append(max(0.0, weighted[i] - dispersed[i]))
    total_up, total_down = sum(ups), sum(downs)
    if total_up <= EPS or total_down <= EPS:
        return weighted
    move = min(total_up, total_down)
    return [
        weighted[i] + ups[i] * move / total_up - downs[i] * move / total_down
        for i in range(n)
    ]


def plan_shares(tree, replicas, overload):
    """Replicas of an average partition that each node should hold.

    :returns: list of floats indexed by node id; the root holds ``replicas``.
    """
    shares = [0.0] * len(tree)
    shares[0] = min(float(replicas), float(tree.ndev[0]))
    for node in range(len(tree)):
        kids = tree.children[node]
        if kids and shares[node] > 0:
            for child, value in zip(kids, _split(shares[node], kids, tree, replicas, overload)):
                shares[child] = value
    return shares


def apportion(total, raw, caps):
    """Integers summing to ``total``, near ``raw``, each at most its cap
    (largest remainder first, ties to the lower index)."""
    n = len(raw)
    base = [min(int(math.floor(raw[i] + EPS)), caps[i]) for i in range(n)]
    left = total - sum(base)
    while left < 0:
        i = max(range(n), key=lambda j: (base[j] - raw[j], -j))
        base[i] -= 1
        left += 1
    while left > 0:
        order = sorted(
            (i for i in range(n) if base[i] < caps[i]),
            key=lambda j: (-(raw[j] - base[j]), j),
        )
        if not order:
            break
        for i in order[:left]:
            base[i] += 1
        left = total - sum(base)
    return base


def plan_quotas(tree, shares, partitions, total):
    """Integer slots per node: ``total`` at the root, split top-down.

    :returns: list of ints indexed by node id; a leaf's quota is its device's
        partition count target, never above ``partitions``.
    """
    quota = [0] * len(tree)
    quota[0] = total
    for node in range(len(tree)):
        kids = tree.children[node]
        if not kids:
            continue
        if shares[node] <= 0:
            raw = [0.0] * len(kids)
        else:
            raw = [quota[node] * shares[c] / shares[node] for c in kids]
        caps = [tree.ndev[c] * partitions for c in kids]
        for child, value in zip(kids, apportion(quota[node], raw, caps)):
            quota[child] = value
    return quota


def node_caps(quota, partitions):
    """Most replicas of one partition each node should hold: ceil(quota / P)."""
    return [-(-q // partitions) for q in quota]


def row_lengths(partitions, replicas):
    """Lengths of the replica rows for a (maybe fractional) replica count."""
    whole = int(math.floor(replicas + EPS))
    frac = replicas - whole
    lengths = [partitions] * whole
    extra = int(round(frac * partitions))
    if extra > 0:
        lengths.append(min(extra, partitions))
    return lengths


def initial_layout(tree, quota, partitions, lengths, rng, typecode="i"):
    """Replica rows for an empty ring (step 4 of the theory above).

    :param rng: a ``random.Random``; the layout is a function of its seed.
    :returns: list of ``array(typecode)`` rows with the given lengths.
    """
    flat = array.array(typecode, [UNASSIGNED]) * (len(lengths) * partitions)
    layers = [range(r * partitions, r * partitions + length) for r, length in enumerate(lengths)]
    _deal(tree, quota, partitions, 0, layers, flat, rng)
    return [flat[r * partitions:r * partitions + length] for r, length in enumerate(lengths)]


def _deal(tree, quota, partitions, node, layers, flat, rng):
    """Fill ``node``'s cells. ``layers`` are lists of positions (row * P +
    column, indexes into ``flat``), each list with distinct columns; a node of
    at most P slots gets cells in distinct columns, so its devices can go to
    them in any order."""
    kids = tree.children[node]
    if quota[node] <= partitions or not kids:
        cells = []
        for layer in layers:
            cells.extend(layer)
        count = len(cells)
        if not count:
            return
        # Devices in tree order, each quota times, dealt to the cells taken
        # every ``spread``-th (cells[i::spread] for each i: C-speed slices).
        # With ``spread`` = cells / smallest quota, every device gets at least
        # one whole stride class, so its cells spread over all of the
        # (randomly ordered) cells, and neighbouring cells get different
        # devices, with no random draw per slot (a full shuffle here was most
        # of the rebalance time).
        leaves = tree.leaves(node)
        smallest = min((quota[leaf] for leaf in leaves if quota[leaf] > 0), default=1)
        spread = max(1, count // smallest) | 1
        first = rng.randrange(spread)
        order = []
        for i in range(spread):
            order.extend(cells[(first + i) % spread::spread])
        at = 0
        for leaf in leaves:
            dev, many = tree.dev_id[leaf], quota[leaf]
            for pos in order[at:at + many]:
                flat[pos] = dev
            at += many
        return
    bounds = []  # (start, end) of each child along the concatenated layers
    at = 0
    for kid in kids:
        bounds.append((at, at + quota[kid]))
        at += quota[kid]
    ordered = []
    offset = 0
    check = set()  # children that may still meet a column twice
    for layer in layers:
        layer = list(layer)
        if not ordered:
            layer = _chunk_shuffle(layer, rng)
        else:
            # the child crossing into this layer must not meet a column it
            # already holds: put those columns last, after everything else
            crossing = [b for b in bounds if b[0] < offset < b[1]]
            held = set()
            if crossing and quota[kids[bounds.index(crossing[0])]] <= partitions:
                start = crossing[0][0]
                flat_at = 0
                for prev in ordered:
                    lo, hi = max(start, flat_at), min(offset, flat_at + len(prev))
                    held.update(pos % partitions for pos in prev[lo - flat_at:hi - flat_at])
                    flat_at += len(prev)
            if held:
                free = [pos for pos in layer if pos % partitions not in held]
                late = [pos for pos in layer if pos % partitions in held]
                if len(free) < crossing[0][1] - offset:
                    check.add(bounds.index(crossing[0]))
                layer = _chunk_shuffle(free, rng) + _chunk_shuffle(late, rng)
            else:
                layer = _chunk_shuffle(layer, rng)
            if crossing and any(
                    b[0] < offset + len(layer) < b[1] and b[0] < offset for b in crossing):
                check.add(bounds.index(crossing[0]))  # spans three layers
        ordered.append(layer)
        offset += len(layer)
    layer_starts = []
    at = 0
    for layer in ordered:
        layer_starts.append(at)
        at += len(layer)
    pieces_of = []
    for start, end in bounds:
        pieces = []
        for index, layer in enumerate(ordered):
            lo = max(start, layer_starts[index]) - layer_starts[index]
            hi = min(end, layer_starts[index] + len(layer)) - layer_starts[index]
            if lo < hi:
                pieces.append((index, lo, hi))
        pieces_of.append(pieces)
    for number, (kid, pieces) in enumerate(zip(kids, pieces_of)):
        if number in check and len(pieces) > 1 and quota[kid] <= partitions:
            _repair(kid, pieces, ordered, pieces_of, kids, quota, partitions, rng)
    for kid, pieces in zip(kids, pieces_of):
        _deal(tree, quota, partitions, kid,
              [ordered[index][lo:hi] for index, lo, hi in pieces], flat, rng)


CHUNK_RUNS = 8192  # a layer is cut into at least this many runs (see _chunk_shuffle)
MAX_CHUNK = 64


def _chunk_shuffle(cells, rng):
    """``cells`` in random order of runs of consecutive cells.

    Only which columns go to which child matters at this level (devices are
    spread cell by cell below), so runs of a few columns are random enough,
    at a fraction of the random draws of a full shuffle. Runs stay short
    enough that a layer has at least CHUNK_RUNS of them (single cells in
    small rings, whose later moves need the variety most).
    """
    chunk = max(1, min(MAX_CHUNK, len(cells) // CHUNK_RUNS))
    runs = [cells[i:i + chunk] for i in range(0, len(cells), chunk)]
    rng.shuffle(runs)
    out = []
    for run in runs:
        out.extend(run)
    return out


def _repair(kid, pieces, ordered, pieces_of, kids, quota, partitions, rng):
    """Swap cells so that a small child crossing layers holds distinct columns
    (rare: only when the layer it crosses into is too short to avoid them)."""

    def columns_of(owner):
        return {ordered[pi][x] % partitions
                for pi, plo, phi in pieces_of[owner] for x in range(plo, phi)}

    def owner_of(index, at):
        return next(i for i, ps in enumerate(pieces_of)
                    if any(pi == index and plo <= at < phi for pi, plo, phi in ps))

    first = {}
    for index, lo, hi in pieces:
        for at in range(lo, hi):
            col = ordered[index][at] % partitions
            if col not in first:
                first[col] = (index, at)
                continue
            held = set(first)
            for cell_index, cell_at in ((index, at), first[col]):
                layer = ordered[cell_index]
                mine = next((plo, phi) for pi, plo, phi in pieces if pi == cell_index)
                done = False
                for _ in range(400):
                    other = rng.randrange(len(layer))
                    if mine[0] <= other < mine[1]:
                        continue
                    ocol = layer[other] % partitions
                    if ocol in held:
                        continue
                    owner = owner_of(cell_index, other)
                    if quota[kids[owner]] <= partitions and col in columns_of(owner):
                        continue
                    layer[cell_at], layer[other] = layer[other], layer[cell_at]
                    if (cell_index, cell_at) == first[col]:
                        first[col] = (index, at)
                    first[ocol] = (cell_index, cell_at)
                    done = True
                    break
                if done:
                    break


def count_parts(rows, size):
    """Slots per device id (list of length ``size``); unassigned slots ignored."""
    counts = [0] * size
    for row in rows:
        for dev, n in collections.Counter(row).items():
            if 0 <= dev < size:
                counts[dev] += n
    return counts


class Assigner:
    """One incremental rebalance pass over existing rows (step 5 above).

    :param tree: Tree of the weighted, not-removed devices.
    :param quota: per-node quotas (plan_quotas).
    :param rows: replica rows (mutated in place); ``UNASSIGNED`` marks empty slots.
    :param devs: list indexed by device id of dicts or None (all known devices,
        weighted or not), used to find ancestors of out-of-tree devices.
    :param movable: bytearray, 1 where the partition may move this pass.
    :param rng: random.Random for the gather order.
    """

    def __init__(self, tree, quota, partitions, rows, devs, movable, rng):
        self.tree = tree
        self.quota = quota
        self.caps = node_caps(quota, partitions)
        self.partitions = partitions
        self.rows = rows
        self.rng = rng
        self.movable = movable
        size = len(devs)
        self.dev_quota = [0] * size
        self.anc = [None] * size
        for dev in devs:
            if dev is None:
                continue
            self.anc[dev["id"]] = tree.ancestors(dev)
            leaf = tree.dev_node.get(dev["id"])
            if leaf is not None:
                self.dev_quota[dev["id"]] = quota[leaf]
        self.parts = count_parts(rows, size)
        self.count = [0] * len(tree)
        for dev_id, n in enumerate(self.parts):
            leaf = tree.dev_node.get(dev_id)
            if leaf is None or not n:
                continue
            node = leaf
            while node >= 0:
                self.count[node] += n
                node = tree.parent[node]
        self.changed = bytearray(partitions)  # gathered this rebalance
        self.moved = bytearray(partitions)  # some replica really changed device

    # -- gathering -----------------------------------------------------------
    def _take(self, row_index, part, gathered):
        dev = self.rows[row_index][part]
        self.rows[row_index][part] = UNASSIGNED
        gathered.append((part, row_index, dev))
        if dev >= 0:
            self.parts[dev] -= 1
            leaf = self.tree.dev_node.get(dev)
            if leaf is not None:
                node = leaf
                while node >= 0:
                    self.count[node] -= 1
                    node = self.tree.parent[node]

    def gather_forced(self, valid):
        """Slots unassigned or on devices not in ``valid`` (a bytearray by id)."""
        gathered = []
        present = set()
        for row in self.rows:
            present.update(set(row))
        targets = [d for d in present if d < 0 or d >= len(valid) or not valid[d]]
        for r, row in enumerate(self.rows):
            for target in targets:  # array.index scans in C
                at = 0
                while True:
                    try:
                        part = row.index(target, at)
                    except ValueError:
                        break
                    self._take(r, part, gathered)
                    self.changed[part] = 1
                    at = part + 1
        return gathered

    def _check_levels(self, nreps):
        """Tree levels where some node's cap is below ``nreps`` (others never overflow)."""
        levels = []
        for level in (1, 2, 3):
            if any(
                self.caps[n] < nreps and self.tree.level[n] == level
                for n in range(len(self.tree))
            ):
                levels.append(level)
        return levels

    def gather_dispersion(self, gathered):
        """One replica of each movable partition where a node is over its cap."""
        rows = self.rows
        caps = self.caps
        levels = self._check_levels(len(rows))
        if not levels:
            return
        size = len(self.anc)
        maps = {}
        for level in levels:  # node id per device id; a unique negative when absent
            mapping = [-2 - d for d in range(size)]
            for dev_id, nodes in enumerate(self.anc):
                if nodes and nodes[level - 1] >= 0:
                    mapping[dev_id] = nodes[level - 1]
            maps[level] = mapping
        movable, changed = self.movable, self.changed
        full = min(len(row) for row in rows)
        nrows = len(rows)
        todo = None
        for level in levels:
            get = maps[level].__getitem__
            if todo is None:
                # unassigned slots (-1) map to the last device: harmless, their
                # partitions were gathered already and are skipped below
                cols = [list(map(get, row[:full])) for row in rows]
                dup = [p for p, t in enumerate(zip(*cols)) if len(set(t)) < nrows]
                dup.extend(range(full, self.partitions))
            else:
                dup = todo
            todo = []
            for part in dup:
                if not movable[part] or changed[part]:
                    continue
                reps = [(r, row[part]) for r, row in enumerate(rows)
                        if part < len(row) and row[part] >= 0]
                held = {}
                for _, dev in reps:
                    node = get(dev)
                    held[node] = held.get(node, 0) + 1
                bad = {n for n, c in held.items() if n >= 0 and c > caps[n]}
                if bad:
                    pick = max((item for item in reps if get(item[1]) in bad),
                               key=lambda item: (self._excess(item[1]), -item[0]))
                    self._take(pick[0], part, gathered)
                    changed[part] = 1
                elif len(held) < len(reps):
                    todo.append(part)
            if not todo:
                break

    def _excess(self, dev):
        return self.parts[dev] - self.dev_quota[dev] if dev >= 0 else 0

    def move_for_balance(self, rounds=3):
        """Balance moves: strict passes, with relay passes between them.

        A strict pass can strand an over-full device whose every movable
        partition already has a replica where the need is (the partitions
        that could go there were used by other devices). A relay pass then
        moves such replicas to devices exactly at quota, which a following
        strict pass can relieve with other partitions.

        :returns: slots moved.
        """
        moved = self._balance_pass(slack=0)
        for _ in range(rounds - 1):
            budget = self._need_total()
            if not budget:
                break
            relayed = self._balance_pass(slack=1, budget=budget)
            if not relayed:
                break
            moved += relayed + self._balance_pass(slack=0)
        return moved

    def _need_total(self):
        count, quota = self.count, self.quota
        return sum(max(0, quota[leaf] - count[leaf]) for leaf in self.tree.dev_node.values())

    def _balance_pass(self, slack=0, budget=None):
        """Move replicas off devices above quota straight to a device whose
        unmet quota is above ``-slack``, where the partition's caps allow; at
        most one replica per movable partition. Returns how many slots moved.

        Gathering blindly and placing afterwards fails when the only devices
        in need sit in a node the gathered partitions already fill (a growing
        region with cap 1): they would land back where they came from. Here a
        replica moves only when a strict destination exists for it.
        """
        tree = self.tree
        children, caps, ndev = tree.children, self.caps, tree.ndev
        count, quota, parent, dev_node = self.count, self.quota, tree.parent, tree.dev_node
        rows, anc = self.rows, self.anc
        over = {d: self.parts[d] - self.dev_quota[d]
                for d in range(len(self.parts)) if self.parts[d] > self.dev_quota[d]}
        need_total = self._need_total() if budget is None else budget
        if not over or not need_total:
            return 0
        nparts = self.partitions
        start = self.rng.randrange(nparts)
        order = list(range(len(rows)))
        self.rng.shuffle(order)
        movable, changed = self.movable, self.changed
        random = self.rng.random
        moved = 0
        for r in order:
            row = rows[r]
            length = len(row)
            if not length:
                continue
            for span in ((start % length, length), (0, start % length)):
                for part in range(*span):
                    dev = row[part]
                    if dev not in over or not movable[part] or changed[part]:
                        continue
                    held, busy = {}, {}
                    for other in rows:
                        if other is not row and part < len(other):
                            odev = other[part]
                            if odev >= 0 and anc[odev]:
                                inside = anc[odev][3] >= 0
                                for node in anc[odev]:
                                    if node >= 0:
                                        held[node] = held.get(node, 0) + 1
                                        if inside:
                                            busy[node] = busy.get(node, 0) + 1
                    source = dev_node.get(dev, -1)
                    node = source
                    while node >= 0:  # lift the replica out while we look
                        count[node] -= 1
                        node = parent[node]
                    node = 0
                    while children[node]:
                        best, best_need = -1, -slack
                        for child in children[node]:
                            need = quota[child] - count[child]
                            if need > -slack and held.get(child, 0) < caps[child] \
                                    and busy.get(child, 0) < ndev[child]:
                                if slack:  # relays: spread ties at random
                                    need += random() * 0.5
                                if need > best_need:
                                    best, best_need = child, need
                        if best < 0:
                            break
                        node = best
                    target = node if node > 0 and not children[node] else source
                    if target == source or target < 0:
                        node = source
                        while node >= 0:
                            count[node] += 1
                            node = parent[node]
                        continue
                    new = tree.dev_id[target]
                    node = target
                    while node >= 0:
                        count[node] += 1
                        node = parent[node]
                    row[part] = new
                    self.parts[dev] -= 1
                    self.parts[new] += 1
                    changed[part] = 1
                    self.moved[part] = 1
                    moved += 1
                    need_total -= 1
                    left = over[dev] - 1
                    if left:
                        over[dev] = left
                    else:
                        del over[dev]
                    if not over or not need_total:
                        return moved
        return moved

    # -- placing -------------------------------------------------------------
    def place(self, gathered):
        """Assign every gathered slot; returns how many changed device."""
        tree = self.tree
        children, caps, ndev = tree.children, self.caps, tree.ndev
        count, quota, parent = self.count, self.quota, tree.parent
        rows, anc = self.rows, self.anc
        moved = 0
        self.rng.shuffle(gathered)
        for part, r, old in gathered:
            held = {}  # replicas of this partition under each node (caps)
            busy = {}  # the same, counting only devices in the tree (free devices)
            for row in rows:
                if part < len(row):
                    dev = row[part]
                    if dev >= 0 and anc[dev]:
                        inside = anc[dev][3] >= 0
                        for node in anc[dev]:
                            if node >= 0:
                                held[node] = held.get(node, 0) + 1
                                if inside:
                                    busy[node] = busy.get(node, 0) + 1
            node = 0
            while children[node]:
                best = None
                best_key = None
                for child in children[node]:
                    if busy.get(child, 0) >= ndev[child]:
                        continue
                    have = held.get(child, 0)
                    need = quota[child] - count[child]
                    key = (have < caps[child], need > 0, -have if have >= caps[child] else 0, need)
                    if best_key is None or key > best_key:
                        best, best_key = child, key
                node = best
            dev = tree.dev_id[node]
            rows[r][part] = dev
            self.parts[dev] += 1
            while node >= 0:
                count[node] += 1
                node = parent[node]
            if dev != old:
                moved += 1
                self.moved[part] = 1
        return moved
