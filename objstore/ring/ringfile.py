"""On-disk formats of the ring file and the builder file.

What lives here: encoding and decoding both files (msgpack through
``objstore.common.encoding`` with a format version; the ring file also
gzip-compressed), the compact partition tables (one ``array`` of device ids
per replica row, stored as raw little-endian bytes) and the atomic writes. What
does not: placement decisions (placement.py), lookups (ring.py), the builder's
operations (builder.py).

Ring file body (version 1)::

    {"part_power": int, "replica_count": float, "version": int,
     "devs": [dev dict or None, ...],            # index = device id
     "itemsize": 2 | 4, "rows": [bytes, ...],    # one per replica row
     "tier_totals": [regions, zones, hosts, devices]}  # among devices holding
                                                       # partitions (optional)

Builder file body (version 1)::

    {"part_power", "replicas", "min_part_hours", "overload", "version",
     "devs": [...], "remove_devs": [ids], "rows": [bytes] | None (int32 LE,
     -1 = unassigned), "last_part_moves": bytes, "last_part_moves_epoch": int,
     "dispersion": float, "seed": int | None}
"""

import array
import gzip
import io
import sys

from objstore.common import encoding
from objstore.common.exceptions import RingError
from objstore.common.fs import atomic_write

RING_VERSIONS = (1,)
BUILDER_VERSIONS = (1,)
RING_DEV_KEYS = (
    "id", "region", "zone", "ip", "port", "replication_ip", "replication_port",
    "device", "weight", "meta",
)


def rows_to_bytes(rows):
    """Little-endian bytes of each array row."""
    out = []
    for row in rows:
        if sys.byteorder != "little":
            row = array.array(row.typecode, row)
            row.byteswap()
        out.append(row.tobytes())
    return out


def rows_from_bytes(blobs, typecode):
    """Arrays of ``typecode`` from little-endian bytes.

    :raises RingError: a blob whose size is not a multiple of the item size.
    """
    rows = []
    for blob in blobs:
        row = array.array(typecode)
        if len(blob) % row.itemsize:
            raise RingError("corrupt partition table")
        row.frombytes(blob)
        if sys.byteorder != "little":
            row.byteswap()
        rows.append(row)
    return rows


def ring_typecode(ndevs):
    """'H' (2 bytes) while device ids fit, else 'I'."""
    return "H" if ndevs <= 0xFFFF else "I"


def _narrow(row, typecode):
    """``row`` as an array of ``typecode``, fast for the builder's int32 rows."""
    if getattr(row, "typecode", None) == typecode:
        return row
    if getattr(row, "typecode", None) == "i" and sys.byteorder == "little" and row.itemsize == 4:
        if len(row) and min(row) < 0:
            raise RingError("cannot write a ring with unassigned partitions")
        wide = array.array("H" if typecode == "H" else "I", row.tobytes())
        return wide[::2] if typecode == "H" else wide
    return array.array(typecode, row)


def encode_ring(part_power, replica_count, devs, rows, version=0):
    """The gzip-compressed bytes of a ring file.

    :param devs: list indexed by id of dicts (only RING_DEV_KEYS are kept) or None.
    :param rows: per replica row, an iterable of device ids (no unassigned slots).
    """
    typecode = ring_typecode(len(devs))
    ring_rows = [_narrow(row, typecode) for row in rows]
    present = set()
    for row in ring_rows:
        present.update(set(row))
    holders = [devs[i] for i in sorted(present)]
    body = {
        "part_power": part_power,
        "replica_count": float(replica_count),
        "tier_totals": [
            len({d["region"] for d in holders}),
            len({(d["region"], d["zone"]) for d in holders}),
            len({(d["region"], d["zone"], d["ip"]) for d in holders}),
            len(holders),
        ],
        "version": version,
        "devs": [None if dev is None else {k: dev[k] for k in RING_DEV_KEYS} for dev in devs],
        "itemsize": array.array(typecode).itemsize,
        "rows": rows_to_bytes(ring_rows),
    }
    raw = encoding.pack(body, version=1)
    buf = io.BytesIO()
    # mtime=0: the same ring gives the same bytes (and the same md5)
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=6, mtime=0) as handle:
        handle.write(raw)
    return buf.getvalue()


def decode_ring(data):
    """``(body, rows)`` from ring file bytes; rows are arrays of 'H' or 'I'.

    :raises RingError: not gzip, not ours, or inconsistent.
    """
    try:
        raw = gzip.decompress(data)
    except (OSError, EOFError, ValueError) as err:
        raise RingError("corrupt ring file: %s" % err) from None
    try:
        _, body = encoding.unpack(raw, RING_VERSIONS)
        typecode = {2: "H", 4: "I"}[body["itemsize"]]
        rows = rows_from_bytes(body["rows"], typecode)
        partitions = 1 << body["part_power"]
        devs = body["devs"]
    except (encoding.EncodingError, KeyError, TypeError, ValueError, AttributeError) as err:
        raise RingError("corrupt ring file: %s" % err) from None
    if any(len(row) > partitions for row in rows):
        raise RingError("corrupt ring file: a row longer than the partition count")
    for row in rows:
        if row and max(row) >= len(devs):
            raise RingError("corrupt ring file: unknown device id in partition table")
    return body, rows


def write_ring_file(path, data):
    """Atomically write ring bytes (temp + fsync + rename)."""
    atomic_write(path, data)


def encode_builder(state):
    """Builder file bytes from the builder's state dict (see module doc)."""
    body = dict(state)
    if body.get("rows") is not None:
        body["rows"] = rows_to_bytes(body["rows"])
    body["last_part_moves"] = bytes(body["last_part_moves"])
    return encoding.pack(body, version=1)


def decode_builder(data):
    """The builder's state dict from builder file bytes.

    :raises RingError: corrupt or of an unknown version.
    """
    try:
        _, body = encoding.unpack(data, BUILDER_VERSIONS)
        if not isinstance(body, dict):
            raise TypeError("body is not a map")
        for key in ("part_power", "replicas", "min_part_hours", "devs", "last_part_moves"):
            if key not in body:
                raise KeyError(key)
        if body.get("rows") is not None:
            body["rows"] = rows_from_bytes(body["rows"], "i")
        body["last_part_moves"] = bytearray(body["last_part_moves"])
    except (encoding.EncodingError, KeyError, TypeError, ValueError, AttributeError) as err:
        raise RingError("corrupt builder file: %s" % err) from None
    if len(body["last_part_moves"]) != 1 << body["part_power"]:
        raise RingError("corrupt builder file: partition bookkeeping of the wrong size")
    return body
