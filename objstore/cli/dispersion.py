"""``objstore-dispersion-report``: how many replicas of a sample of containers
and objects are where the rings say they should be.

What lives here: choosing sample names that land on distinct partitions
(:func:`sample_names`, pure), placing the sample once through the proxy
(:func:`populate`), checking every replica directly on the storage nodes
(:func:`report`) and the CLI. What does not: any repair (the replicators do
that); the report only looks.

As ``swift-dispersion-report``: a sample covering ``dispersion_coverage``
percent of the partitions is placed once, containers ``dispersion_<n>`` in
the account of the configured user, objects ``dispersion_<n>`` in the
container ``dispersion_objects``. The report HEADs each primary of each
sample item (bypassing the proxy) and says what fraction of the expected
copies exist, and how many items have all, some or none of their replicas.

The config file (``dispersion.conf``)::

    [dispersion]
    auth_url = http://127.0.0.1:8080/auth/v1.0
    auth_user = test:tester
    auth_key = testing
    ring_dir = /etc/objstore
    dispersion_coverage = 1.0
"""

import argparse
import dataclasses
import json
import os
import sys

from objstore.client.connection import Connection
from objstore.common.config import load_section, option
from objstore.common.exceptions import ObjstoreError
from objstore.ring import Ring
from objstore.web.backend import ConnectionPool, quote_path

OBJECTS_CONTAINER = "dispersion_objects"
MARKER_META = "X-Container-Meta-Dispersion-Count"


@dataclasses.dataclass(frozen=True)
class DispersionConfig:
    auth_url: str = option("http://127.0.0.1:8080/auth/v1.0", "tempauth URL of the proxy")
    auth_user: str = option("test:tester", "the user whose account holds the sample")
    auth_key: str = option("testing", "that user's key")
    ring_dir: str = option("/etc/objstore", "where account/container/object.ring.gz live")
    dispersion_coverage: float = option(1.0, "percent of the partitions the sample covers")
    container_report: bool = option(True, "check the container sample")
    object_report: bool = option(True, "check the object sample")
    node_timeout: float = option(10.0, "seconds to wait on a storage node")


def sample_names(get_part, partition_count, coverage, limit_tries=None):
    """Names ``dispersion_<n>`` whose partitions are distinct, covering
    ``coverage`` percent of ``partition_count``.

    :param get_part: ``callable(name) -> partition``.
    :returns: the list of names (in the order found).
    """
    wanted = max(1, int(partition_count * coverage / 100.0 + 0.999999))
    wanted = min(wanted, partition_count)
    names, seen = [], set()
    tries = limit_tries or partition_count * 64
    number = 0
    while len(names) < wanted and number < tries:
        name = "dispersion_%d" % number
        part = get_part(name)
        if part not in seen:
            seen.add(part)
            names.append(name)
        number += 1
    return names


def _rings(ring_dir):
    return {kind: Ring(os.path.join(ring_dir, "%s.ring.gz" % kind)) for kind in ("container", "object")}


def populate(conn, rings, coverage):
    """Place the sample once (a container's metadata records its size).

    :returns: ``(container names, object names)``.
    """
    account = conn.path_of().rsplit("/", 1)[1]
    containers = sample_names(lambda n: rings["container"].get_part(account, n),
                              rings["container"].partition_count, coverage)
    objects = sample_names(lambda n: rings["object"].get_part(account, OBJECTS_CONTAINER, n),
                           rings["object"].partition_count, coverage)
    for name in containers:
        conn.put_container(name)
    conn.put_container(OBJECTS_CONTAINER)
    for name in objects:
        conn.put_object(OBJECTS_CONTAINER, name, name.encode("utf-8"), content_type="text/plain")
    conn.post_container(OBJECTS_CONTAINER, {MARKER_META: "%d %d" % (len(containers), len(objects))})
    return containers, objects


def sample(conn, rings, coverage):
    """The sample's names, placing it first when it is not there yet."""
    try:
        headers = conn.head_container(OBJECTS_CONTAINER)
    except ObjstoreError:
        headers = {}
    if MARKER_META.lower() not in headers:
        return populate(conn, rings, coverage)
    account = conn.path_of().rsplit("/", 1)[1]
    containers = sample_names(lambda n: rings["container"].get_part(account, n),
                              rings["container"].partition_count, coverage)
    objects = sample_names(lambda n: rings["object"].get_part(account, OBJECTS_CONTAINER, n),
                           rings["object"].partition_count, coverage)
    return containers, objects


def check(pool, ring, account, container=None, obj=None):
    """How many of an item's primaries hold it: ``(found, expected)``."""
    part, nodes = ring.get_nodes(account, container, obj)
    found = 0
    for node in nodes:
        try:
            resp = pool.request(node["ip"], node["port"], "HEAD",
                                quote_path(node["device"], str(part), account, container, obj), {})
        except ObjstoreError:
            continue
        if 200 <= resp.status < 300:
            found += 1
    return found, len(nodes)


def summarize(counts):
    """Totals of ``[(found, expected)]``: copies found/expected, percent, and
    items with all, some missing, and none of their replicas."""
    found = sum(f for f, _e in counts)
    expected = sum(e for _f, e in counts)
    return {
        "items": len(counts),
        "copies_found": found,
        "copies_expected": expected,
        "pct_found": round(100.0 * found / expected, 2) if expected else 100.0,
        "all_copies": sum(1 for f, e in counts if f == e),
        "missing_some": sum(1 for f, e in counts if 0 < f < e),
        "missing_all": sum(1 for f, _e in counts if f == 0),
    }


def report(config, conn=None, pool=None):
    """Place the sample if needed, then check it. :returns: the report dict."""
    conn = conn or Connection(config.auth_url, config.auth_user, config.auth_key)
    pool = pool or ConnectionPool(0.5, config.node_timeout)
    rings = _rings(config.ring_dir)
    containers, objects = sample(conn, rings, config.dispersion_coverage)
    account = conn.path_of().rsplit("/", 1)[1]
    result = {}
    if config.container_report:
        result["container"] = summarize([check(pool, rings["container"], account, name) for name in containers])
    if config.object_report:
        result["object"] = summarize([check(pool, rings["object"], account, OBJECTS_CONTAINER, name)
                                      for name in objects])
    return result


def format_report(result):
    lines = []
    for kind in ("container", "object"):
        if kind not in result:
            continue
        r = result[kind]
        lines.append("Queried %d %ss for dispersion reporting" % (r["items"], kind))
        lines.append("%.2f%% of %s copies found (%d of %d)" % (r["pct_found"], kind, r["copies_found"],
                                                               r["copies_expected"]))
        lines.append("%d %ss have all copies, %d are missing some, %d are missing all"
                     % (r["all_copies"], kind, r["missing_some"], r["missing_all"]))
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="objstore-dispersion-report", description=__doc__.splitlines()[0])
    parser.add_argument("conf", nargs="?", default="/etc/objstore/dispersion.conf")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    try:
        config = load_section(args.conf, "dispersion", DispersionConfig, required=True)
        result = report(config)
    except ObjstoreError as err:
        print("objstore-dispersion-report: %s" % err, file=sys.stderr)
        return 2
    print(json.dumps(result, sort_keys=True) if args.json else format_report(result))
    complete = all(r["copies_found"] == r["copies_expected"] for r in result.values())
    return 0 if complete else 1


if __name__ == "__main__":
    raise SystemExit(main())
