"""A FAKE Swift-like HTTP server for the benchmark tests (not objstore, not
Swift): in-memory objects, v1.0 auth with a fixed token, JSON listings with
limit/marker, keep-alive. Enough for the load generator to talk to a real
socket; nothing here is under test."""

import hashlib
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKEN = "AUTH_tk_fake"


class FakeSwift:
    def __init__(self):
        self.objects = {}  # (container, name) -> bytes
        self.containers = set()
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def answer(self, status, body=b"", headers=None):
                self.send_response(status)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def route(self):
                url = urllib.parse.urlsplit(self.path)
                if url.path == "/auth/v1.0":
                    ok = self.headers.get("X-Auth-User") == "test:tester"
                    host, port = self.server.server_address[:2]
                    return self.answer(200 if ok else 401, headers={
                        "X-Auth-Token": TOKEN, "X-Storage-Url": "http://%s:%d/v1/AUTH_test" % (host, port)})
                if self.headers.get("X-Auth-Token") != TOKEN:
                    return self.answer(401)
                parts = [urllib.parse.unquote(p) for p in url.path.split("/")[3:]]
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with fake.lock:
                    if len(parts) == 1:
                        return self.container(parts[0], urllib.parse.parse_qs(url.query))
                    key = (parts[0], "/".join(parts[1:]))
                    if self.command == "PUT":
                        if parts[0] not in fake.containers:
                            return self.answer(404)
                        fake.objects[key] = body
                        return self.answer(201, headers={"ETag": hashlib.md5(body).hexdigest()})
                    if key not in fake.objects:
                        return self.answer(404)
                    if self.command == "DELETE":
                        del fake.objects[key]
                        return self.answer(204)
                    return self.answer(200, fake.objects[key])

            def container(self, name, query):
                if self.command == "PUT":
                    fake.containers.add(name)
                    return self.answer(201)
                if self.command == "DELETE":
                    fake.containers.discard(name)
                    return self.answer(204)
                names = sorted(o for c, o in fake.objects if c == name)
                marker = query.get("marker", [""])[0]
                limit = int(query.get("limit", ["10000"])[0])
                page = [{"name": n, "bytes": len(fake.objects[(name, n)])} for n in names if n > marker][:limit]
                return self.answer(200, json.dumps(page).encode(), {"Content-Type": "application/json"})

            do_GET = do_PUT = do_HEAD = do_DELETE = route

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def auth_url(self):
        return "http://127.0.0.1:%d/auth/v1.0" % self.server.server_address[1]

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
