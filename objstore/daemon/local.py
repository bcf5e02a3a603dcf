"""Which ring devices are this node's: a device is local when its IP is one of
this host's addresses (or the configured ``bind_ip``) and its port is the
node's server port. On a one-machine cluster every node shares 127.0.0.1, so
the port is what tells the nodes apart.

Pure matching over ring device dicts; this host's addresses come from
``objstore.common.ipaddrs`` (the one module importing netifaces) unless given.
"""

from objstore.common import ipaddrs
from objstore.common.exceptions import ConfigError

ANY_ADDRESSES = ("", "0.0.0.0", "::")


def my_addresses(bind_ip=""):
    """The addresses that count as this node: ``bind_ip`` alone when it is a
    specific address, else every address of this host."""
    if bind_ip not in ANY_ADDRESSES:
        return {bind_ip}
    return ipaddrs.local_ips() | {"127.0.0.1", "::1", "localhost"}


def is_local_device(dev, addresses, port):
    """True when ring device ``dev`` lives on this node.

    :param dev: a ring device dict (``ip``, ``port``, optionally
        ``replication_ip``/``replication_port``).
    :param addresses: this node's addresses (a set of strings).
    :param port: this node's server port; 0 matches any port.
    """
    if not dev:
        return False
    pairs = {(dev.get("ip"), dev.get("port"))}
    if dev.get("replication_ip"):
        pairs.add((dev.get("replication_ip"), dev.get("replication_port") or dev.get("port")))
    return any(ip in addresses and (not port or int(prt) == int(port)) for ip, prt in pairs)


def local_devices(devs, bind_ip="", bind_port=0, only=None, addresses=None):
    """The ring devices of this node, in ring order.

    :param devs: the ring's device list (None entries for removed devices).
    :param only: device names to keep (``--devices``), or None for all.
    :param addresses: this node's addresses; :func:`my_addresses` when None.
    :returns: a list of device dicts.
    :raises ConfigError: two matching devices share a name (several nodes of
        a one-machine cluster and no ``bind_port`` to tell them apart):
        guessing would make a daemon treat another node's partitions as its
        own, and remove "handoffs" that are really primaries.
    """
    if addresses is None:
        addresses = my_addresses(bind_ip)
    wanted = set(only) if only else None
    result = []
    for dev in devs:
        if not is_local_device(dev, addresses, bind_port):
            continue
        if wanted is not None and dev.get("device") not in wanted:
            continue
        result.append(dev)
    names = [dev.get("device") for dev in result]
    clashes = sorted({name for name in names if names.count(name) > 1})
    if clashes:
        raise ConfigError("ring devices %s match this host more than once; set bind_port (and bind_ip) "
                          "to this node's server port" % ", ".join(clashes))
    return result
