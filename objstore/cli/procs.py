"""Process management shared by the all-in-one and ``objstore-init``: pid
files, telling our processes from strangers, spawning detached processes with
their output in a log file, stopping them and waiting, port checks and HTTP
probes.

Which programs exist and what they read is not here (``catalog.py``); nor is
any cluster layout (``layout.py``).

A pid file alone is not trusted: a pid is *ours* only while that process is
alive (not a zombie) and its command line contains a marker we chose when we
started it (the path of its config file). Anything else is a stale pid file.
"""

import errno
import http.client
import os
import signal
import socket
import subprocess
import sys
import time

import objstore
from objstore.common.fs import atomic_write, mkdirs, remove_file

PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(objstore.__file__)))


# --- pid files ----------------------------------------------------------------
def read_pid(path):
    """The pid in ``path``, or None when it is missing or not a number."""
    try:
        with open(path, encoding="ascii", errors="replace") as handle:
            text = handle.read().strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return int(text) if text.isdigit() and int(text) > 0 else None


def write_pid(path, pid):
    atomic_write(path, b"%d\n" % pid, fsync=False)


def remove_pid(path):
    remove_file(path)


# --- is it alive, is it ours ------------------------------------------------
def _proc_state(pid):
    """The one-letter state from /proc/<pid>/stat, or None where there is no /proc."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        return "X"
    except OSError:
        return None
    # The name field is in parentheses and may itself hold ") "; the state follows the last one.
    return data[data.rfind(b")") + 2 : data.rfind(b")") + 3].decode("ascii", "replace")


def alive(pid):
    """True while ``pid`` runs (zombies count as dead; our own children are reaped)."""
    if not pid:
        return False
    try:
        done, _status = os.waitpid(pid, os.WNOHANG)
        if done:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    return _proc_state(pid) not in ("Z", "X")


def cmdline(pid):
    """The argv of ``pid`` as a list, or None when it cannot be read."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    return [part.decode("utf-8", "surrogateescape") for part in data.split(b"\0") if part]


def is_ours(pid, marker):
    """True when ``pid`` is alive and its command line contains ``marker``.

    Where /proc is missing, a live pid is taken as ours.
    """
    if not alive(pid):
        return False
    if marker is None:
        return True
    argv = cmdline(pid)
    if argv is None:
        return not os.path.isdir("/proc")
    return any(marker in part for part in argv)


def pid_status(pid_file, marker):
    """``(state, pid)`` for a pid file: ``running``, ``stale`` or ``missing``."""
    pid = read_pid(pid_file)
    if pid is None:
        return ("stale" if os.path.exists(pid_file) else "missing"), None
    if is_ours(pid, marker):
        return "running", pid
    return "stale", pid


# --- starting -----------------------------------------------------------------
def python_argv(module, *args):
    """``[python, -m, module, args...]`` with this interpreter."""
    return [sys.executable, "-m", module] + [str(arg) for arg in args]


def child_env(objstore_conf=None, extra=None):
    """Our environment plus OBJSTORE_CONF and a PYTHONPATH that finds this objstore."""
    env = dict(os.environ)
    paths = [PACKAGE_ROOT] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p != PACKAGE_ROOT]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    if objstore_conf:
        env["OBJSTORE_CONF"] = objstore_conf
    env.update(extra or {})
    return env


def spawn(argv, log_path=None, env=None, pass_fds=(), cwd=None, detach=True, inherit_output=False):
    """Start ``argv`` with stdin from /dev/null and output appended to ``log_path``
    (or to our own stdout/stderr with ``inherit_output``, or nowhere).

    :param detach: a new session, so a terminal's Ctrl-C does not reach it and
        it outlives us; its pid is also its process group.
    :returns: the ``subprocess.Popen``.
    :raises OSError: the log cannot be opened or the program cannot start.
    """
    if log_path:
        mkdirs(os.path.dirname(log_path))
        out = open(log_path, "ab")
    else:
        out = None if inherit_output else subprocess.DEVNULL
    try:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=None if out is None else subprocess.STDOUT,
            env=env,
            pass_fds=tuple(pass_fds),
            cwd=cwd or "/",
            start_new_session=detach,
            close_fds=True,
        )
    finally:
        if log_path:
            out.close()


# --- stopping -----------------------------------------------------------------
def send_signal(pid, sig):
    """Signal ``pid`` and, when it leads its own process group, its workers too.

    :returns: False when the process is already gone.
    """
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        return False
    return True


def wait_gone(pids, timeout, interval=0.05, clock=time.monotonic):
    """Wait until none of ``pids`` is alive, at most ``timeout`` seconds.

    :returns: the pids still alive at the end (empty when all exited).
    """
    deadline = clock() + timeout
    left = [pid for pid in pids if alive(pid)]
    while left and clock() < deadline:
        time.sleep(interval)
        left = [pid for pid in left if alive(pid)]
    return left


def stop_pids(pids, timeout, kill_after=True):
    """SIGTERM ``pids`` (and their groups), wait, then SIGKILL what remains.

    :returns: ``(stopped, killed, left)`` lists of pids.
    """
    pids = [pid for pid in pids if alive(pid)]
    for pid in pids:
        send_signal(pid, signal.SIGTERM)
    left = wait_gone(pids, timeout)
    killed = []
    if left and kill_after:
        for pid in left:
            send_signal(pid, signal.SIGKILL)
        killed = left
        left = wait_gone(left, 5)
    stopped = [pid for pid in pids if pid not in killed]
    return stopped, [pid for pid in killed if pid not in left], left


# --- ports and probes ---------------------------------------------------------
def port_free(ip, port):
    """True when nothing listens on ``ip:port`` and we could bind it."""
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((ip, port))
        return True
    except OSError as err:
        if err.errno in (errno.EADDRINUSE, errno.EACCES):
            return False
        raise
    finally:
        sock.close()


def listener(ip, port, backlog=4096):
    """A listening socket to hand a server through ``--listen-fd`` (inheritable).

    :raises OSError: EADDRINUSE and friends, for the caller to word.
    """
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((ip, port))
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def http_request(ip, port, path, method="GET", headers=None, timeout=2.0):
    """``(status, {lower-case header: value}, body)``, or None when nothing answers."""
    conn = http.client.HTTPConnection(ip, port, timeout=timeout)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def tail(path, lines=3):
    """The last ``lines`` non-empty lines of a text file (for error messages)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 8192))
            data = handle.read().decode("utf-8", "replace")
    except OSError:
        return []
    return [line for line in data.splitlines() if line.strip()][-lines:]
