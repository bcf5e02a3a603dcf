"""A FAKE Swift-like HTTP server for tests: NOT objstore, NOT the proxy.

A tiny in-memory stand-in for the object store's public v1 API, written for
the client's and the compute companion's tests so they can run before (and
independently of) the real cluster: tempauth v1.0 (``/auth/v1.0``), account
and container JSON listings with marker/limit/prefix/delimiter/end_marker,
container and object HEAD/GET/PUT/POST/DELETE, ``X-*-Meta-*`` metadata, ETag
on PUT (and a 422 when a sent ETag does not match), chunked request bodies,
keep-alive. Everything lives in one dict; nothing is durable.

Test hooks: ``store.listing_limit`` (page size cap), ``store.requests``
(``[(method, path)]`` seen), ``store.corrupt(account, container, obj)``.
"""

import email.utils
import hashlib
import http.server
import json
import secrets
import threading
import time
import urllib.parse


class FakeSwift:
    """The state plus a server thread on 127.0.0.1:<ephemeral>."""

    def __init__(self, users=None, listing_limit=10000):
        # users: {"account:user": "key"} -> account AUTH_<account>
        self.users = dict(users or {"test:tester": "testing"})
        self.listing_limit = listing_limit
        self.accounts = {}
        self.tokens = {}
        self.requests = []
        self.lock = threading.Lock()
        self.server = None
        self.thread = None

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.server.server_address[1]

    @property
    def auth_url(self):
        return self.url + "/auth/v1.0"

    def start(self):
        store = self

        class Handler(_Handler):
            pass

        Handler.store = store
        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def corrupt(self, account, container, obj):
        """Flip the first byte of an object's data, keeping its ETag."""
        entry = self.accounts[account]["containers"][container]["objects"][obj]
        data = bytearray(entry["data"])
        data[0] ^= 0xFF
        entry["data"] = bytes(data)


class _QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # a client that hangs up mid-response is part of the tests


def _http_date(when):
    return email.utils.formatdate(when, usegmt=True)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    store = None

    def log_message(self, fmt, *args):  # quiet
        pass

    # --- plumbing --------------------------------------------------------------
    def _body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(parts)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status, body=b"", headers=None, head=False):
        self.send_response(status)
        headers = dict(headers or {})
        headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        headers["Content-Length"] = str(len(body)) if "Content-Length" not in headers else headers["Content-Length"]
        headers.setdefault("X-Trans-Id", "txfake%s" % secrets.token_hex(6))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if body and not head and self.command != "HEAD":
            self.wfile.write(body)

    def _dispatch(self):
        store = self.store
        parsed = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(parsed.path)
        query = dict(urllib.parse.parse_qsl(parsed.query, keep_blank_values=True))
        body = self._body() if self.command in ("PUT", "POST") else b""
        with store.lock:
            store.requests.append((self.command, path))
        if path == "/auth/v1.0":
            return self._auth()
        parts = path.split("/", 4)
        if len(parts) < 3 or parts[1] != "v1" or not parts[2]:
            return self._send(404, b"Not Found")
        account = parts[2]
        container = parts[3] if len(parts) > 3 and parts[3] else None
        obj = parts[4] if len(parts) > 4 and parts[4] else None
        token = self.headers.get("X-Auth-Token")
        if store.tokens.get(token) != account:
            return self._send(401, b"Unauthorized")
        with store.lock:
            if obj is not None:
                return self._object(account, container, obj, body)
            if container is not None:
                return self._container(account, container, query)
            return self._account(account, query)

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = lambda self: self._dispatch()

    def _auth(self):
        user = self.headers.get("X-Auth-User") or self.headers.get("X-Storage-User")
        key = self.headers.get("X-Auth-Key") or self.headers.get("X-Storage-Pass")
        if user not in self.store.users or self.store.users[user] != key:
            return self._send(401, b"Unauthorized")
        account = "AUTH_" + user.split(":", 1)[0]
        token = "AUTH_tkfake" + secrets.token_hex(12)
        self.store.tokens[token] = account
        self.store.accounts.setdefault(account, {"meta": {}, "containers": {}, "created": time.time()})
        url = "http://127.0.0.1:%d/v1/%s" % (self.server.server_address[1], account)
        return self._send(200, b"", {"X-Storage-Url": url, "X-Auth-Token": token, "X-Storage-Token": token})

    @staticmethod
    def _meta_headers(prefix, headers):
        return {k: v for k, v in headers.items() if k.lower().startswith(prefix)}

    def _update_meta(self, meta, prefix):
        for key, value in self.headers.items():
            if key.lower().startswith(prefix):
                if value == "":
                    meta.pop(key.lower(), None)
                else:
                    meta[key.lower()] = value

    def _listing(self, names, query, head, extra_headers, row):
        limit = min(int(query.get("limit") or self.store.listing_limit), self.store.listing_limit)
        marker = query.get("marker", "")
        end_marker = query.get("end_marker")
        prefix = query.get("prefix", "")
        delimiter = query.get("delimiter")
        out = []
        seen_subdirs = set()
        for name in sorted(names):
            if marker and name <= marker:
                continue
            if end_marker and name >= end_marker:
                break
            if not name.startswith(prefix):
                continue
            if delimiter:
                rest = name[len(prefix):]
                if delimiter in rest:
                    sub = prefix + rest.split(delimiter, 1)[0] + delimiter
                    if sub not in seen_subdirs and (not marker or sub > marker):
                        seen_subdirs.add(sub)
                        out.append({"subdir": sub})
                    if len(out) >= limit:
                        break
                    continue
            out.append(row(name))
            if len(out) >= limit:
                break
        if query.get("format") == "json":
            body = json.dumps(out).encode()
            ctype = "application/json; charset=utf-8"
        else:
            body = "".join("%s\n" % (item.get("name") or item.get("subdir")) for item in out).encode()
            ctype = "text/plain; charset=utf-8"
        status = 200 if out or query.get("format") == "json" else 204
        headers = dict(extra_headers, **{"Content-Type": ctype})
        if head:
            return self._send(204, b"", dict(extra_headers, **{"Content-Length": "0"}), head=True)
        return self._send(status, body if status == 200 else b"", headers)

    def _account(self, account, query):
        acct = self.store.accounts.setdefault(account, {"meta": {}, "containers": {}, "created": time.time()})
        conts = acct["containers"]
        if self.command == "POST":
            self._update_meta(acct["meta"], "x-account-meta-")
            return self._send(204)
        if self.command not in ("GET", "HEAD"):
            return self._send(405, b"Method Not Allowed")
        headers = {
            "X-Account-Container-Count": str(len(conts)),
            "X-Account-Object-Count": str(sum(len(c["objects"]) for c in conts.values())),
            "X-Account-Bytes-Used": str(
                sum(len(o["data"]) for c in conts.values() for o in c["objects"].values())
            ),
        }
        headers.update(acct["meta"])

        def row(name):
            objs = conts[name]["objects"]
            return {"name": name, "count": len(objs), "bytes": sum(len(o["data"]) for o in objs.values())}

        return self._listing(conts, query, self.command == "HEAD", headers, row)

    def _container(self, account, container, query):
        conts = self.store.accounts.setdefault(account, {"meta": {}, "containers": {}, "created": 0})["containers"]
        if self.command == "PUT":
            created = container not in conts
            cont = conts.setdefault(container, {"meta": {}, "objects": {}})
            self._update_meta(cont["meta"], "x-container-meta-")
            return self._send(201 if created else 202)
        if container not in conts:
            return self._send(404, b"Not Found")
        cont = conts[container]
        if self.command == "POST":
            self._update_meta(cont["meta"], "x-container-meta-")
            return self._send(204)
        if self.command == "DELETE":
            if cont["objects"]:
                return self._send(409, b"Conflict: container not empty")
            del conts[container]
            return self._send(204)
        objs = cont["objects"]
        headers = {
            "X-Container-Object-Count": str(len(objs)),
            "X-Container-Bytes-Used": str(sum(len(o["data"]) for o in objs.values())),
        }
        headers.update(cont["meta"])

        def row(name):
            entry = objs[name]
            return {
                "name": name,
                "hash": entry["etag"],
                "bytes": len(entry["data"]),
                "content_type": entry["content_type"],
                "last_modified": time.strftime("%Y-%m-%dT%H:%M:%S.000000", time.gmtime(entry["mtime"])),
            }

        return self._listing(objs, query, self.command == "HEAD", headers, row)

    def _object(self, account, container, obj, body):
        conts = self.store.accounts.setdefault(account, {"meta": {}, "containers": {}, "created": 0})["containers"]
        if container not in conts:
            return self._send(404, b"Not Found")
        objs = conts[container]["objects"]
        if self.command == "PUT":
            etag = hashlib.md5(body).hexdigest()
            sent = (self.headers.get("ETag") or "").strip('"')
            if sent and sent != etag:
                return self._send(422, b"Unprocessable Entity")
            meta = {}
            self._update_meta(meta, "x-object-meta-")
            objs[obj] = {
                "data": body,
                "etag": etag,
                "meta": meta,
                "content_type": self.headers.get("Content-Type") or "application/octet-stream",
                "mtime": time.time(),
            }
            return self._send(201, b"", {"ETag": '"%s"' % etag, "Last-Modified": _http_date(time.time())})
        if obj not in objs:
            return self._send(404, b"Not Found")
        entry = objs[obj]
        if self.command == "DELETE":
            del objs[obj]
            return self._send(204)
        if self.command == "POST":
            entry["meta"] = {}
            self._update_meta(entry["meta"], "x-object-meta-")
            if self.headers.get("Content-Type"):
                entry["content_type"] = self.headers["Content-Type"]
            return self._send(202)
        headers = {
            "ETag": '"%s"' % entry["etag"],
            "Content-Type": entry["content_type"],
            "Content-Length": str(len(entry["data"])),
            "Last-Modified": _http_date(entry["mtime"]),
            "X-Timestamp": "%.5f" % entry["mtime"],
        }
        headers.update(entry["meta"])
        return self._send(200, entry["data"], headers, head=self.command == "HEAD")
