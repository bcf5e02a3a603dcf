"""Which files of an object directory matter, suffix hashes for replication,
and the partition's hashes file with its invalidation journal.

What does not live here: writing or reading object data and metadata
(diskfile.py, metadata.py), HTTP, talking to other nodes (replicator.py).

Theory of operation:
- An object directory ``objects/<part>/<suffix>/<hash>/`` holds files named
  ``<timestamp>.data|.ts|.meta``. :func:`gather_files` (pure) decides, from the
  names alone, which one is the object's state: the newest ``.data`` or
  ``.ts``, plus the newest ``.meta`` newer than that ``.data``. Everything
  older is obsolete, and so is a tombstone older than ``reclaim_age``.
  Internal timestamps have a fixed-width form, so sorting names in reverse
  puts the newest first, and at equal timestamps ``.ts`` > ``.meta`` > ``.data``.
- A suffix's hash is the md5 of its object directories' names and the names of
  the files that matter in each (sorted). Two nodes holding the same objects
  at the same versions have equal suffix hashes, so the replicator compares
  them (REPLICATE) and only syncs suffixes that differ (:func:`diff_hashes`).
- ``objects/<part>/hashes.msgpack`` holds ``encoding.pack({suffix: md5 hex or
  None}, 1)``; None means "recompute". A missing or corrupt file means
  "recompute every suffix found in the partition".
- A write does not rewrite that file: it appends ``<suffix>\\n`` to
  ``objects/<part>/hashes.invalid`` (one short O_APPEND write, under flock so
  that consolidation cannot lose it). :func:`get_hashes` consolidates: under
  the lock it folds the journal into the hashes file (as None) and truncates
  the journal, computes the None suffixes without the lock, then under the lock
  again writes the result unless new invalidations arrived meanwhile (then it
  recomputes those). The journal append is not fsynced on its own: the
  writer appends it after renaming the object file into place (so a
  concurrent rehash either sees the file or finds the line) and before
  fsyncing the object directory, which on ext4 commits the filesystem journal
  holding both the rename and the append.
"""

import contextlib
import errno
import fcntl
import hashlib
import os
import time

from objstore.common import encoding
from objstore.common.exceptions import DiskFileError
from objstore.common.fs import atomic_write, listdir, remove_file

HASHES_FILE = "hashes.msgpack"
INVALID_FILE = "hashes.invalid"
HASHES_VERSION = 1
EXTENSIONS = (".data", ".ts", ".meta")
DEFAULT_RECLAIM_AGE = 604800


# --- pure: names -------------------------------------------------------------
def split_name(name):
    """``('1700000000.12345', '.data')`` for an object file name, or None."""
    stem, dot, ext = name.rpartition(".")
    if not dot or "." + ext not in EXTENSIONS or not stem:
        return None
    return stem, "." + ext


def _timestamp_float(stem):
    try:
        return float(stem.partition("_")[0])
    except ValueError:
        return None


def gather_files(names, reclaim_before=None):
    """Classify the file names of one object directory.

    :param names: file names in the directory (any order, may include others).
    :param reclaim_before: POSIX time; a newest tombstone older than this is
        obsolete too (None: keep it).
    :returns: dict with ``data``, ``meta``, ``ts`` (the name that matters, or
        None), ``kept`` (names that matter, newest first) and ``obsolete``
        (names to delete). Names that are not object files are in neither list.
    """
    result = {"data": None, "meta": None, "ts": None, "kept": [], "obsolete": []}
    decided = False  # a .data or .ts has been chosen: everything older is obsolete
    for name in sorted(names, reverse=True):
        parts = split_name(name)
        if parts is None:
            continue
        stem, ext = parts
        if decided:
            result["obsolete"].append(name)
        elif ext == ".meta":
            if result["meta"] is None:
                result["meta"] = name
                result["kept"].append(name)
            else:
                result["obsolete"].append(name)
        elif ext == ".data":
            result["data"] = name
            result["kept"].append(name)
            decided = True
        else:  # .ts
            decided = True
            if result["meta"] is not None:  # metadata on a deleted object is moot
                result["obsolete"].append(result["meta"])
                result["kept"].remove(result["meta"])
                result["meta"] = None
            stamp = _timestamp_float(stem)
            if reclaim_before is not None and stamp is not None and stamp < reclaim_before:
                result["obsolete"].append(name)
            else:
                result["ts"] = name
                result["kept"].append(name)
    return result


def diff_hashes(local, remote):
    """Suffixes to push: those ``local`` has whose hash ``remote`` lacks or differs.

    :param local: ``{suffix: md5 hex or None}``.
    :param remote: the peer's answer to REPLICATE, same shape.
    :returns: sorted list of suffixes.
    """
    return sorted(s for s, h in local.items() if h is not None and remote.get(s) != h)


def parse_suffixes(text):
    """``'abc-def'`` (from a REPLICATE path) into ``['abc', 'def']``.

    :raises ValueError: something that is not three lower-case hex digits.
    """
    if not text:
        return []
    suffixes = text.split("-")
    for suffix in suffixes:
        if not is_suffix(suffix):
            raise ValueError("invalid suffix %r" % suffix)
    return suffixes


def is_suffix(name):
    return len(name) == 3 and all(c in "0123456789abcdef" for c in name)


# --- I/O: suffix hashing -------------------------------------------------------
def cleanup_dir(hash_path, reclaim_before=None, names=None):
    """Remove the obsolete files of one object directory (and it, when empty).

    :param names: its listing when the caller has it.
    :returns: the :func:`gather_files` result.
    """
    if names is None:
        names = listdir(hash_path)
    info = gather_files(names, reclaim_before)
    for name in info["obsolete"]:
        remove_file(os.path.join(hash_path, name))
    if not info["kept"] and len(info["obsolete"]) == len(names):
        try:
            os.rmdir(hash_path)
        except OSError:
            pass
    return info


def hash_suffix(suffix_path, reclaim_before=None):
    """md5 hex of a suffix directory's objects, after cleaning them; None when empty.

    Empty object directories and an empty suffix directory are removed.
    """
    md5 = hashlib.md5(usedforsecurity=False)
    found = False
    for name_hash in sorted(listdir(suffix_path)):
        info = cleanup_dir(os.path.join(suffix_path, name_hash), reclaim_before)
        if not info["kept"]:
            continue
        found = True
        md5.update(name_hash.encode("ascii", "surrogateescape"))
        for name in sorted(info["kept"]):
            md5.update(name.encode("ascii", "surrogateescape"))
    if not found:
        try:
            os.rmdir(suffix_path)
        except OSError:
            pass
        return None
    return md5.hexdigest()


# --- I/O: the hashes file and its journal -------------------------------------
@contextlib.contextmanager
def _locked_journal(partition_path):
    """The open journal file, exclusively flocked (it is also the lock)."""
    fd = os.open(os.path.join(partition_path, INVALID_FILE), os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield fd
    finally:
        os.close(fd)  # releases the lock


def journal_suffix(partition_path, suffix):
    """Append ``suffix`` to the partition's journal (OSError as raised, e.g. ENOENT)."""
    with _locked_journal(partition_path) as fd:
        os.write(fd, suffix.encode("ascii") + b"\n")


def invalidate_suffix(partition_path, suffix):
    """Journal that ``suffix`` of this partition changed.

    :raises DiskFileError: the partition directory is gone or unwritable.
    """
    try:
        journal_suffix(partition_path, suffix)
    except OSError as err:
        raise DiskFileError("cannot invalidate %s in %s: %s" % (suffix, partition_path, err)) from None


def _drain_journal(fd):
    """Suffixes in the (locked) journal; the journal is emptied."""
    size = os.fstat(fd).st_size
    if not size:
        return set()
    data = os.pread(fd, size, 0)
    os.ftruncate(fd, 0)
    return {line for line in data.decode("ascii", "replace").split("\n") if is_suffix(line)}


def read_hashes(partition_path):
    """The hashes file's dict, or None when missing or unreadable."""
    try:
        with open(os.path.join(partition_path, HASHES_FILE), "rb") as handle:
            data = handle.read()
        _version, hashes = encoding.unpack(data, (HASHES_VERSION,))
    except (OSError, encoding.EncodingError):
        return None
    return hashes if isinstance(hashes, dict) else None


def write_hashes(partition_path, hashes):
    atomic_write(os.path.join(partition_path, HASHES_FILE), encoding.pack(hashes, HASHES_VERSION))


def get_hashes(partition_path, recalculate=(), reclaim_age=DEFAULT_RECLAIM_AGE, now=None):
    """The partition's ``{suffix: md5 hex}``, consolidating the journal first.

    :param recalculate: suffixes to recompute even if their hash is known.
    :returns: dict of every non-empty suffix; ``{}`` when the partition does
        not exist.
    """
    if not os.path.isdir(partition_path):
        return {}
    reclaim_before = (now if now is not None else time.time()) - reclaim_age
    with _locked_journal(partition_path) as fd:
        hashes = read_hashes(partition_path)
        changed = False
        if hashes is None:
            hashes = {name: None for name in listdir(partition_path) if is_suffix(name)}
            changed = True
        journal = _drain_journal(fd)
        for suffix in journal.union(recalculate):
            hashes[suffix] = None
        if journal:
            changed = True
        if changed and hashes:
            # durable before the journal truncation is: no invalidation lost
            write_hashes(partition_path, hashes)
    for _attempt in range(10):
        todo = [s for s, h in hashes.items() if h is None]
        for suffix in todo:
            value = hash_suffix(os.path.join(partition_path, suffix), reclaim_before)
            if value is None:
                del hashes[suffix]
            else:
                hashes[suffix] = value
        with _locked_journal(partition_path) as fd:
            journal = _drain_journal(fd)
            if not journal:
                if todo:  # nothing recomputed: the file is already right (no fsync per no-op call)
                    write_hashes(partition_path, hashes)
                return hashes
            for suffix in journal:
                hashes[suffix] = None
            write_hashes(partition_path, hashes)
    raise DiskFileError("suffix hashes of %s keep changing" % partition_path)


def clear_hashes(partition_path):
    """Forget the partition's hashes (the next get_hashes recomputes them all)."""
    try:
        os.unlink(os.path.join(partition_path, HASHES_FILE))
    except OSError as err:
        if err.errno != errno.ENOENT:
            raise
