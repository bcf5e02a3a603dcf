"""Balance and dispersion of an assignment: how far devices are from their
weight-fair share, and how many partitions crowd a tier node beyond its cap
(see the theory in placement.py). Pure functions of plain lists; no I/O.
"""

from objstore.ring.placement import node_caps

MAX_BALANCE = 999.99


def balance_of(parts, weight, total_weight, total_slots):
    """A device's balance in percent against its weight-fair share."""
    if weight <= 0:
        return MAX_BALANCE if parts else 0.0
    wanted = total_slots * weight / total_weight
    return 100.0 * (parts - wanted) / wanted


def ring_balance(devs, parts, total_slots):
    """Worst absolute device balance (percent); ``devs`` dicts, ``parts`` by id."""
    live = [d for d in devs if d is not None]
    total_weight = sum(d["weight"] for d in live if d["weight"] > 0)
    if not total_weight:
        return 0.0
    worst = 0.0
    for dev in live:
        got = parts[dev["id"]] if dev["id"] < len(parts) else 0
        worst = max(worst, abs(balance_of(got, dev["weight"], total_weight, total_slots)))
    return min(worst, MAX_BALANCE)


def dispersion_of(tree, quota, partitions, rows, devs, detail=False):
    """Percentage of partitions where some node holds more replicas than its cap.

    :param detail: also return per-node tallies.
    :returns: ``percent`` or, with ``detail``, ``(percent, {node: [n0, n1, ...]})``
        where ``nK`` counts partitions holding K replicas in that node.
    """
    caps = [max(cap, 1) for cap in node_caps(quota, partitions)]
    anc = {}
    for dev in devs:
        if dev is not None:
            anc[dev["id"]] = tree.ancestors(dev)
    if detail:
        return _dispersion_detail(caps, anc, partitions, rows)
    size = max([len(devs)] + [max(row) + 1 for row in rows if len(row)])
    # per level, a node id for each device id (a unique negative when absent)
    maps = []
    for level in range(4):
        mapping = [-2 - d for d in range(size)]
        for dev_id, nodes in anc.items():
            if nodes[level] >= 0:
                mapping[dev_id] = nodes[level]
        maps.append(mapping)
    full = min(len(row) for row in rows) if rows else 0
    nrows = len(rows)
    bad = 0
    todo = None  # partitions (below ``full``) with a duplicate at the last level
    for level in range(4):
        get = maps[level].__getitem__
        if todo is None:
            cols = [list(map(get, row[:full])) for row in rows]
            dup = [p for p, t in enumerate(zip(*cols)) if len(set(t)) < nrows]
        else:
            dup = [p for p in todo if len({get(row[p]) for row in rows}) < nrows]
        todo = []
        for part in dup:
            held = {}
            for row in rows:
                node = get(row[part])
                held[node] = held.get(node, 0) + 1
            if any(node >= 0 and n > caps[node] for node, n in held.items()):
                bad += 1
            else:
                todo.append(part)
        if not todo:
            break
    longest = max(len(row) for row in rows) if rows else 0
    for part in range(full, longest):  # the partial row's partitions
        reps = [row[part] for row in rows if part < len(row)]
        for level in range(4):
            ids = [maps[level][d] for d in reps]
            if len(set(ids)) == len(ids):
                break
            held = {}
            for node in ids:
                held[node] = held.get(node, 0) + 1
            if any(node >= 0 and n > caps[node] for node, n in held.items()):
                bad += 1
                break
    return 100.0 * bad / partitions if partitions else 0.0


def _dispersion_detail(caps, anc, partitions, rows):
    nrows = len(rows)
    bad = 0
    tallies = {}
    for part in range(partitions):
        held = {}
        for row in rows:
            if part < len(row):
                for node in anc.get(row[part], ()):
                    if node >= 0:
                        held[node] = held.get(node, 0) + 1
        over = False
        for node, n in held.items():
            tallies.setdefault(node, [0] * (nrows + 1))[n] += 1
            if n > caps[node]:
                over = True
        bad += over
    percent = 100.0 * bad / partitions if partitions else 0.0
    return percent, tallies
