"""A small load generator for any Swift v1 API endpoint (ours or Swift's).

N worker threads, each with its own keep-alive HTTP connection, take request
names from a shared queue and time every request; a phase yields ops/s, MB/s
and latency percentiles. Bodies are sent from memory and read into a reused
buffer, so the client's own cost per byte stays small.

Used for what swift-bench does not measure: HEAD, latency percentiles,
single-stream large objects, and container listing pages. The workloads
themselves (which phases, what sizes) live in workloads.py.
"""

import dataclasses
import hashlib
import http.client
import json
import os
import threading
import time
import urllib.parse

READ_CHUNK = 1 << 20


class LoadError(Exception):
    """A request the load generator cannot go on without failed (auth, container create)."""


def percentile(values, pct):
    """The ``pct`` percentile (0..100) of ``values`` by nearest rank; 0.0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))  # ceil(n * pct / 100)
    return ordered[int(rank) - 1]


@dataclasses.dataclass
class PhaseResult:
    """What one phase measured. ``latencies`` in seconds, one per successful request."""

    op: str
    requests: int
    errors: int
    seconds: float
    bytes: int
    latencies: list = dataclasses.field(default_factory=list, repr=False)
    statuses: dict = dataclasses.field(default_factory=dict)

    @property
    def ops_per_s(self):
        return (self.requests - self.errors) / self.seconds if self.seconds else 0.0

    @property
    def mb_per_s(self):
        return self.bytes / self.seconds / 1e6 if self.seconds else 0.0

    def latency_ms(self, pct):
        return percentile(self.latencies, pct) * 1000.0

    def summary(self):
        return {
            "op": self.op, "requests": self.requests, "errors": self.errors,
            "seconds": round(self.seconds, 3), "ops_per_s": round(self.ops_per_s, 1),
            "mb_per_s": round(self.mb_per_s, 1), "p50_ms": round(self.latency_ms(50), 2),
            "p99_ms": round(self.latency_ms(99), 2), "statuses": dict(self.statuses),
        }


class Endpoint:
    """An authenticated account: ``storage_url`` and ``token`` from v1.0 (tempauth-style) auth."""

    def __init__(self, auth_url, user, key, timeout=60.0):
        self.timeout = timeout
        url = urllib.parse.urlsplit(auth_url)
        conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=timeout)
        try:
            conn.request("GET", url.path, headers={"X-Auth-User": user, "X-Auth-Key": key})
            resp = conn.getresponse()
            resp.read()
        except OSError as err:
            raise LoadError("auth at %s failed: %s" % (auth_url, err)) from None
        finally:
            conn.close()
        if resp.status // 100 != 2 or not resp.getheader("X-Storage-Url"):
            raise LoadError("auth at %s as %s: %d %s" % (auth_url, user, resp.status, resp.reason))
        self.token = resp.getheader("X-Auth-Token")
        self.storage_url = resp.getheader("X-Storage-Url")
        parts = urllib.parse.urlsplit(self.storage_url)
        self.host, self.port, self.path = parts.hostname, parts.port or 80, parts.path.rstrip("/")

    def connect(self):
        return Connection(self)

    def object_path(self, container, name=None):
        path = "%s/%s" % (self.path, urllib.parse.quote(container))
        if name is not None:
            path += "/" + urllib.parse.quote(name)
        return path


class Connection:
    """One keep-alive connection; reconnects after any failure."""

    def __init__(self, endpoint):
        self.endpoint = endpoint
        self.conn = None
        self.buf = bytearray(READ_CHUNK)

    def request(self, method, path, body=None, headers=None):
        """Send one request, read the whole answer; returns ``(status, headers, bytes_read)``.

        Bodies are read into a reused buffer and dropped, except for small
        answers (listings), which come back as bytes in ``headers["_body"]``.
        """
        hdrs = {"X-Auth-Token": self.endpoint.token}
        if headers:
            hdrs.update(headers)
        if body is not None:
            hdrs["Content-Length"] = str(len(body))
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.endpoint.host, self.endpoint.port,
                                                       timeout=self.endpoint.timeout)
            try:
                self.conn.request(method, path, body=body, headers=hdrs)
                resp = self.conn.getresponse()
                got = 0
                keep = None
                if method == "GET" and (resp.length or 0) <= 4 << 20 and "format=" in path:
                    keep = resp.read()
                    got = len(keep)
                else:
                    view = memoryview(self.buf)
                    while True:
                        n = resp.readinto(view)
                        if not n:
                            break
                        got += n
                info = dict((k.lower(), v) for k, v in resp.getheaders())
                if keep is not None:
                    info["_body"] = keep
                if resp.will_close:
                    self.close()
                return resp.status, info, got
            except (OSError, http.client.HTTPException):
                self.close()
                # A keep-alive connection the server closed while idle fails
                # on first use; retry once on a fresh one. Not for bodies
                # already (partly) sent: the answer would be ambiguous.
                if attempt or body is not None:
                    raise
        raise AssertionError("unreachable")

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def run_phase(endpoint, op, jobs, concurrency, make_request, body_bytes=0):
    """Run ``make_request(conn, job) -> (status, bytes)`` over ``jobs`` with ``concurrency`` threads.

    A request counts as an error when it raises or its status is not 2xx.
    ``body_bytes`` is added to the byte count of each successful request
    (the upload size, for PUT). Returns a PhaseResult.
    """
    jobs = list(jobs)
    lock = threading.Lock()
    position = [0]
    latencies, statuses = [], {}
    errors = [0]
    moved = [0]

    def worker():
        conn = endpoint.connect()
        mine, my_bytes, my_errors, my_statuses = [], 0, 0, {}
        try:
            while True:
                with lock:
                    if position[0] >= len(jobs):
                        break
                    job = jobs[position[0]]
                    position[0] += 1
                t0 = time.perf_counter()
                try:
                    status, got = make_request(conn, job)
                except (OSError, http.client.HTTPException):
                    status, got = "exception", 0
                elapsed = time.perf_counter() - t0
                my_statuses[status] = my_statuses.get(status, 0) + 1
                if isinstance(status, int) and 200 <= status < 300:
                    mine.append(elapsed)
                    my_bytes += got + body_bytes
                else:
                    my_errors += 1
        finally:
            conn.close()
            with lock:
                latencies.extend(mine)
                errors[0] += my_errors
                moved[0] += my_bytes
                for k, v in my_statuses.items():
                    statuses[k] = statuses.get(k, 0) + v

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(max(1, min(concurrency, len(jobs))))]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - t0
    return PhaseResult(op, len(jobs), errors[0], seconds, moved[0], latencies,
                       {str(k): v for k, v in statuses.items()})


def ensure_container(endpoint, container):
    conn = endpoint.connect()
    try:
        status, _, _ = conn.request("PUT", endpoint.object_path(container))
    finally:
        conn.close()
    if status // 100 != 2:
        raise LoadError("PUT container %s: %d" % (container, status))


def delete_container(endpoint, container):
    conn = endpoint.connect()
    try:
        return conn.request("DELETE", endpoint.object_path(container))[0]
    finally:
        conn.close()


def object_ops(endpoint, containers, names, size, concurrency, ops=("PUT", "GET", "HEAD", "DELETE"),
               gets_per_object=1):
    """PUT ``names`` spread over ``containers``, then GET/HEAD/DELETE them; one PhaseResult per op.

    Objects hold ``size`` random bytes (one buffer shared by all). GET reads
    ``gets_per_object`` times as many requests as objects, in order.
    """
    body = os.urandom(size)
    placed = [(containers[i % len(containers)], name) for i, name in enumerate(names)]
    results = {}

    def put(conn, job):
        status, _, _ = conn.request("PUT", endpoint.object_path(*job), body=body,
                                    headers={"Content-Type": "application/octet-stream"})
        return status, 0

    def get(conn, job):
        status, _, got = conn.request("GET", endpoint.object_path(*job))
        return status, got

    def head(conn, job):
        status, _, _ = conn.request("HEAD", endpoint.object_path(*job))
        return status, 0

    def delete(conn, job):
        status, _, _ = conn.request("DELETE", endpoint.object_path(*job))
        return status, 0

    table = {"PUT": (put, size), "GET": (get, 0), "HEAD": (head, 0), "DELETE": (delete, 0)}
    for op in ops:
        fn, extra = table[op]
        jobs = placed * gets_per_object if op == "GET" else placed
        results[op] = run_phase(endpoint, op, jobs, concurrency, fn, body_bytes=extra)
    return results


def single_stream(endpoint, container, name, body, rounds=1):
    """PUT then GET one object of ``body`` over one connection, ``rounds`` times.

    Returns ``(put_results, get_results)``: lists of PhaseResult (one request each).
    The GET is checked against the size sent, the PUT's ETag against the body's md5.
    """
    etag = hashlib.md5(body, usedforsecurity=False).hexdigest()
    puts, gets = [], []
    path = endpoint.object_path(container, name)
    for _ in range(rounds):
        conn = endpoint.connect()
        try:
            t0 = time.perf_counter()
            status, info, _ = conn.request("PUT", path, body=body)
            dt = time.perf_counter() - t0
            ok = status == 201 and info.get("etag", "").strip('"') == etag
            puts.append(PhaseResult("PUT", 1, 0 if ok else 1, dt, len(body) if ok else 0, [dt], {str(status): 1}))
            t0 = time.perf_counter()
            status, info, got = conn.request("GET", path)
            dt = time.perf_counter() - t0
            ok = status == 200 and got == len(body)
            gets.append(PhaseResult("GET", 1, 0 if ok else 1, dt, got if ok else 0, [dt], {str(status): 1}))
        finally:
            conn.close()
    return puts, gets


def list_names(endpoint, container, limit=10000):
    """Every object name in ``container`` (walked by marker)."""
    conn = endpoint.connect()
    names, marker = [], ""
    try:
        while True:
            query = "?format=json&limit=%d" % limit
            if marker:
                query += "&marker=" + urllib.parse.quote(marker)
            status, info, _ = conn.request("GET", endpoint.object_path(container) + query)
            if status == 204:
                break
            if status != 200:
                raise LoadError("listing %s: %d" % (container, status))
            page = json.loads(info["_body"])
            names.extend(entry["name"] for entry in page)
            if len(page) < limit:
                break
            marker = page[-1]["name"]
    finally:
        conn.close()
    return names


def listing_pages(endpoint, container, expect, walks, concurrency, limit=1000):
    """``walks`` full walks of a container listing (JSON, ``limit`` names a page).

    Each worker walks the whole container by marker; every page is one
    request. Returns a PhaseResult whose requests are pages; a walk that does
    not see ``expect`` names makes its last page count as an error.
    """
    def walk(conn, _job):
        marker, seen, moved, status = "", 0, 0, 200
        while True:
            query = "?format=json&limit=%d" % limit
            if marker:
                query += "&marker=" + urllib.parse.quote(marker)
            status, info, got = conn.request("GET", endpoint.object_path(container) + query)
            moved += got
            if status != 200:
                return status, moved
            page = json.loads(info["_body"])
            seen += len(page)
            if len(page) < limit:
                break
            marker = page[-1]["name"]
        return (200 if seen == expect else 409), moved

    # One job = one walk; pages per second = walks * pages_per_walk / seconds.
    result = run_phase(endpoint, "LIST", range(walks), concurrency, walk)
    pages_per_walk = -(-expect // limit) + (1 if expect % limit == 0 else 0)
    result.requests = walks * pages_per_walk
    result.errors *= pages_per_walk
    return result
