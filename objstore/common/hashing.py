"""Path hashing with the cluster's secret prefix and suffix.

The secrets live in ``objstore.conf`` (``[objstore-hash]`` with
``hash_path_prefix`` / ``hash_path_suffix``), found through ``OBJSTORE_CONF``
or ``/etc/objstore/objstore.conf``. They must never change once a cluster holds
data: every object's location depends on them. We refuse to run without them
rather than silently defaulting; the all-in-one and the tests generate them.

The file is read on the first call to :func:`hash_path`, not at import.
"""

import functools
import hashlib
import os

from objstore.common.config import read_ini
from objstore.common.exceptions import ConfigError

DEFAULT_CONF = "/etc/objstore/objstore.conf"
HASH_SECTION = "objstore-hash"


def conf_path():
    """Where objstore.conf is: ``$OBJSTORE_CONF`` or the default."""
    return os.environ.get("OBJSTORE_CONF") or DEFAULT_CONF


@functools.lru_cache(maxsize=8)
def load_secrets(path):
    """``(prefix, suffix)`` bytes from an objstore.conf.

    :raises ConfigError: file missing, or neither secret set.
    """
    if not os.path.exists(path):
        raise ConfigError(
            "%s: not found; set OBJSTORE_CONF or create it with [%s] "
            "hash_path_prefix and hash_path_suffix" % (path, HASH_SECTION)
        )
    section = read_ini(path).get(HASH_SECTION, {})
    prefix = section.get("hash_path_prefix", "")
    suffix = section.get("hash_path_suffix", "")
    if not prefix and not suffix:
        raise ConfigError(
            "%s [%s]: hash_path_prefix and hash_path_suffix are both empty; "
            "refusing to run without cluster secrets" % (path, HASH_SECTION)
        )
    return prefix.encode("utf-8"), suffix.encode("utf-8")


def secrets():
    return load_secrets(conf_path())


def _encode(part):
    return part.encode("utf-8", "surrogateescape") if isinstance(part, str) else part


def hash_path_raw(account, container=None, obj=None, secrets_pair=None):
    """The 16-byte md5 digest of a path, salted with the cluster secrets.

    :param account: account name (str or bytes).
    :param container: container name or None.
    :param obj: object name or None (requires container).
    :param secrets_pair: ``(prefix, suffix)``; the conf's when None.
    :raises ValueError: an object without a container.
    """
    if obj is not None and container is None:
        raise ValueError("an object needs a container")
    prefix, suffix = secrets_pair or secrets()
    parts = [_encode(account)]
    if container is not None:
        parts.append(_encode(container))
        if obj is not None:
            parts.append(_encode(obj))
    return hashlib.md5(prefix + b"/" + b"/".join(parts) + suffix, usedforsecurity=False).digest()


def hash_path(account, container=None, obj=None, secrets_pair=None):
    """The md5 hex of a path, salted with the cluster secrets (see hash_path_raw)."""
    return hash_path_raw(account, container, obj, secrets_pair).hex()


def suffix_of(name_hash):
    """The suffix directory of a hash: its last three hex digits."""
    return name_hash[-3:]


def write_objstore_conf(path, prefix, suffix, extra_sections=None):
    """Write an objstore.conf with the given secrets (for the all-in-one and tests)."""
    from objstore.common.fs import atomic_write  # local: fs is below us, no cycle

    lines = [
        "# objstore cluster-wide settings. The hash secrets must be the same on",
        "# every node and must never change once the cluster holds data.",
        "[%s]" % HASH_SECTION,
        "hash_path_prefix = %s" % prefix,
        "hash_path_suffix = %s" % suffix,
        "",
    ]
    for name, values in (extra_sections or {}).items():
        lines.append("[%s]" % name)
        lines.extend("%s = %s" % item for item in values.items())
        lines.append("")
    atomic_write(path, "\n".join(lines).encode("utf-8"), mode=0o640)
