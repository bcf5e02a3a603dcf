"""The one module that imports eventlet and greenlet.

eventlet is in bug-fix-only mode upstream; keeping every use behind this
module lets us swap it later. Its deprecation banner is meant for developers
choosing a framework, not for our users, so it is silenced here.

Importing this module does not monkey-patch anything; servers call
:func:`monkey_patch` from their ``main()``.
"""

import os
import sys
import warnings

# Without this, eventlet's green DNS resolver imports dnspython: ~9 MiB of
# memory and 240 modules in every process. Backend traffic goes to the IP
# addresses in the rings, so name lookups are rare (a client's auth URL):
# they use the C resolver and block their process for that moment. An
# operator can set EVENTLET_NO_GREENDNS=no to have green DNS back.
os.environ.setdefault("EVENTLET_NO_GREENDNS", "yes")

# eventlet.wsgi imports eventlet.green.BaseHTTPServer, whose patcher.inject()
# re-imports ``http.server`` with green threading/socket and then puts the
# original back in sys.modules, but not back on the ``http`` package: when
# ``http.server`` was imported before us, ``http.server`` (attribute access,
# what ``import http.server`` code uses) stays the green copy for the whole
# process. In a process that is not monkey-patched (tests, CLIs) such an
# HTTPServer's shutdown() then waits on a green lock that its real serving
# thread releases into a hub of its own, and never wakes. _restore_submodules
# undoes that after the imports below.
_SUBMODULES_BEFORE = {name: mod for name, mod in sys.modules.items() if "." in name and mod is not None}

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import eventlet
    import eventlet.debug
    import eventlet.greenio
    import eventlet.hubs
    import eventlet.queue
    import eventlet.semaphore
    import eventlet.timeout
    import eventlet.tpool
    import eventlet.wsgi
    import greenlet


def _restore_submodules(before):
    """Point each ``package.sub`` attribute back at its sys.modules entry for
    the submodules imported before eventlet (those eventlet's inject replaced)."""
    for name, mod in before.items():
        parent_name, _, child = name.rpartition(".")
        parent = sys.modules.get(parent_name)
        if parent is not None and sys.modules.get(name) is mod and getattr(parent, child, None) is not mod:
            setattr(parent, child, mod)


_restore_submodules(_SUBMODULES_BEFORE)
del _SUBMODULES_BEFORE

GreenPool = eventlet.GreenPool
GreenPile = eventlet.GreenPile
Timeout = eventlet.timeout.Timeout
Queue = eventlet.queue.LightQueue
Empty = eventlet.queue.Empty
Full = eventlet.queue.Full
Event = eventlet.event.Event
Semaphore = eventlet.semaphore.Semaphore
GreenletExit = greenlet.GreenletExit
spawn = eventlet.spawn
spawn_n = eventlet.spawn_n
spawn_after = eventlet.spawn_after
sleep = eventlet.sleep
listen = eventlet.listen
wsgi = eventlet.wsgi
tpool_execute = eventlet.tpool.execute
getcurrent = greenlet.getcurrent


def spawn_blocking(fn, *args):
    """Start ``fn(*args)`` in the thread pool without waiting for it.

    Returns a handle whose ``wait()`` returns ``fn``'s result or raises its
    exception (a greenthread: waiting on it yields to the others)."""
    return eventlet.spawn(eventlet.tpool.execute, fn, *args)


def monkey_patch():
    """Make the standard library cooperative (sockets, time, threads, select)."""
    eventlet.monkey_patch(all=False, socket=True, select=True, time=True, thread=True, os=False)


def is_monkey_patched():
    return eventlet.patcher.is_monkey_patched("socket")


def hub_prevent_multiple_readers(value=False):
    eventlet.debug.hub_prevent_multiple_readers(value)


def use_hub(name=None):
    eventlet.hubs.use_hub(name)


def green_socket_module():
    """The cooperative ``socket`` module (for clients used outside monkey-patching)."""
    from eventlet.green import socket

    return socket


def hubs_reinit():
    """Give a freshly forked child its own hub (the parent's epoll fd is shared)."""
    eventlet.hubs.use_hub()


def start_native_thread(target, name="native"):
    """Run ``target`` in a real OS thread (a daemon) even when ``threading`` is
    monkey-patched: for a C library's blocking loop (libvirt's event loop).
    Not through tpool: tpool joins its threads at exit, so a loop that never
    returns would keep the process from exiting."""
    threading = eventlet.patcher.original("threading")
    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    return thread
