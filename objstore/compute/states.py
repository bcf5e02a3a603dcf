"""Instance states, the actions allowed from each, and how a record's state is
reconciled with the power state libvirt reports. Pure tables and the two
functions that read them: no I/O, no libvirt.

The states are Nova's vm_states that a single-host companion needs: ACTIVE,
BUILDING, PAUSED, SUSPENDED, STOPPED, ERROR, DELETED. As in Nova, a soft
reboot is allowed only from ACTIVE, a hard reboot also from STOPPED, PAUSED,
SUSPENDED and ERROR; snapshots from ACTIVE, STOPPED, PAUSED and SUSPENDED.
"""

from objstore.common.exceptions import InvalidInstanceState

ACTIVE = "ACTIVE"
BUILDING = "BUILDING"
PAUSED = "PAUSED"
SUSPENDED = "SUSPENDED"
STOPPED = "STOPPED"
ERROR = "ERROR"
DELETED = "DELETED"

STATES = (ACTIVE, BUILDING, PAUSED, SUSPENDED, STOPPED, ERROR, DELETED)

# action -> {state it is allowed from: state after it}
TRANSITIONS = {
    "build_done": {BUILDING: ACTIVE},
    "build_failed": {BUILDING: ERROR},
    "stop": {ACTIVE: STOPPED, PAUSED: STOPPED, ERROR: STOPPED},
    "start": {STOPPED: ACTIVE},
    "reboot_soft": {ACTIVE: ACTIVE},
    "reboot_hard": {ACTIVE: ACTIVE, STOPPED: ACTIVE, PAUSED: ACTIVE, SUSPENDED: ACTIVE, ERROR: ACTIVE},
    "pause": {ACTIVE: PAUSED},
    "unpause": {PAUSED: ACTIVE},
    "suspend": {ACTIVE: SUSPENDED},
    "resume": {SUSPENDED: ACTIVE},
    "snapshot": {ACTIVE: ACTIVE, STOPPED: STOPPED, PAUSED: PAUSED, SUSPENDED: SUSPENDED},
    "console_log": {ACTIVE: ACTIVE, STOPPED: STOPPED, PAUSED: PAUSED, SUSPENDED: SUSPENDED, ERROR: ERROR},
    "meta": {ACTIVE: ACTIVE, STOPPED: STOPPED, PAUSED: PAUSED, SUSPENDED: SUSPENDED, ERROR: ERROR},
    "delete": {
        ACTIVE: DELETED,
        BUILDING: DELETED,
        PAUSED: DELETED,
        SUSPENDED: DELETED,
        STOPPED: DELETED,
        ERROR: DELETED,
    },
}

# Power states as the driver names them (libvirt's virDomainState, plus
# "missing" when the domain is not defined at all).
RUNNING = "running"
POWER_PAUSED = "paused"
SHUTOFF = "shutoff"
SAVED = "saved"  # shut off with a managed-save image
CRASHED = "crashed"
MISSING = "missing"
POWER_STATES = (RUNNING, POWER_PAUSED, SHUTOFF, SAVED, CRASHED, MISSING)

# power state -> {record state: reconciled state}; a record state not listed
# is kept. ERROR is sticky except when the domain is gone; BUILDING is an
# interrupted build (the service died mid-boot).
RECONCILE = {
    RUNNING: {PAUSED: ACTIVE, STOPPED: ACTIVE, SUSPENDED: ACTIVE, BUILDING: ACTIVE},
    POWER_PAUSED: {ACTIVE: PAUSED, STOPPED: PAUSED, SUSPENDED: PAUSED, BUILDING: PAUSED},
    SHUTOFF: {ACTIVE: STOPPED, PAUSED: STOPPED, SUSPENDED: STOPPED, BUILDING: ERROR},
    SAVED: {ACTIVE: SUSPENDED, PAUSED: SUSPENDED, STOPPED: SUSPENDED, BUILDING: ERROR},
    CRASHED: {ACTIVE: ERROR, PAUSED: ERROR, SUSPENDED: ERROR, STOPPED: ERROR, BUILDING: ERROR},
    MISSING: {ACTIVE: ERROR, PAUSED: ERROR, SUSPENDED: ERROR, STOPPED: ERROR, BUILDING: ERROR},
}


def next_state(state, action, what="instance"):
    """The state after ``action`` from ``state``.

    :raises InvalidInstanceState: (409) when ``action`` is not allowed from
        ``state``; the message names both and what is allowed.
    :raises KeyError: for an action that does not exist (a programming error).
    """
    allowed = TRANSITIONS[action]
    if state not in allowed:
        raise InvalidInstanceState(
            "cannot %s %s while it is %s (allowed from: %s)"
            % (action.replace("_", " "), what, state, ", ".join(sorted(allowed)))
        )
    return allowed[state]


def reconciled(state, power_state):
    """The record state that matches what libvirt reports."""
    if state == DELETED:
        return DELETED
    return RECONCILE[power_state].get(state, state)
