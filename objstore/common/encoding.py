"""msgpack with a leading version marker: every on-disk and wire format of ours.

A payload is ``msgpack([MAGIC, version, body])``. Readers give the version to
the caller so that a format change can add a version plus a migration while
old files stay readable. Never pickle.
"""

import msgpack

from objstore.common.exceptions import ObjstoreError

MAGIC = "os1"


class EncodingError(ObjstoreError):
    status = 500


def pack(body, version=1):
    """Encode ``body`` under a format ``version``."""
    return msgpack.packb([MAGIC, version, body], use_bin_type=True)


def unpack(data, versions=(1,)):
    """Decode a payload written by :func:`pack`.

    :returns: ``(version, body)``
    :raises EncodingError: corrupt data, or a version not in ``versions``.
    """
    try:
        marker, version, body = msgpack.unpackb(data, raw=False, strict_map_key=False)
    except (ValueError, TypeError, msgpack.UnpackException, msgpack.ExtraData) as err:
        raise EncodingError("corrupt payload: %s" % err) from None
    if marker != MAGIC:
        raise EncodingError("not an objstore payload")
    if version not in versions:
        raise EncodingError("unsupported format version %r" % (version,))
    return version, body


def packb(obj):
    """Plain msgpack (no version), for small wire messages inside a versioned frame."""
    return msgpack.packb(obj, use_bin_type=True)


def unpackb(data):
    try:
        return msgpack.unpackb(data, raw=False, strict_map_key=False)
    except (ValueError, TypeError, msgpack.UnpackException, msgpack.ExtraData) as err:
        raise EncodingError("corrupt payload: %s" % err) from None
