"""Container listing speed: build one container DB with many objects (default
1,000,000) by bulk insert, then time listing pages of 10000 through the
container server app (SQL + JSON rendering + WSGI), printing figures.

    .venv/bin/python -m benchmarks.listing_bench [--objects N] [--db PATH] [--repeat R]

Names are ``d%03d/o%07d`` (1000 pseudo-directories of 1000 objects each at
the default size), so prefix and delimiter queries are meaningful. The DB
is built once and reused when ``--db`` names an existing file. Not a test:
no pass/fail, only numbers.

Figures measured (2026-11-23, this 2-core VM shared with other engineers'
test runs, 1,000,000 objects, DB 123 MiB, SQLite 3.40.1, Python 3.11;
milliseconds for a page of limit=10000 through the app, best / median of 5-7;
the first column at load average ~21, the second at ~37):

    case                          load ~21        load ~37
    build (bulk insert, 1M rows)  20.7 s          -
    first page (json)             58.7 / 66.4     128.9 / 186.6
    first page (plain)            41.1 / 47.9     103.2 / 210.0
    middle marker (json)          52.6 / 55.6     195.3 / 270.1
    reverse from middle           57.4 / 61.2     229.3 / 258.3
    prefix d500/ (1000 rows)       6.8 / 15.2      23.1 / 33.5
    prefix d5 (10000 rows)       101.2 / 133.0    237.5 / 269.6
    delimiter / (1000 subdirs)    48.6 / 104.8    634.0 / 711.9
    prefix d500/ + delimiter /   100.6 / 116.8    120.7 / 255.6
    HEAD (count from the stat row) 0.9             0.9

Every page query is a range scan of the (deleted, name) index with LIMIT; a
delimiter costs one extra query per pseudo-directory skipped.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

from objstore.common import hashing
from objstore.common.constraints import DEFAULT
from objstore.common.log import capturing_logger
from objstore.common.timestamp import Timestamp
from objstore.container.broker import ContainerBroker
from objstore.container.server import ContainerServer, ContainerServerConfig
from objstore.db.broker import db_path
from objstore.web.app import Request

PAGE = 10000
DIRS = 1000


def object_name(i, per_dir):
    return "d%03d/o%07d" % (i // per_dir, i)


def build(path, count, chunk=100000):
    """Bulk-insert ``count`` object rows in name order (one transaction)."""
    broker = ContainerBroker(path, account="bench", container="c")
    broker.initialize(Timestamp.now())
    per_dir = max(1, count // DIRS)
    ts = Timestamp.now().internal
    started = time.time()
    with broker.get() as conn:
        conn.execute("PRAGMA synchronous = OFF")  # a benchmark fixture, not a served write
        conn.execute("BEGIN")
        for start in range(0, count, chunk):
            rows = [(object_name(i, per_dir), ts, 1000 + i % 1000, "application/octet-stream",
                     "d41d8cd98f00b204e9800998ecf8427e", 0) for i in range(start, min(count, start + chunk))]
            conn.executemany("INSERT INTO object (name, created_at, size, content_type, etag, deleted) "
                             "VALUES (?, ?, ?, ?, ?, ?)", rows)
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    broker.close()
    return time.time() - started


def timed(app, path, repeat):
    """``(best, median, entries)`` seconds for GET ``path`` through the app."""
    times = []
    entries = 0
    for _ in range(repeat):
        started = time.perf_counter()
        resp = Request.blank(path).get_response(app)
        body = resp.body
        times.append(time.perf_counter() - started)
        assert resp.status_int == 200, (resp.status, body[:200])
        if resp.content_type == "application/json":
            entries = body.count(b'"name"') + body.count(b'"subdir"')
        else:
            entries = body.count(b"\n")
    return min(times), statistics.median(times), entries


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=1000000)
    parser.add_argument("--workdir", help="where to put the devices dir (default: a temp dir)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)

    workdir = args.workdir or tempfile.mkdtemp(prefix="listing-bench-")
    conf = os.path.join(workdir, "objstore.conf")
    if not os.path.exists(conf):
        hashing.write_objstore_conf(conf, "bench-prefix", "bench-suffix")
    os.environ["OBJSTORE_CONF"] = conf
    hashing.load_secrets.cache_clear()
    devices = os.path.join(workdir, "node")
    os.makedirs(os.path.join(devices, "sda"), exist_ok=True)
    path = db_path(devices, "sda", "container", 0, "bench", "c")
    if os.path.exists(path):
        print("reusing %s" % path)
    else:
        seconds = build(path, args.objects)
        print("built %d rows in %.1f s (%.0f rows/s)" % (args.objects, seconds, args.objects / seconds))
    print("db size: %.1f MiB" % (os.path.getsize(path) / 1048576.0))

    logger, _ = capturing_logger("bench")
    app = ContainerServer(ContainerServerConfig(devices=devices, mount_check=False, access_log=False),
                          logger, DEFAULT)
    per_dir = max(1, args.objects // DIRS)
    middle = object_name(args.objects // 2, per_dir)
    cases = [
        ("first page (json)", "?format=json"),
        ("first page (plain)", ""),
        ("middle marker", "?format=json&marker=" + middle),
        ("reverse from middle", "?format=json&reverse=true&marker=" + middle),
        ("prefix d500/", "?format=json&prefix=d500/"),
        ("prefix d5 (10 dirs)", "?format=json&prefix=d5"),
        ("delimiter / (all dirs)", "?format=json&delimiter=/"),
        ("prefix d500/ + delimiter /", "?format=json&prefix=d500/&delimiter=/"),
        ("HEAD-like count", None),
    ]
    print("%-30s %10s %10s %8s" % ("case (limit %d)" % PAGE, "best ms", "median ms", "entries"))
    for label, query in cases:
        if query is None:
            started = time.perf_counter()
            resp = Request.blank("/sda/0/bench/c", method="HEAD").get_response(app)
            took = time.perf_counter() - started
            print("%-30s %10.1f %10s %8s" % ("HEAD", took * 1000, "", resp.headers["X-Container-Object-Count"]))
            continue
        best, median, entries = timed(app, "/sda/0/bench/c" + query, args.repeat)
        print("%-30s %10.1f %10.1f %8d" % (label, best * 1000, median * 1000, entries))
    print("workdir: %s (delete it when done)" % workdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
