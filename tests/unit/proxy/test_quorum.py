"""The proxy's quorum tables and decisions, with literals only."""

import pytest

from objstore.proxy import quorum


@pytest.mark.parametrize("replicas,size", [(1, 1), (2, 2), (3, 2), (4, 3), (5, 3)])
def test_quorum_size(replicas, size):
    assert quorum.quorum_size(replicas) == size


@pytest.mark.parametrize("statuses,expected", [
    ([201, 201, 201], 201),
    ([201, 202, 202], 202),
    ([201, 201, 503], 201),
    ([201, 503, 503], 503),
    ([404, 404, 201], 404),
    ([409, 409, 204], 409),
    ([204, 204, 404], 204),
    ([503, 503, 503], 503),
    ([507, 201, 500], 503),
    ([400, 404, 409], 409),
])
def test_best_status(statuses, expected):
    assert quorum.best_status(statuses, 3) == expected


@pytest.mark.parametrize("statuses,expected", [
    ([201, 201, 201], 201),
    ([201, 201, 503], 201),
    ([201, 503, 503], 503),
    ([422, 422, 422], 422),
    ([201, 422, 422], 422),
    ([409, 409, 201], 409),
])
def test_put_status(statuses, expected):
    assert quorum.put_status(statuses, 3) == expected


def test_put_expect_action_table():
    assert quorum.PUT_EXPECT_ACTION[100] == "send"
    assert quorum.PUT_EXPECT_ACTION[412] == "stop"
    assert quorum.PUT_EXPECT_ACTION[507] == "handoff"
    assert quorum.put_expect_action(502) == "handoff"
    assert quorum.put_expect_action(400) == "refuse"
    assert quorum.put_expect_action(202) == "send"


def test_read_class_table():
    assert {status: quorum.read_class(status) for status in (200, 206, 304, 404, 416, 500, 507, 400)} == {
        200: "source", 206: "source", 304: "source", 404: "not_found", 416: "source",
        500: "error", 507: "error", 400: "final"}


@pytest.mark.parametrize("answers,expected", [
    # every primary says 404
    ([(404, True, False)] * 3, 404),
    # one primary down, two say 404: a quorum of trustworthy answers
    ([(503, True, False), (404, True, False), (404, True, False), (404, False, False)], 404),
    # two primaries down: one primary 404 and handoffs 404 without a tombstone → cannot tell
    ([(503, True, False), (503, True, False), (404, True, False), (404, False, False), (404, False, False)], 503),
    # all primaries down, handoffs know nothing → 503
    ([(503, True, False)] * 3 + [(404, False, False)] * 3, 503),
    # handoffs holding tombstones are trusted
    ([(503, True, False)] * 3 + [(404, False, True)] * 2, 404),
    ([(400, True, False)] * 3, 400),
])
def test_read_failure_status(answers, expected):
    assert quorum.read_failure_status(answers, 3) == expected


def test_newest():
    assert quorum.newest([(1, "a"), (3, "b"), (2, "c")]) == "b"
    assert quorum.newest([(None, "a"), (1, "b")]) == "b"
    assert quorum.newest([(None, "a")]) == "a"
    assert quorum.newest([]) is None
