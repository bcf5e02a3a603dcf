"""``objstore-get-nodes``: where a path lives, for operators.

Prints the partition, the hash, the primary and handoff nodes, a ``curl -I``
line for each node and the on-disk paths. What lives here: argument handling
and printing. What does not: the lookups (objstore.ring.ring) and hashing
(objstore.common.hashing).
"""

import argparse
import sys
import urllib.parse

from objstore.common.exceptions import ObjstoreError
from objstore.common.hashing import hash_path, secrets, suffix_of
from objstore.ring.ring import Ring

EXIT_SUCCESS, EXIT_ERROR = 0, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise ValueError(message)


def build_parser():
    parser = _Parser(prog="objstore-get-nodes",
                     description="Show where an account, container or object lives.")
    parser.add_argument("ring", help="the .ring.gz file")
    parser.add_argument("account")
    parser.add_argument("container", nargs="?")
    parser.add_argument("object", nargs="?")
    parser.add_argument("--devices", default="/srv/node",
                        help="root of the device directories on the nodes (default /srv/node)")
    parser.add_argument("--all", "-a", action="store_true", help="show every handoff")
    return parser


def _host(ip):
    return "[%s]" % ip if ":" in ip else ip


def datadir_for(container, obj):
    """The on-disk data directory kind for a path."""
    if obj is not None:
        return "objects"
    if container is not None:
        return "containers"
    return "accounts"


def describe(ring, account, container=None, obj=None, devices="/srv/node", all_handoffs=False,
             secrets_pair=None):
    """The report lines (pure apart from the ring lookup)."""
    part, primaries = ring.get_nodes(account, container, obj)
    name_hash = hash_path(account, container, obj, secrets_pair or ring.secrets_pair)
    handoffs = []
    limit = None if all_handoffs else max(1, int(round(ring.replica_count)))
    for node in ring.get_more_nodes(part):
        handoffs.append(node)
        if limit is not None and len(handoffs) >= limit:
            break
    path = "/" + "/".join(
        urllib.parse.quote(p) for p in (account, container, obj) if p is not None)
    datadir = datadir_for(container, obj)
    lines = ["Account  \t%s" % account]
    if container is not None:
        lines.append("Container\t%s" % container)
    if obj is not None:
        lines.append("Object   \t%s" % obj)
    lines += ["", "Partition\t%d" % part, "Hash     \t%s" % name_hash, ""]
    for node in primaries:
        lines.append("Server:Port Device\t%s:%d %s" % (_host(node["ip"]), node["port"], node["device"]))
    for node in handoffs:
        lines.append("Server:Port Device\t%s:%d %s\t [Handoff]" % (
            _host(node["ip"]), node["port"], node["device"]))
    lines.append("")
    for node in primaries + handoffs:
        lines.append('curl -g -I -XHEAD "http://%s:%d/%s/%d%s"%s' % (
            _host(node["ip"]), node["port"], node["device"], part, path,
            " # [Handoff]" if "handoff_index" in node else ""))
    lines += ["", "Use your own device location of servers:",
              'such as "export DEVICE=%s"' % devices]
    for node in primaries + handoffs:
        lines.append('ssh %s "ls -lah ${DEVICE:-%s*}/%s/%s/%d/%s/%s"%s' % (
            _host(node["ip"]), devices, node["device"], datadir, part, suffix_of(name_hash),
            name_hash, " # [Handoff]" if "handoff_index" in node else ""))
    lines += ["", "note: `/srv/node*` is used as default value of `devices`, the real value is "
              "set in the config file on each storage node." if devices == "/srv/node" else ""]
    return [line for line in lines]


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    try:
        opts = build_parser().parse_args(argv)
        if opts.object is not None and opts.container is None:
            raise ValueError("an object needs a container")
        secrets_pair = secrets()  # refuse early, with one line, when the secrets are missing
        ring = Ring(opts.ring, secrets_pair=secrets_pair)
        lines = describe(ring, opts.account, opts.container, opts.object, opts.devices, opts.all)
    except (ObjstoreError, ValueError) as err:
        print("error: %s" % " ".join(str(err).split()), file=sys.stderr)
        return EXIT_ERROR
    print("\n".join(lines).rstrip("\n"))
    return EXIT_SUCCESS


if __name__ == "__main__":
    sys.exit(main())
