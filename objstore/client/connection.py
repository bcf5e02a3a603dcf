"""A small blocking client of the Swift v1 API over ``http.client``.

What lives here: tempauth v1.0 authentication (:func:`get_auth`), and
:class:`Connection`, which does HEAD/GET/PUT/POST/DELETE on accounts,
containers and objects, listings with paging (``full_listing``), streaming
uploads from a file object (chunked when the size is unknown) and streaming
downloads into a file with the ETag checked.

What does not: no retries beyond one re-authentication on 401 and one resend
on a keep-alive connection the server had closed; no segmented (large object)
uploads; no eventlet (this works the same whether or not the process is
monkey-patched). Errors are :class:`objstore.common.exceptions.ClientError`
with ``http_status`` (0 when the server could not be reached).
"""

import hashlib
import http.client
import json
import os
import socket
import urllib.parse

from objstore.common.exceptions import ClientError

CHUNK = 65536


def _lower(headers):
    return {k.lower(): v for k, v in headers}


def _split_url(url):
    """``(scheme, host, port, path)`` of an http(s) URL.

    :raises ClientError: for another scheme or no host.
    """
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ClientError("not an http(s) URL: %r" % (url,))
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return parsed.scheme, parsed.hostname, port, parsed.path.rstrip("/")


def _new_http(scheme, host, port, timeout):
    cls = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
    return cls(host, port, timeout=timeout)


def _unreachable(method, url, err):
    return ClientError("%s %s failed: %s" % (method, url, err), http_status=0)


def _http_error(method, url, resp, body):
    text = body[:200].decode("utf-8", "replace").strip()
    message = "%s %s: %d %s" % (method, url, resp.status, resp.reason)
    if text:
        message += ": " + text
    return ClientError(
        message, http_status=resp.status, http_reason=resp.reason, body=body, headers=_lower(resp.getheaders())
    )


def get_auth(auth_url, user, key, timeout=10.0):
    """Authenticate with tempauth v1.0.

    :param auth_url: e.g. ``http://127.0.0.1:8080/auth/v1.0``.
    :param user: ``account:user``.
    :returns: ``(storage_url, token)``.
    :raises ClientError: refused (401) or unreachable (``http_status`` 0).
    """
    scheme, host, port, path = _split_url(auth_url)
    conn = _new_http(scheme, host, port, timeout)
    try:
        conn.request("GET", path or "/", headers={"X-Auth-User": user, "X-Auth-Key": key})
        resp = conn.getresponse()
        body = resp.read()
    except (OSError, http.client.HTTPException) as err:
        raise _unreachable("GET", auth_url, err) from None
    finally:
        conn.close()
    if resp.status // 100 != 2:
        raise _http_error("GET", auth_url, resp, body)
    headers = _lower(resp.getheaders())
    url = headers.get("x-storage-url")
    token = headers.get("x-auth-token") or headers.get("x-storage-token")
    if not url or not token:
        raise ClientError("auth answered without X-Storage-Url/X-Auth-Token", http_status=resp.status)
    return url, token


def listing_query(marker=None, limit=None, prefix=None, delimiter=None, end_marker=None, reverse=False):
    """The query string of one JSON listing page (keys in a stable order)."""
    params = [("format", "json")]
    for name, value in (
        ("marker", marker),
        ("limit", limit),
        ("prefix", prefix),
        ("delimiter", delimiter),
        ("end_marker", end_marker),
    ):
        if value is not None and value != "":
            params.append((name, str(value)))
    if reverse:
        params.append(("reverse", "true"))
    return urllib.parse.urlencode(params, quote_via=urllib.parse.quote)


def next_marker(page):
    """The marker that asks for the page after ``page`` (a JSON listing)."""
    last = page[-1]
    return last.get("name", last.get("subdir"))


class _Body:
    """A request body: bytes, a file object or an iterable of chunks.

    ``length`` is None when unknown (sent chunked). ``rewind()`` tells whether
    the body can be sent again (for a resend after a stale connection).
    """

    def __init__(self, contents, length=None, chunk_size=CHUNK):
        self.contents = contents
        self.chunk_size = chunk_size
        self.start = None
        if isinstance(contents, str):
            self.contents = contents = contents.encode("utf-8")
        if contents is None:
            self.length = 0
        elif isinstance(contents, (bytes, bytearray, memoryview)):
            self.length = len(contents)
        elif hasattr(contents, "read"):
            self.length = length if length is not None else _remaining(contents)
            try:
                self.start = contents.tell()
            except (OSError, AttributeError):
                self.start = None
        else:
            self.length = length
        self.md5 = hashlib.md5()

    def rewind(self):
        if self.contents is None or isinstance(self.contents, (bytes, bytearray, memoryview)):
            self.md5 = hashlib.md5()
            return True
        if hasattr(self.contents, "seek") and self.start is not None:
            self.contents.seek(self.start)
            self.md5 = hashlib.md5()
            return True
        return False

    def chunks(self):
        contents = self.contents
        if contents is None:
            return
        if isinstance(contents, (bytes, bytearray, memoryview)):
            self.md5.update(contents)
            yield bytes(contents)
            return
        if hasattr(contents, "read"):
            left = self.length
            while left is None or left > 0:
                want = self.chunk_size if left is None else min(self.chunk_size, left)
                data = contents.read(want)
                if not data:
                    break
                if isinstance(data, str):
                    data = data.encode("utf-8")
                if left is not None:
                    left -= len(data)
                self.md5.update(data)
                yield data
            if left:
                raise ClientError("the upload source ended %d bytes short" % left)
            return
        for data in contents:
            if isinstance(data, str):
                data = data.encode("utf-8")
            self.md5.update(data)
            yield data


def _remaining(fileobj):
    """Bytes left in a regular file from its position, or None when unknown."""
    try:
        size = os.fstat(fileobj.fileno()).st_size
        return max(0, size - fileobj.tell())
    except (OSError, AttributeError, ValueError):
        pass
    try:
        here = fileobj.tell()
        end = fileobj.seek(0, os.SEEK_END)
        fileobj.seek(here)
        return end - here
    except (OSError, AttributeError, ValueError):
        return None


class Connection:
    """One user's connection to the object store.

    Give either ``auth_url`` + ``user`` + ``key`` (authenticates lazily, and
    again once when a request answers 401) or ``storage_url`` + ``token``.

    :param timeout: seconds for the connect and for each socket read/write.
    """

    def __init__(self, auth_url=None, user=None, key=None, storage_url=None, token=None, timeout=30.0):
        if not storage_url and not (auth_url and user is not None and key is not None):
            raise ClientError("need auth_url, user and key, or storage_url and token")
        self.auth_url = auth_url
        self.user = user
        self.key = key
        self.storage_url = storage_url
        self.token = token
        self.timeout = timeout
        self._http = None
        self._http_for = None

    # --- plumbing --------------------------------------------------------------
    def authenticate(self):
        """Fetch a fresh storage URL and token. :returns: ``(storage_url, token)``."""
        if not self.auth_url:
            raise ClientError("token refused and no auth_url to get another", http_status=401)
        self.storage_url, self.token = get_auth(self.auth_url, self.user, self.key, self.timeout)
        return self.storage_url, self.token

    def close(self):
        if self._http is not None:
            self._http.close()
        self._http = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _conn(self, scheme, host, port):
        if self._http is None or self._http_for != (scheme, host, port):
            self.close()
            self._http = _new_http(scheme, host, port, self.timeout)
            self._http_for = (scheme, host, port)
        return self._http

    def path_of(self, container=None, obj=None):
        """The quoted request path under the storage URL."""
        if not self.storage_url or not self.token:
            self.authenticate()
        path = _split_url(self.storage_url)[3]
        if container is not None:
            path += "/" + urllib.parse.quote(container, safe="")
            if obj is not None:
                path += "/" + urllib.parse.quote(obj, safe="/")
        return path

    def request(self, method, container=None, obj=None, query="", headers=None, body=None, stream=False):
        """Send one request; re-authenticates once on 401.

        :param body: a :class:`_Body`, or None.
        :param stream: leave the response body unread (caller reads + closes).
        :returns: ``(http.client.HTTPResponse, headers dict with lower-case keys,
            body bytes or None when streaming)``.
        :raises ClientError: any status >= 300 (``http_status`` set), or the
            server could not be reached (``http_status`` 0).
        """
        for attempt in (0, 1):
            path = self.path_of(container, obj)
            if query:
                path += "?" + query
            send = dict(headers or {})
            send["X-Auth-Token"] = self.token
            resp = self._send(method, path, send, body)
            if resp.status == 401 and attempt == 0 and self.auth_url and (body is None or body.rewind()):
                resp.read()
                self.authenticate()
                continue
            break
        url = self.storage_url.rstrip("/") + path[len(_split_url(self.storage_url)[3]):]
        if resp.status // 100 != 2:
            data = resp.read()
            if resp.will_close:
                self.close()
            raise _http_error(method, url, resp, data)
        if stream:
            return resp, _lower(resp.getheaders()), None
        data = resp.read()
        if resp.will_close:
            self.close()
        return resp, _lower(resp.getheaders()), data

    def _send(self, method, path, headers, body):
        scheme, host, port, _ = _split_url(self.storage_url)
        for attempt in (0, 1):
            reused = self._http is not None and self._http.sock is not None
            conn = self._conn(scheme, host, port)
            try:
                if conn.sock is None:
                    conn.connect()
                    # headers and body go out in separate writes: without this,
                    # Nagle plus delayed ACKs cost ~40 ms per request
                    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if body is None:
                    conn.request(method, path, headers=headers)
                else:
                    if body.length is None:
                        headers["Transfer-Encoding"] = "chunked"
                        conn.request(method, path, body=body.chunks(), headers=headers, encode_chunked=True)
                    else:
                        headers["Content-Length"] = str(body.length)
                        conn.request(method, path, body=body.chunks(), headers=headers)
                return conn.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as err:
                self.close()
                if attempt == 0 and reused and (body is None or body.rewind()):
                    continue  # the server closed an idle keep-alive connection
                raise _unreachable(method, "%s://%s:%s%s" % (scheme, host, port, path), err) from None
            except (OSError, socket.timeout, http.client.HTTPException) as err:
                self.close()
                raise _unreachable(method, "%s://%s:%s%s" % (scheme, host, port, path), err) from None
        raise ClientError("unreachable")  # pragma: no cover

    def _listing(self, container, full_listing, **kwargs):
        if not full_listing:
            _, headers, data = self.request("GET", container, query=listing_query(**kwargs))
            return headers, json.loads(data or b"[]")
        result = []
        headers = {}
        marker = kwargs.pop("marker", None)
        limit = kwargs.pop("limit", None)
        while True:
            _, headers, data = self.request(
                "GET", container, query=listing_query(marker=marker, limit=limit, **kwargs)
            )
            page = json.loads(data or b"[]")
            if not page:
                break
            result.extend(page)
            marker = next_marker(page)
        return headers, result

    # --- account ---------------------------------------------------------------
    def head_account(self):
        """:returns: the account's headers (lower-case keys)."""
        return self.request("HEAD")[1]

    def get_account(self, marker=None, limit=None, prefix=None, end_marker=None, full_listing=False):
        """One page (or, with ``full_listing``, every page) of the containers.

        :returns: ``(headers, [{"name", "count", "bytes", ...}])``.
        """
        return self._listing(
            None, full_listing, marker=marker, limit=limit, prefix=prefix, end_marker=end_marker
        )

    def post_account(self, headers):
        self.request("POST", headers=headers)

    # --- container -------------------------------------------------------------
    def put_container(self, container, headers=None):
        self.request("PUT", container, headers=headers)

    def head_container(self, container):
        return self.request("HEAD", container)[1]

    def get_container(
        self, container, marker=None, limit=None, prefix=None, delimiter=None, end_marker=None, full_listing=False
    ):
        """One page (or every page) of a container's objects.

        :returns: ``(headers, [{"name", "hash", "bytes", "content_type",
            "last_modified"} or {"subdir"}])``.
        """
        return self._listing(
            container,
            full_listing,
            marker=marker,
            limit=limit,
            prefix=prefix,
            delimiter=delimiter,
            end_marker=end_marker,
        )

    def post_container(self, container, headers):
        self.request("POST", container, headers=headers)

    def delete_container(self, container):
        self.request("DELETE", container)

    # --- object ----------------------------------------------------------------
    def put_object(
        self, container, obj, contents, content_length=None, content_type=None, headers=None, chunk_size=CHUNK
    ):
        """Upload ``contents`` (bytes, str, a file object or an iterable of bytes).

        A file object is streamed in ``chunk_size`` pieces from its current
        position; when its size cannot be found (a pipe) it goes chunked.
        The ETag the server answers is compared with the MD5 of what was sent.

        :returns: the object's ETag (MD5 hex).
        :raises ClientError: on an error status or an ETag mismatch.
        """
        body = _Body(contents, content_length, chunk_size)
        send = dict(headers or {})
        if content_type:
            send["Content-Type"] = content_type
        _, got, _ = self.request("PUT", container, obj, headers=send, body=body)
        etag = (got.get("etag") or "").strip('"')
        if etag and etag != body.md5.hexdigest():
            raise ClientError(
                "PUT %s/%s: server ETag %s != sent MD5 %s" % (container, obj, etag, body.md5.hexdigest())
            )
        return etag or body.md5.hexdigest()

    def head_object(self, container, obj):
        return self.request("HEAD", container, obj)[1]

    def get_object(self, container, obj, headers=None, chunk_size=CHUNK):
        """Start a download.

        :returns: ``(headers, chunks)``; ``chunks`` is a generator of bytes that
            must be read to its end (or closed) before the next request.
        """
        resp, got, _ = self.request("GET", container, obj, headers=headers, stream=True)
        return got, self._chunks(resp, chunk_size)

    def _chunks(self, resp, chunk_size):
        try:
            while True:
                try:
                    data = resp.read(chunk_size)
                except (OSError, http.client.HTTPException) as err:
                    self.close()
                    raise ClientError("download interrupted: %s" % err) from None
                if not data:
                    break
                yield data
        finally:
            if not resp.isclosed():
                self.close()  # not read to the end: the connection cannot be reused
            elif resp.will_close:
                self.close()

    def download_object(self, container, obj, fileobj, chunk_size=CHUNK):
        """Stream an object into ``fileobj``, checking its MD5 against the ETag.

        The check is skipped for manifests (their ETag is not the body's MD5).

        :returns: ``(headers, bytes written)``.
        :raises ClientError: on an error status, a short body or a mismatch.
        """
        headers, chunks = self.get_object(container, obj, chunk_size=chunk_size)
        md5 = hashlib.md5()
        written = 0
        for data in chunks:
            md5.update(data)
            fileobj.write(data)
            written += len(data)
        expected_len = headers.get("content-length")
        if expected_len is not None and int(expected_len) != written:
            raise ClientError("GET %s/%s: got %d of %s bytes" % (container, obj, written, expected_len))
        etag = (headers.get("etag") or "").strip('"')
        manifest = "x-object-manifest" in headers or "x-static-large-object" in headers
        if etag and not manifest and etag != md5.hexdigest():
            raise ClientError("GET %s/%s: body MD5 %s != ETag %s" % (container, obj, md5.hexdigest(), etag))
        return headers, written

    def post_object(self, container, obj, headers):
        self.request("POST", container, obj, headers=headers)

    def delete_object(self, container, obj):
        self.request("DELETE", container, obj)
