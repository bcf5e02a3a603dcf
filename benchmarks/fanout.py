"""The replicated-write reference: the fastest a Python relay can make one
stream durable on three writers of this machine, with no storage logic.

A client sends one body to a relay process, which copies each 1 MiB chunk
to three writer processes (plain TCP, a length prefix, no HTTP, no
hashing); each writer appends the chunks to a file in its own directory on
the benchmark's volume (with an fdatasync in the background every
SYNC_EVERY bytes, as the object server does), fsyncs the file and the
directory, and says so; the relay answers the client once two writers have
(a quorum of three). That is
the shape of a 3-replica PUT through a proxy, minus everything either
cluster adds (HTTP parsing, checksums, metadata, rings, container updates),
so a large-object PUT figure can be read as a fraction of it.

What does not live here: the dd and loopback HTTP references (references.py).

Run as ``python -m benchmarks.fanout writer DIR PORT`` or ``... relay PORT
WRITER_PORT...``; :func:`measure` starts them and drives the client.
"""

import os
import select
import shutil
import socket
import struct
import sys
import threading
import time

from benchmarks import host

CHUNK = 1 << 20
# A writer starts an fdatasync in a thread each time this many more bytes
# arrived (one at a time), as the object server does (mb_per_sync): the
# best plain technique, so that the reference is a ceiling, not a strawman.
SYNC_EVERY = 32 << 20
HEADER = struct.Struct("!Q")
QUORUM = 2


def _recv_exact(sock, size):
    data = bytearray()
    while len(data) < size:
        part = sock.recv(size - len(data))
        if not part:
            raise ConnectionError("peer closed after %d of %d bytes" % (len(data), size))
        data += part
    return bytes(data)


def _listener(port):
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(8)
    return sock


def writer(directory, port):
    """Serve forever: each connection's body goes to a new file, fsynced with its directory."""
    listener = _listener(port)
    buf = memoryview(bytearray(CHUNK))
    count = 0
    while True:
        conn, _addr = listener.accept()
        try:
            count += 1
            _write_body(conn, os.path.join(directory, "body-%d" % count), directory, buf)
        except OSError:
            pass  # a probe of the port (wait_tcp) or a relay gone: next connection
        finally:
            conn.close()


def _write_body(conn, path, directory, buf):
    """One body from ``conn`` into ``path``: fsynced with ``directory``, acknowledged, removed."""
    size = HEADER.unpack(_recv_exact(conn, HEADER.size))[0]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    syncer = None
    try:
        left, written, synced = size, 0, 0
        while left:
            got = conn.recv_into(buf, min(CHUNK, left))
            if not got:
                raise ConnectionError("relay went away")
            view = buf[:got]
            while view:
                view = view[os.write(fd, view):]
            left -= got
            written += got
            if written - synced >= SYNC_EVERY and (syncer is None or not syncer.is_alive()):
                synced = written  # flush what came so far while the rest arrives (one at a time)
                syncer = threading.Thread(target=os.fdatasync, args=(fd,))
                syncer.start()
        if syncer is not None:
            syncer.join()
        os.fsync(fd)
    finally:
        if syncer is not None:
            syncer.join()
        os.close(fd)
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    conn.sendall(b"1")
    os.unlink(path)  # the next body must not find this one in the page cache


def relay(port, writer_ports):
    """Serve forever: copy each client body to every writer, answer after a quorum."""
    listener = _listener(port)
    buf = memoryview(bytearray(CHUNK))
    while True:
        client, _addr = listener.accept()
        try:
            _relay_body(client, writer_ports, buf)
        except OSError:
            pass  # a probe of the port (wait_tcp) or a client gone: next connection
        finally:
            client.close()


def _relay_body(client, writer_ports, buf):
    """One body from ``client`` to every writer; answers after a quorum of them."""
    head = _recv_exact(client, HEADER.size)
    size = HEADER.unpack(head)[0]
    peers = [socket.create_connection(("127.0.0.1", p)) for p in writer_ports]
    try:
        for peer in peers:
            peer.sendall(head)
        left = size
        while left:
            got = client.recv_into(buf, min(CHUNK, left))
            if not got:
                raise ConnectionError("client went away")
            for peer in peers:
                peer.sendall(buf[:got])
            left -= got
        pending, acks = list(peers), 0
        while pending and acks < QUORUM:  # answer as soon as any two have it on disk
            ready, _w, _x = select.select(pending, [], [])
            for peer in ready:
                pending.remove(peer)
                acks += peer.recv(1) == b"1"
        client.sendall(b"1" if acks >= QUORUM else b"0")
        for peer in pending:  # then let the third finish before the next body, as a proxy would
            peer.recv(1)
    finally:
        for peer in peers:
            peer.close()


def put_once(port, body):
    """Seconds for one body through the relay until its quorum answer."""
    try:
        sock = socket.create_connection(("127.0.0.1", port))
        try:
            t0 = time.perf_counter()
            sock.sendall(HEADER.pack(len(body)))
            sock.sendall(body)
            answer = sock.recv(1)
            seconds = time.perf_counter() - t0
        finally:
            sock.close()
    except OSError as err:  # the relay dropped us: a writer could not be reached
        raise host.BenchSetupError("fan-out reference: %s" % err) from None
    if answer != b"1":
        raise host.BenchSetupError("fan-out reference: no quorum")
    return seconds


def measure(devices_dir, work_dir, mib=256, rounds=3):
    """Median MB/s (10^6 bytes) of ``rounds`` PUTs of ``mib`` MiB through the
    relay onto three writers under ``devices_dir``."""
    base = host.free_port_block(4, start=29100)
    ports = list(range(base, base + 4))
    pids = []
    log = os.path.join(work_dir, "fanout-reference.log")
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=repo + os.pathsep + os.environ.get("PYTHONPATH", ""))
    try:
        for n, port in enumerate(ports[1:], 1):
            directory = os.path.join(devices_dir, "fanout-%d" % n)
            os.makedirs(directory, exist_ok=True)
            pids.append(host.launch([sys.executable, "-m", "benchmarks.fanout", "writer", directory, str(port)], log, env))
        pids.append(host.launch([sys.executable, "-m", "benchmarks.fanout", "relay", str(ports[0])]
                                + [str(p) for p in ports[1:]], log, env))
        for port in ports:
            host.wait_tcp(port)
        body = os.urandom(mib << 20)
        figures = []
        for _ in range(rounds):
            figures.append(len(body) / put_once(ports[0], body) / 1e6)
            time.sleep(1.0)  # the third writer finishes before the next body (the relay waits for it)
        figures.sort()
    finally:
        host.stop_pids(pids)
        for n in range(1, 4):
            shutil.rmtree(os.path.join(devices_dir, "fanout-%d" % n), ignore_errors=True)
    return figures[len(figures) // 2]


def main(argv):
    if len(argv) >= 3 and argv[0] == "writer":
        writer(argv[1], int(argv[2]))
    elif len(argv) >= 3 and argv[0] == "relay":
        relay(int(argv[1]), [int(p) for p in argv[2:]])
    else:
        sys.exit("usage: python -m benchmarks.fanout writer DIR PORT | relay PORT WRITER_PORT...")


if __name__ == "__main__":
    main(sys.argv[1:])
