"""How much a replication pass costs when there is nothing to do.

Builds three object-server nodes on 127.0.0.1 (real server processes), one
device each, a 3-replica ring, and N objects (default 100,000) present on
all three (written once on node 0 with their metadata, then hard-link copied
to the others, which is how identical replicas look on disk). Then times the
object replicator of node 0:

1. a cold pass: no hashes files yet, so every suffix of every partition is
   hashed by listing its object directories, here and on both peers;
2. a warm pass with nothing to do: the figure that matters. Each partition
   costs one read of its hashes file and one REPLICATE per peer;
3. a pass after K objects changed on node 0 (new PUTs through the server):
   only their suffixes are synced.

Usage: ``python -m benchmarks.replication_bench [--objects N] [--part-power P]``.
Prints one line per pass; no pass/fail.
"""

import argparse
import hashlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=100000)
    parser.add_argument("--part-power", type=int, default=8)
    parser.add_argument("--changed", type=int, default=10)
    parser.add_argument("--keep", action="store_true", help="keep the temp directory")
    args = parser.parse_args(argv)
    root = tempfile.mkdtemp(prefix="replbench.")
    procs = []
    try:
        run(root, args, procs)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(root, args, procs):
    from objstore.common import hashing

    conf = os.path.join(root, "objstore.conf")
    hashing.write_objstore_conf(conf, secrets.token_hex(8), secrets.token_hex(8))
    os.environ["OBJSTORE_CONF"] = conf
    hashing.load_secrets.cache_clear()

    from objstore.common.log import get_logger
    from objstore.common.timestamp import Timestamp
    from objstore.obj import metadata as meta_mod
    from objstore.obj.replicator import ObjectReplicator, ReplicatorConfig
    from objstore.ring import Ring, RingBuilder
    from objstore.web.backend import direct_request

    ports = [_free_port() for _ in range(3)]
    builder = RingBuilder(args.part_power, 3, 0)
    for index, port in enumerate(ports):
        builder.add_dev(region=1, zone=index + 1, ip="127.0.0.1", port=port, device="sd%d" % index, weight=1.0)
    builder.rebalance(seed=1)
    ring_dir = os.path.join(root, "rings")
    os.makedirs(ring_dir)
    builder.write_ring(os.path.join(ring_dir, "object.ring.gz"))
    ring = Ring(os.path.join(ring_dir, "object.ring.gz"))

    # objects on node 0
    dev0 = os.path.join(root, "node0", "devices", "sd0")
    start = time.time()
    stamp = Timestamp.now().internal
    body = b"x" * 16
    etag = hashlib.md5(body).hexdigest()
    for number in range(args.objects):
        name = "o%07d" % number
        name_hash = hashing.hash_path("a", "c", name)
        part = ring.get_part("a", "c", name)
        hash_dir = os.path.join(dev0, "objects", str(part), name_hash[-3:], name_hash)
        os.makedirs(hash_dir, exist_ok=True)
        fd = os.open(os.path.join(hash_dir, stamp + ".data"), os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            os.write(fd, body)
            meta_mod.write_metadata(fd, {"name": "/a/c/%s" % name, "X-Timestamp": stamp, "ETag": etag,
                                         "Content-Length": str(len(body)), "Content-Type": "text/plain"}, len(body))
        finally:
            os.close(fd)
    for index in (1, 2):
        target = os.path.join(root, "node%d" % index, "devices")
        os.makedirs(target)
        subprocess.check_call(["cp", "-al", dev0, os.path.join(target, "sd%d" % index)])
    print("setup: %d objects x 3 nodes in %.1fs" % (args.objects, time.time() - start))

    for index, port in enumerate(ports):
        node_conf = os.path.join(root, "node%d.conf" % index)
        with open(node_conf, "w") as handle:
            handle.write("[object-server]\nbind_ip = 127.0.0.1\nbind_port = %d\ndevices = %s\n"
                         "mount_check = false\nworkers = 1\naccess_log = false\nlog_level = WARNING\n"
                         "ring_dir = %s\n" % (port, os.path.join(root, "node%d" % index, "devices"), ring_dir))
        procs.append(subprocess.Popen([sys.executable, "-m", "objstore.obj.server", node_conf]))
    for port in ports:
        deadline = time.time() + 30
        while True:
            try:
                direct_request("127.0.0.1", port, "REPLICATE", "/sd0/0")
                break
            except Exception:
                if time.time() > deadline:
                    raise
                time.sleep(0.1)

    config = ReplicatorConfig(devices=os.path.join(root, "node0", "devices"), mount_check=False,
                              bind_ip="127.0.0.1", bind_port=ports[0], ring_dir=ring_dir)
    logger = get_logger("object-replicator", level="WARNING")
    replicator = ObjectReplicator(config, logger)

    def timed(label):
        began = time.time()
        stats = replicator.run_pass()
        took = time.time() - began
        print("%-34s %7.2fs  partitions=%d suffixes=%d synced_suffixes=%d pushed=%d"
              % (label, took, stats["partitions_checked"], stats["suffixes_checked"],
                 stats["suffixes_synced"], stats["objects_pushed"]))
        return took

    timed("cold pass (hashing everything)")
    warm = timed("warm pass, nothing to do")
    timed("warm pass, nothing to do (again)")
    now = Timestamp.now()
    for number in range(args.changed):
        name = "o%07d" % number
        part = ring.get_part("a", "c", name)
        path = "/sd0/%d/a/c/%s" % (part, name)
        resp = direct_request("127.0.0.1", ports[0], "PUT", path,
                              {"X-Timestamp": Timestamp(now, offset=number + 1).internal,
                               "Content-Type": "text/plain", "Content-Length": "3"}, b"new")
        assert resp.status == 201, resp.status
    timed("pass after %d changed objects" % args.changed)
    parts = replicator.ring.partition_count
    print("figure: a pass with nothing to do over %d objects in %d partitions took %.2fs (%.1f ms per partition)"
          % (args.objects, parts, warm, warm * 1000.0 / parts))


if __name__ == "__main__":
    main()
