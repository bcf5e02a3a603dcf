"""The state table, checked with literals (no libvirt)."""

import pytest

from objstore.common.exceptions import InvalidInstanceState
from objstore.compute import states
from objstore.compute.states import (
    ACTIVE,
    BUILDING,
    DELETED,
    ERROR,
    PAUSED,
    STOPPED,
    SUSPENDED,
    next_state,
    reconciled,
)

pytestmark = pytest.mark.compute


def test_transition_table_literals():
    assert states.TRANSITIONS["pause"] == {ACTIVE: PAUSED}
    assert states.TRANSITIONS["unpause"] == {PAUSED: ACTIVE}
    assert states.TRANSITIONS["suspend"] == {ACTIVE: SUSPENDED}
    assert states.TRANSITIONS["resume"] == {SUSPENDED: ACTIVE}
    assert states.TRANSITIONS["start"] == {STOPPED: ACTIVE}
    assert states.TRANSITIONS["stop"] == {ACTIVE: STOPPED, PAUSED: STOPPED, ERROR: STOPPED}
    assert states.TRANSITIONS["reboot_soft"] == {ACTIVE: ACTIVE}
    assert set(states.TRANSITIONS["reboot_hard"]) == {ACTIVE, STOPPED, PAUSED, SUSPENDED, ERROR}
    assert set(states.TRANSITIONS["snapshot"]) == {ACTIVE, STOPPED, PAUSED, SUSPENDED}
    assert set(states.TRANSITIONS["delete"]) == {ACTIVE, BUILDING, PAUSED, SUSPENDED, STOPPED, ERROR}
    assert states.TRANSITIONS["build_done"] == {BUILDING: ACTIVE}
    assert states.TRANSITIONS["build_failed"] == {BUILDING: ERROR}


def test_every_target_is_a_state():
    for action, table in states.TRANSITIONS.items():
        for src, dst in table.items():
            assert src in states.STATES and dst in states.STATES, action
    for power, table in states.RECONCILE.items():
        assert power in states.POWER_STATES
        for src, dst in table.items():
            assert src in states.STATES and dst in states.STATES


@pytest.mark.parametrize(
    "state,action,expected",
    [
        (ACTIVE, "pause", PAUSED),
        (PAUSED, "unpause", ACTIVE),
        (ACTIVE, "stop", STOPPED),
        (ERROR, "reboot_hard", ACTIVE),
        (SUSPENDED, "reboot_hard", ACTIVE),
        (STOPPED, "snapshot", STOPPED),
        (ERROR, "delete", DELETED),
    ],
)
def test_allowed(state, action, expected):
    assert next_state(state, action) == expected


@pytest.mark.parametrize(
    "state,action",
    [
        (STOPPED, "pause"),
        (PAUSED, "suspend"),
        (STOPPED, "reboot_soft"),
        (PAUSED, "reboot_soft"),
        (ACTIVE, "start"),
        (ACTIVE, "unpause"),
        (ACTIVE, "resume"),
        (BUILDING, "snapshot"),
        (DELETED, "delete"),
        (ERROR, "snapshot"),
    ],
)
def test_disallowed_is_409_with_a_clear_message(state, action):
    with pytest.raises(InvalidInstanceState) as info:
        next_state(state, action, "instance x")
    assert info.value.status == 409
    assert ("instance x while it is %s" % state) in str(info.value)
    assert "allowed from" in str(info.value)


@pytest.mark.parametrize(
    "state,power,expected",
    [
        (ACTIVE, "running", ACTIVE),
        (ACTIVE, "paused", PAUSED),
        (ACTIVE, "shutoff", STOPPED),
        (ACTIVE, "saved", SUSPENDED),
        (ACTIVE, "crashed", ERROR),
        (ACTIVE, "missing", ERROR),
        (PAUSED, "running", ACTIVE),
        (STOPPED, "running", ACTIVE),
        (STOPPED, "shutoff", STOPPED),
        (SUSPENDED, "saved", SUSPENDED),
        (SUSPENDED, "shutoff", STOPPED),
        (BUILDING, "running", ACTIVE),
        (BUILDING, "shutoff", ERROR),
        (ERROR, "running", ERROR),
        (ERROR, "shutoff", ERROR),
        (DELETED, "running", DELETED),
    ],
)
def test_reconcile_table(state, power, expected):
    assert reconciled(state, power) == expected
