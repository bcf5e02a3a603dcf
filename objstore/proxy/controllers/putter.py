"""Object PUT: the body streamed to every replica at once.

Theory of operation:
1. Connect to every primary in parallel (greenthreads) and send the request
   head with ``Expect: 100-continue``; a primary that cannot be reached or
   answers 5xx/507 is replaced by the next handoff (one shared iterator), so
   each primary slot ends with a node that said 100, a refusal, or nothing.
   A body of at most ``SMALL_BODY`` bytes (and no If-None-Match) is read
   from the client first and sent with the head instead: the nodes' first
   answers are then final, and steps 2-4 do not apply (_put_whole).
2. Fewer than a quorum of nodes saying 100 → 503 before reading any body; a
   412 (``If-None-Match: *`` and the object exists) stops the PUT.
3. The body is read from the client ``client_chunk_size`` bytes at a time
   and each chunk is written to every node before the next is read, so the
   proxy holds at most one chunk per request whatever the object's size. A
   node that fails mid-body is dropped; below quorum the PUT fails (503).
   A body of known length is hashed here (md5 and CRC-32) and both follow
   it as a footer (common/footer.py): the nodes check the CRC-32 and take
   the md5 as ETag instead of each hashing every byte. A node whose 100
   did not say it takes footers is passed over in step 1.
4. A client that stops early (short read, broken chunking) → 499, a client
   that stalls → 408, too many bytes → 413. The node connections are then
   closed without finishing the body, so no node stores the object.
5. The final answers are read in parallel. Once a quorum of them are 2xx
   (each one means that node fsynced the object), the proxy waits at most
   ``post_quorum_timeout`` more for the others, then answers: a slow last
   replica does not hold the client. Its answer is still read (and its
   connection reused) in the background. quorum.put_status decides.

No listing, no metadata rules here: obj.py builds the headers.
"""

import functools
import socket

from objstore.common import footer, green
from objstore.common.exceptions import BackendError, ClientDisconnect, ClientTimeout, RequestEntityTooLarge
from objstore.proxy import quorum
from objstore.proxy.controllers.base import gather
from objstore.web.backend import quote_path

# Bodies up to this size (with a Content-Length) are read from the client
# first and sent to the nodes with the request head, without the
# ``Expect: 100-continue`` round trip: for a 4 KiB object that handshake (an
# interim answer written, read and parsed on every node connection) cost more
# than the body. A node refusing such a PUT costs it one small body read.
SMALL_BODY = 65536


def read_small(read, content_length):
    """The whole body of a small PUT, read before any node is asked.

    :raises ClientDisconnect, ClientTimeout: as ``read`` does (a body that
        ends early; nothing was sent to any node yet).
    :raises RequestEntityTooLarge: the source gave more than announced.
    """
    parts = []
    got = 0
    while got < content_length:
        data = read()
        if not data:
            raise ClientDisconnect("body ended after %d of %d bytes" % (got, content_length))
        parts.append(data)
        got += len(data)
    if got > content_length:
        raise RequestEntityTooLarge("Your request is too large.")
    return b"".join(parts)


def client_reader(environ, chunk_size, content_length):
    """``read() -> bytes`` over the client body; b'' once it is complete.

    :raises ClientDisconnect: the body ended before Content-Length or its
        chunked framing is broken.
    :raises ClientTimeout: the client stopped sending for client_timeout.
    """
    stream = environ["wsgi.input"]
    left = [content_length]

    def read():
        want = chunk_size if left[0] is None else min(chunk_size, left[0])
        if want == 0:
            return b""
        try:
            data = stream.read(want)
        except socket.timeout:
            raise ClientTimeout("client read timed out") from None
        except (OSError, ValueError) as err:
            raise ClientDisconnect("client disconnected: %s" % err) from None
        if left[0] is not None:
            if not data:
                raise ClientDisconnect("client sent %s bytes less than announced" % left[0])
            left[0] -= len(data)
        return data

    return read


def source_reader(source, chunk_size):
    """``read()`` over a backend StreamResponse (the source of a copy)."""

    def read():
        return source.read(chunk_size)

    return read


class PutResult:
    __slots__ = ("status", "etag", "statuses")

    def __init__(self, status, etag=None, statuses=()):
        self.status = status
        self.etag = etag
        self.statuses = statuses


def _connect(controller, node, handoffs, part, path, headers, expect, logger, body=b""):
    """One replica slot: ``(node, resp)`` with resp.status the node's first
    answer, or ``(None, None)`` when no node could take it.

    :param body: without ``expect``, the whole body, sent with the head (the
        answer is then the node's final one).
    """
    app = controller.app
    body = None if expect else body
    while node is not None:
        if not app.error_limiter.is_limited(node):
            full_path = "/%s/%s%s" % (quote_path(node["device"])[1:], part, path)
            try:
                resp = controller.pool.stream(node["ip"], node["port"], "PUT", full_path, headers,
                                              body=body, expect_continue=expect)
            except BackendError as err:
                controller.node_error(node, "PUT Object: %s" % err)
            else:
                action = quorum.put_expect_action(resp.status)
                if action == "send" and footer.HEADER in headers and \
                        resp.headers.get(footer.HEADER.lower(), "").lower() != footer.FORMAT:
                    # it would store the footer as part of the object: an object
                    # server older than this proxy (upgrade storage nodes first)
                    controller.node_error(node, "PUT Object: no body footer support; upgrade this object server")
                elif action != "handoff":
                    return node, resp
                elif resp.status == 507:
                    app.error_limiter.limit_now(node, "Object said 507")
                else:
                    controller.node_error(node, "PUT Object answered %s" % resp.status)
                resp.close()
        node = next(handoffs, None)
        if node is not None and app.config.log_handoffs:
            logger.info("Handoff used for PUT %s: %s:%s/%s", path, node["ip"], node["port"], node["device"])
    return None, None


def _finish(controller, node, resp):
    """Read one node's final answer after the body: ``(status, etag)``."""
    try:
        if resp.status == 100:
            final = resp.conn.read_head("PUT")
            final.pool = resp.pool
        else:
            final = resp
        final.read_all(limit=65536)
        final.release()
        return final.status, final.headers.get("etag", "").strip('"')
    except (BackendError, OSError) as err:
        resp.close()
        controller.node_error(node, "PUT Object final answer: %s" % err)
        return 503, None


def put_object(controller, ring, part, primaries, path, headers_list, read, content_length, chunked, max_size):
    """Stream a body to every replica; see the module docstring.

    :param headers_list: one headers dict per primary (container update
        headers differ per replica); Content-Length or Transfer-Encoding set.
    :param read: ``read() -> bytes`` (b'' at the end) giving the body.
    :returns: PutResult.
    :raises ClientDisconnect, ClientTimeout, RequestEntityTooLarge: the
        client's fault; no node has stored the object.
    """
    logger = controller.app.logger
    replicas = len(primaries)
    need = quorum.quorum_size(replicas)
    handoffs = iter(controller._handoffs(ring, part))
    if not chunked and content_length is not None and content_length <= SMALL_BODY \
            and "If-None-Match" not in headers_list[0]:
        body = read_small(read, content_length) if content_length else b""
        return _put_whole(controller, handoffs, part, primaries, path, headers_list, body, need)
    expect = chunked or bool(content_length)
    # A body of known length streamed after 100-continue carries its md5 and
    # CRC-32 after it (common/footer.py): hashed once here, not on every node.
    footed = expect and not chunked
    if footed:
        headers_list = [_footed_headers(headers, content_length) for headers in headers_list]
    pile = green.GreenPile(replicas)
    for node, headers in zip(primaries, headers_list):
        pile.spawn(_connect, controller, node, handoffs, part, path, headers, expect, logger)
    slots = list(pile)
    putters = []
    statuses = []
    stop = None
    for node, resp in slots:
        if resp is None:
            statuses.append(503)
            continue
        action = quorum.put_expect_action(resp.status)
        if action == "send":
            putters.append((node, resp))
        else:
            statuses.append(resp.status)
            if action == "stop":
                stop = resp.status
            resp.close()
    if stop is not None or len(putters) < need:
        for _node, resp in putters:
            resp.close()
        if stop is not None:
            return PutResult(stop, statuses=statuses)
        logger.error("PUT %s: %d node(s) ready, %d needed (other answers %s)", path, len(putters), need, statuses)
        return PutResult(quorum.best_status(statuses + [503] * len(putters), replicas) if statuses else 503,
                         statuses=statuses)
    if expect:
        putters = _send_body(controller, putters, read, chunked, max_size, need, path, footed)
        if putters is None:
            return PutResult(503, statuses=statuses)
    finals = final_answers(lambda node, resp: _finish(controller, node, resp), putters, need,
                           controller.app.config.post_quorum_timeout)
    return _result(statuses, finals, replicas, path, logger)


def _put_whole(controller, handoffs, part, primaries, path, headers_list, body, need):
    """A PUT whose whole (small) body goes with the head to each replica:
    one greenthread per replica slot sends it (a handoff standing in for a
    primary that cannot take it) and reads the final answer; as in step 5,
    the answer waits at most ``post_quorum_timeout`` once a quorum succeeded.

    If-None-Match PUTs do not come here: a 412 must stop the PUT before any
    node stores the body.
    """
    logger = controller.app.logger

    def one(node, headers):
        node, resp = _connect(controller, node, handoffs, part, path, headers, False, logger, body)
        if resp is None:
            return 503, None
        return _finish(controller, node, resp)

    finals = final_answers(one, list(zip(primaries, headers_list)), need, controller.app.config.post_quorum_timeout)
    result = _result([], finals, len(primaries), path, logger)
    if result.status >= 500:
        logger.error("PUT %s failed: answers %s", path, result.statuses)
    return result


def _result(statuses, finals, replicas, path, logger):
    """The PutResult from refusals before the body (``statuses``) and the
    final answers (``[(status, etag)]``)."""
    statuses = list(statuses) + [status for status, _etag in finals]
    etags = {etag for status, etag in finals if 200 <= status < 300 and etag}
    status = quorum.put_status(statuses, replicas)
    if len(etags) > 1:
        logger.error("PUT %s: replicas disagree on the ETag: %s", path, sorted(etags))
        status = 500
    return PutResult(status, etags.pop() if etags else None, statuses)


def final_answers(finish, putters, need, grace):
    """Each putter's ``(status, etag)`` in the order they come, stopping
    ``grace`` seconds after ``need`` of them were 2xx (the rest finish in
    the background and are left out).

    :param finish: ``finish(node, resp) -> (status, etag)``, run in one
        greenthread per putter.
    :param putters: ``[(node, resp)]``.
    """
    calls = [functools.partial(finish, node, resp) for node, resp in putters]
    return gather(calls, lambda finals: sum(1 for status, _etag in finals if 200 <= status < 300) >= need,
                  grace, (503, None))


def _footed_headers(headers, content_length):
    """A node's headers for a body followed by its footer."""
    result = {key: value for key, value in headers.items() if key.lower() != "content-length"}
    result["Content-Length"] = str(content_length + footer.SIZE)
    result[footer.HEADER] = footer.FORMAT
    return result


def _send_body(controller, putters, read, chunked, max_size, need, path, footed=False):
    """Copy the body to every putter (then, when ``footed``, its footer);
    returns the putters still alive, or None when fewer than ``need`` are
    (everything closed)."""
    sent = 0
    hasher = footer.BodyHasher() if footed else None
    try:
        while True:
            data = read()
            if not data:
                break
            if hasher is not None:
                hasher.update(data)
            sent += len(data)
            if sent > max_size:
                raise RequestEntityTooLarge("Your request is too large.")
            putters = _send_all(controller, putters, data, chunked, "PUT Object body")
            if len(putters) < need:
                controller.app.logger.error("PUT %s: too few nodes left mid-body", path)
                _close(putters)
                return None
        if chunked or hasher is not None:
            end = b"" if chunked else hasher.footer()
            putters = _send_all(controller, putters, end, chunked, "PUT Object body end")
            if len(putters) < need:
                _close(putters)
                return None
    except BaseException:  # client gone, too large, a copy source failing...: no node may keep a partial body
        _close(putters)
        raise
    return putters


def _send_all(controller, putters, data, chunked, what):
    """Send ``data`` (a chunk when ``chunked``) to every putter; returns those
    that took it (the others are closed and their nodes' errors counted)."""
    alive = []
    for node, resp in putters:
        try:
            if chunked:
                resp.conn.send_chunk(data)
            else:
                resp.conn.send(data)
            alive.append((node, resp))
        except OSError as err:
            resp.close()
            controller.node_error(node, "%s: %s" % (what, err))
    return alive


def _close(putters):
    for _node, resp in putters:
        resp.close()
