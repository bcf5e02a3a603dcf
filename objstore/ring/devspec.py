"""Operators' device strings: parsing and matching.

What lives here: the ``r1z1-127.0.0.1:6200R127.0.0.1:6300/sdb1_meta`` form
used to add devices, the search values (``d3``, ``r1z2``, ``127.0.0.1``,
``:6200``, ``/sdb1``, ``_meta`` and combinations), the ``set_info`` change
values, and matching a search against device dicts. Pure: no files, no
printing; the CLI and the builder call these.
"""

import re

from objstore.common.exceptions import RingBuilderError

_IP = r"\[[0-9A-Fa-f:.]+\]|[0-9]+(?:\.[0-9]+){3}|[A-Za-z0-9][A-Za-z0-9.\-]*"
_ADD_RE = re.compile(
    r"^(?:r(?P<region>\d+))?z(?P<zone>\d+)-(?P<ip>%s):(?P<port>\d+)"
    r"(?:R(?P<replication_ip>%s):(?P<replication_port>\d+))?"
    r"/(?P<device>[^_/\s]+)(?:_(?P<meta>.*))?$" % (_IP, _IP)
)
_SEARCH_RE = re.compile(
    r"^(?:d(?P<id>\d+))?(?:r(?P<region>\d+))?(?:z(?P<zone>\d+))?"
    r"(?:-?(?P<ip>\[[0-9A-Fa-f:.]+\]|[0-9]+(?:\.[0-9]+){3})|-(?P<host>[A-Za-z][A-Za-z0-9.\-]*))?"
    r"(?::(?P<port>\d+))?"
    r"(?:R(?P<replication_ip>%s))?(?::(?P<replication_port>\d+))?"
    r"(?:/(?P<device>[^_/\s]+))?(?:_(?P<meta>.*))?$" % _IP
)
_CHANGE_RE = re.compile(
    r"^(?P<ip>%s)?(?::(?P<port>\d+))?"
    r"(?:R(?P<replication_ip>%s))?(?::(?P<replication_port>\d+))?"
    r"(?:/(?P<device>[^_/\s]+))?(?:_(?P<meta>.*))?$" % (_IP, _IP)
)
_INT_KEYS = ("id", "region", "zone", "port", "replication_port")


def _strip_ip(value):
    if value and value.startswith("[") and value.endswith("]"):
        return value[1:-1]
    return value


def _typed(groups):
    out = {}
    for key, value in groups.items():
        if value is None:
            continue
        if key == "host":
            key = "ip"
        if key in _INT_KEYS:
            value = int(value)
        elif key in ("ip", "replication_ip"):
            value = _strip_ip(value)
        out[key] = value
    return out


def parse_add_value(text):
    """A device from ``[r<region>]z<zone>-<ip>:<port>[R<ip>:<port>]/<device>[_<meta>]``.

    :returns: dict with region (default 1), zone, ip, port, replication_ip,
        replication_port (default ip/port), device, meta (default '').
    :raises RingBuilderError: the string does not have that shape.
    """
    match = _ADD_RE.match(text.strip())
    if not match:
        raise RingBuilderError(
            "invalid device %r: expected like r1z1-127.0.0.1:6200/sdb1 "
            "(optionally R<repl-ip>:<repl-port> before the / and _<meta> after)" % text
        )
    dev = _typed(match.groupdict())
    dev.setdefault("region", 1)
    dev.setdefault("replication_ip", dev["ip"])
    dev.setdefault("replication_port", dev["port"])
    dev.setdefault("meta", "")
    return dev


def parse_search_value(text):
    """Search criteria from a swift-style search value (``d1``, ``r1z1-1.2.3.4:6200/sdb1``...).

    :returns: dict of the keys given (id, region, zone, ip, port,
        replication_ip, replication_port, device, meta).
    :raises RingBuilderError: malformed or empty.
    """
    match = _SEARCH_RE.match(text.strip())
    crit = _typed(match.groupdict()) if match else {}
    if not crit:
        raise RingBuilderError("invalid search value %r" % text)
    return crit


def parse_change_value(text):
    """A ``set_info`` change: ``[<ip>][:<port>][R<ip>[:<port>]][/<device>][_<meta>]``.

    :raises RingBuilderError: malformed or empty.
    """
    match = _CHANGE_RE.match(text.strip())
    change = _typed(match.groupdict()) if match else {}
    if not change:
        raise RingBuilderError("invalid change value %r" % text)
    return change


def matches(dev, criteria):
    """True when a device dict has every value in ``criteria``."""
    return all(dev.get(key) == value for key, value in criteria.items())


def format_dev(dev):
    """The add-value form of a device dict (what ``parse_add_value`` reads)."""

    def host(ip):
        return "[%s]" % ip if ":" in ip else ip

    text = "d%d r%dz%d-%s:%d" % (dev["id"], dev["region"], dev["zone"], host(dev["ip"]), dev["port"])
    if (dev["replication_ip"], dev["replication_port"]) != (dev["ip"], dev["port"]):
        text += "R%s:%d" % (host(dev["replication_ip"]), dev["replication_port"])
    text += "/" + dev["device"]
    if dev.get("meta"):
        text += "_" + dev["meta"]
    return text
