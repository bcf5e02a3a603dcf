"""This host's IP addresses. The one module that imports netifaces (which is
unmaintained upstream; keep every use behind this module so it can be swapped).
"""

import socket

import netifaces


def local_ips():
    """Every IPv4 and IPv6 address of this host's interfaces, as strings."""
    addrs = set()
    for iface in netifaces.interfaces():
        try:
            families = netifaces.ifaddresses(iface)
        except ValueError:
            continue
        for family in (netifaces.AF_INET, netifaces.AF_INET6):
            for entry in families.get(family, ()):
                addr = entry.get("addr", "")
                addrs.add(addr.split("%", 1)[0])  # strip IPv6 zone id
    addrs.discard("")
    return addrs


def is_local(ip, extra=()):
    """True when ``ip`` (or a name resolving to it) is one of ours."""
    ours = local_ips() | set(extra)
    if ip in ours:
        return True
    try:
        infos = socket.getaddrinfo(ip, None)
    except socket.gaierror:
        return False
    return any(info[4][0] in ours for info in infos)
