"""Pure quorum decisions of the proxy, as tables and small functions.

No I/O, no HTTP types: callers pass backend status codes (ints) and get back
the status the client sees or the action to take. Status 503 stands for "no
answer" (connect error, timeout, error-limited node) everywhere here.
"""

# What one backend's answer to the head of an object PUT (the
# ``Expect: 100-continue`` handshake) means for that connection.
#   send      - the node waits for the body
#   handoff   - the node cannot take it; try the next handoff instead
#   stop      - the whole PUT is answered with this status (precondition)
#   refuse    - the node refuses this write (counts as a failed replica)
PUT_EXPECT_ACTION = {
    100: "send",
    201: "send",       # no Expect sent (empty body): the final answer already
    409: "refuse",     # a newer timestamp is there already
    412: "stop",       # If-None-Match: * and the object exists
    413: "stop",
    422: "refuse",
    499: "refuse",
    500: "handoff",
    503: "handoff",
    507: "handoff",
}

# How a read (GET/HEAD) treats one backend's answer.
#   source    - serve this response to the client
#   not_found - the node has no such thing (maybe a tombstone); ask on
#   error     - the node failed; ask the next one and count it against the node
READ_CLASS = {
    200: "source",
    204: "source",
    206: "source",
    304: "source",
    412: "source",
    416: "source",
    404: "not_found",
}


def quorum_size(replicas):
    """Majority of ``replicas``: 2 of 3, 2 of 2, 1 of 1, 3 of 4."""
    return replicas // 2 + 1


def put_expect_action(status):
    """:returns: one of PUT_EXPECT_ACTION's values for any status."""
    action = PUT_EXPECT_ACTION.get(status)
    if action is not None:
        return action
    if 200 <= status < 300:
        return "send"
    if status >= 500:
        return "handoff"
    return "refuse"


def read_class(status):
    """:returns: ``source``, ``not_found``, ``error`` or ``final`` (a 4xx the
    client should see as is, e.g. 400)."""
    cls = READ_CLASS.get(status)
    if cls is not None:
        return cls
    if 200 <= status < 300:
        return "source"
    if status >= 500:
        return "error"
    if 300 <= status < 400:
        return "source"
    return "final"


def best_status(statuses, replicas):
    """The status answering a write sent to ``replicas`` nodes.

    The first class among 2xx, 3xx, 4xx that at least a quorum of the
    answers share wins, and the highest status of that class is answered
    (so a container PUT seen as 201, 202, 202 answers 202). With no quorum
    class the client gets 503.

    :param statuses: one int per node asked (503 for no answer).
    :returns: int status.
    """
    quorum = quorum_size(replicas)
    for base in (200, 300, 400):
        same = [status for status in statuses if base <= status < base + 100]
        if len(same) >= quorum:
            return max(same)
    return 503


def put_status(statuses, replicas):
    """Final status of an object PUT from the nodes' final answers.

    A quorum of 2xx answers 201; otherwise best_status (so two 422 answer
    422 and two failures answer 503).
    """
    quorum = quorum_size(replicas)
    if sum(1 for status in statuses if 200 <= status < 300) >= quorum:
        return 201
    return best_status(statuses, replicas)


def read_failure_status(answers, replicas):
    """The status of a read that found no source.

    :param answers: ``[(status, from_primary, has_backend_timestamp)]`` for
        every node asked.
    :returns: 404 when a quorum of trustworthy "not found" answers exists — a
        404 from a primary, or from a handoff that holds a tombstone
        (X-Backend-Timestamp) — else 503 (the copies may sit on nodes that
        did not answer, so "not found" would be a guess). A 4xx every node
        agrees on (e.g. 400) is answered as is.
    """
    trusted = sum(1 for status, primary, stamped in answers if status == 404 and (primary or stamped))
    if trusted >= quorum_size(replicas):
        return 404
    finals = [status for status, _primary, _stamped in answers if read_class(status) == "final"]
    if finals and len(finals) >= quorum_size(replicas):
        return max(set(finals), key=finals.count)
    return 503


def newest(candidates):
    """The candidate with the greatest timestamp (first one on ties).

    :param candidates: ``[(timestamp_or_None, item)]``; None sorts oldest.
    :returns: the item, or None for an empty list.
    """
    best = None
    best_ts = None
    for stamp, item in candidates:
        if best is None or (stamp is not None and (best_ts is None or stamp > best_ts)):
            best, best_ts = item, stamp
    return best
