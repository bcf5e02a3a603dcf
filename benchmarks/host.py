"""This machine, as the benchmark sees it: free ports, the filesystem the
devices of both clusters live on, starting and stopping detached processes,
and a description of the hardware for the report.

What runs in those processes (Swift, objstore) is not here; see swift_aio.py
and objstore_aio.py.

Filesystem choice: both clusters put their devices on ONE filesystem, so
neither gets a faster disk. By default (``auto``) that is a loop-mounted XFS
image when we are root and mkfs.xfs exists -- XFS is what Swift's deployment
guide recommends, and it has no 4 KiB limit on a file's xattrs -- and
otherwise plain directories of the work dir's filesystem. The report records
which one was used.
"""

import errno
import os
import platform
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

XFS_IMAGE_SIZE = "64G"  # sparse: only what is written takes space


class BenchSetupError(Exception):
    """Something the benchmark needs could not be set up (message says what)."""


def port_free(port, ip="127.0.0.1"):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((ip, port))
        return True
    except OSError:
        return False
    finally:
        sock.close()


def free_port_block(count, start=20000, stop=60000, step=100, taken=()):
    """First port ``p`` (from ``start``, by ``step``) with ``p .. p+count-1`` all free.

    :param taken: ports already promised to someone else (not yet bound).
    """
    for base in range(start, stop, step):
        ports = range(base, base + count)
        if any(p in taken for p in ports):
            continue
        if all(port_free(p) for p in ports):
            return base
    raise BenchSetupError("no block of %d free ports between %d and %d" % (count, start, stop))


class Volume:
    """Where both clusters' data live: ``path`` is a directory on the chosen filesystem.

    ``kind`` is ``"xfs"`` (a sparse image loop-mounted at ``path``) or ``"dir"``
    (a plain directory). ``close()`` unmounts and removes the image.
    """

    def __init__(self, work_dir, kind="auto"):
        self.work_dir = work_dir
        self.path = os.path.join(work_dir, "mnt")
        self.image = os.path.join(work_dir, "devices.xfs")
        self.mounted = False
        if kind == "auto":
            kind = "xfs" if (os.geteuid() == 0 and shutil.which("mkfs.xfs")) else "dir"
        if kind not in ("xfs", "dir"):
            raise BenchSetupError("filesystem must be xfs, dir or auto, not %r" % kind)
        self.kind = kind

    def open(self):
        os.makedirs(self.path, exist_ok=True)
        if self.kind == "xfs":
            if os.geteuid() != 0 or not shutil.which("mkfs.xfs"):
                raise BenchSetupError("--fs xfs needs root and mkfs.xfs (apt-get install xfsprogs); or use --fs dir")
            subprocess.run(["truncate", "-s", XFS_IMAGE_SIZE, self.image], check=True)
            subprocess.run(["mkfs.xfs", "-q", "-f", self.image], check=True)
            done = subprocess.run(["mount", "-o", "loop,noatime", self.image, self.path],
                                  capture_output=True, text=True)
            if done.returncode:
                os.unlink(self.image)
                raise BenchSetupError("cannot loop-mount an XFS image (%s); use --fs dir"
                                      % done.stderr.strip())
            self.mounted = True
        return self

    def fs_type(self):
        """Filesystem type of ``path`` as /proc/mounts names it (e.g. ``xfs``, ``ext4``)."""
        best, fstype = "", "?"
        real = os.path.realpath(self.path)
        with open("/proc/mounts") as f:
            for line in f:
                parts = line.split()
                mnt = parts[1].replace("\\040", " ")
                if (real == mnt or real.startswith(mnt.rstrip("/") + "/")) and len(mnt) > len(best):
                    best, fstype = mnt, parts[2]
        return fstype

    def close(self):
        if self.mounted:
            for _ in range(20):
                done = subprocess.run(["umount", self.path], capture_output=True, text=True)
                if done.returncode == 0:
                    break
                time.sleep(0.5)  # a process of ours still exiting holds a file open
            else:
                raise BenchSetupError("cannot unmount %s: %s" % (self.path, done.stderr.strip()))
            self.mounted = False
        if os.path.exists(self.image):
            os.unlink(self.image)


def launch(argv, log_path, env=None):
    """Start ``argv`` detached in its own session (stdout+stderr to ``log_path``); returns its pid."""
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, env=env, close_fds=True)
    return proc.pid


def alive(pid):
    try:
        os.kill(pid, 0)
    except OSError as err:
        return err.errno == errno.EPERM
    try:  # a zombie child of ours is not alive: reap it
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True


def stop_pids(pids, timeout=15.0):
    """SIGTERM each pid, wait up to ``timeout``, then SIGKILL its process group.

    Only the given pids (and, on SIGKILL, the process groups they lead) are
    signalled. Returns the pids that needed SIGKILL.
    """
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    left = list(pids)
    while left and time.monotonic() < deadline:
        left = [p for p in left if alive(p)]
        if left:
            time.sleep(0.1)
    for pid in left:
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    for pid in left:
        alive(pid)
    return left


def session_members(sids):
    """Pids of every process whose session id is one of ``sids``."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) in sids:  # field 6 of stat: session id
            out.append(int(name))
    return out


def wait_http(url, timeout=60.0, expect=(200,)):
    """Poll ``url`` until it answers one of ``expect``; raises BenchSetupError at ``timeout``."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status in expect:
                    return
                last = resp.status
        except urllib.error.HTTPError as err:
            last = err.code
        except OSError as err:
            last = err
        time.sleep(0.1)
    raise BenchSetupError("%s did not answer in %.0f s (last: %s)" % (url, timeout, last))


def wait_tcp(port, timeout=30.0, ip="127.0.0.1"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection((ip, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise BenchSetupError("nothing listens on %s:%d after %.0f s" % (ip, port, timeout))


def describe():
    """Facts about this machine for the report: cpu, cores, memory, kernel, python."""
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_kib = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    return {
        "hostname": platform.node(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "os": _os_name(),
        "python": platform.python_version(),
    }


def _os_name():
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.system()


def load_average():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]
