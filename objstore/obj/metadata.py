"""Object metadata on disk: msgpack in extended attributes, with a trailer
fallback for what the filesystem's xattrs cannot hold. Also the errno
translation for these calls (ENOSPC becomes DiskFileNoSpace here, not in the
server).

What does not live here: file naming and layout (diskfile.py), suffix hashes
(hashes.py), anything HTTP.

Format:
- The metadata dict (str keys, str values) is encoded with
  ``objstore.common.encoding.pack(metadata, 1)``.
- Normally the blob goes into xattrs ``user.objstore.metadata``,
  ``user.objstore.metadata1``, ... in chunks of ``XATTR_CHUNK`` bytes; a
  reader concatenates keys until one is shorter than a full chunk or missing.
  The chunk is 64 KiB, Linux's XATTR_SIZE_MAX: a single value of that size is
  accepted by XFS, while ext4 caps the *total* of an inode's xattrs at one
  block (about 4000 bytes usable with 4 KiB blocks, whatever the key count, and
  every extra key costs a header), so smaller chunks only cost syscalls and
  capacity. Splitting stays for values beyond 64 KiB.
- Fallback (ext4 full at ~4 KiB, a 1 KiB-block filesystem, or no xattr
  support at all: ENOSPC, E2BIG, ERANGE, ENOTSUP): no xattr is kept; the blob
  is appended to the file itself after the body, followed by a 16-byte footer
  ``b"OSMETA\\x00\\x01" + big-endian uint64 len(blob)``. The file is
  fsynced after that, before the rename into place, so a visible file always
  has its metadata. A reader that finds no xattr reads the footer; the body
  is then the file's first ``size - 16 - len(blob)`` bytes. A file with
  neither is corrupt (the caller quarantines it).

The largest metadata the API allows (90 items, 4096 bytes of names and values,
plus the object name up to 1024 bytes and system keys) is about 7-8 KiB of
msgpack, which is why the fallback exists; tests/unit/obj/test_metadata.py
writes it on the filesystem the tests run on.
"""

import errno
import os
import struct

from objstore.common import encoding
from objstore.common.exceptions import (
    DiskFileError,
    DiskFileNoSpace,
    DiskFileNotFound,
    DiskFileXattrError,
)

XATTR_KEY = "user.objstore.metadata"
XATTR_CHUNK = 65536
FORMAT_VERSION = 1
TRAILER_MAGIC = b"OSMETA\x00\x01"
FOOTER = struct.Struct(">8sQ")  # magic, length of the metadata blob

# errnos that mean "xattrs cannot hold this here": fall back to the trailer.
_XATTR_FALLBACK = frozenset(
    (errno.ENOSPC, errno.E2BIG, errno.ERANGE, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EDQUOT)
)
_NO_SPACE = frozenset((errno.ENOSPC, errno.EDQUOT))
_NO_ATTR = frozenset((errno.ENODATA, errno.ENOTSUP, errno.EOPNOTSUPP))


def encode(metadata):
    """The on-disk bytes of a metadata dict."""
    return encoding.pack(metadata, FORMAT_VERSION)


def decode(blob):
    """The metadata dict of :func:`encode`'s bytes.

    :raises DiskFileXattrError: not a metadata payload.
    """
    try:
        _version, body = encoding.unpack(blob, (FORMAT_VERSION,))
    except encoding.EncodingError as err:
        raise DiskFileXattrError("unreadable metadata: %s" % err) from None
    if not isinstance(body, dict):
        raise DiskFileXattrError("metadata is not a mapping")
    return body


def split_chunks(blob, size=XATTR_CHUNK):
    """``blob`` cut into pieces of at most ``size`` bytes (at least one piece)."""
    if not blob:
        return [b""]
    return [blob[i:i + size] for i in range(0, len(blob), size)]


def xattr_key(index):
    """The name of the ``index``-th xattr chunk."""
    return XATTR_KEY + (str(index) if index else "")


def footer_for(blob):
    """The trailer appended after the body: the blob then the footer."""
    return blob + FOOTER.pack(TRAILER_MAGIC, len(blob))


def parse_footer(tail, file_size):
    """Length of the trailer's blob from the file's last 16 bytes, or None.

    :param tail: the last ``FOOTER.size`` bytes of the file.
    :param file_size: the file's size (the blob must fit before the footer).
    """
    if len(tail) != FOOTER.size:
        return None
    magic, length = FOOTER.unpack(tail)
    if magic != TRAILER_MAGIC or length + FOOTER.size > file_size:
        return None
    return length


def _oserror(err, what):
    """Translate an OSError from a metadata call into a domain error."""
    if err.errno in _NO_SPACE:
        return DiskFileNoSpace("no space left %s" % what)
    if err.errno == errno.ENOENT:
        return DiskFileNotFound("gone while %s" % what)
    return DiskFileError("%s: %s" % (what, err))


def write_metadata(fd, metadata, body_size, chunk=XATTR_CHUNK):
    """Attach ``metadata`` to the open file ``fd`` whose body is ``body_size`` bytes.

    Does not fsync; the writer fsyncs once after this (covering body, xattrs
    and any trailer).

    :returns: True when it went to xattrs, False when to the trailer.
    :raises DiskFileNoSpace: the disk is full.
    :raises DiskFileError: any other I/O failure.
    """
    blob = encode(metadata)
    written = 0
    try:
        for index, piece in enumerate(split_chunks(blob, chunk)):
            os.setxattr(fd, xattr_key(index), piece)
            written += 1
        return True
    except OSError as err:
        if err.errno not in _XATTR_FALLBACK:
            raise _oserror(err, "writing metadata xattrs") from None
    for index in range(written):
        try:
            os.removexattr(fd, xattr_key(index))
        except OSError:
            pass
    try:
        data = footer_for(blob)
        offset = body_size
        while data:
            count = os.pwrite(fd, data, offset)
            offset += count
            data = data[count:]
    except OSError as err:
        raise _oserror(err, "writing metadata trailer") from None
    return False


def _read_xattr_blob(fd, chunk):
    """The concatenated xattr chunks, or None when there is no metadata xattr."""
    pieces = []
    index = 0
    while True:
        try:
            piece = os.getxattr(fd, xattr_key(index))
        except OSError as err:
            if err.errno in _NO_ATTR:
                if index == 0:
                    return None
                break
            raise _oserror(err, "reading metadata xattrs") from None
        pieces.append(piece)
        if len(piece) < chunk:
            break
        index += 1
    return b"".join(pieces)


def read_metadata(fd, file_size=None, chunk=XATTR_CHUNK):
    """The metadata of the open file ``fd`` and where its body ends.

    :param file_size: the file's size when the caller already has it (saves
        an fstat).
    :param chunk: the chunk size it was written with.
    :returns: ``(metadata, body_size)``.
    :raises DiskFileXattrError: neither xattrs nor a valid trailer (corrupt:
        the caller quarantines).
    """
    if file_size is None:
        file_size = os.fstat(fd).st_size
    blob = _read_xattr_blob(fd, chunk)
    if blob is not None:
        return decode(blob), file_size
    if file_size < FOOTER.size:
        raise DiskFileXattrError("no metadata")
    try:
        tail = os.pread(fd, FOOTER.size, file_size - FOOTER.size)
    except OSError as err:
        raise _oserror(err, "reading metadata trailer") from None
    length = parse_footer(tail, file_size)
    if length is None:
        raise DiskFileXattrError("no metadata xattr and no trailer")
    start = file_size - FOOTER.size - length
    try:
        blob = os.pread(fd, length, start)
    except OSError as err:
        raise _oserror(err, "reading metadata trailer") from None
    return decode(blob), start


def read_metadata_path(path):
    """As :func:`read_metadata` for a path (opens and closes it).

    :raises DiskFileNotFound: the file is gone.
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as err:
        raise _oserror(err, "opening %s" % path) from None
    try:
        return read_metadata(fd)
    finally:
        os.close(fd)
