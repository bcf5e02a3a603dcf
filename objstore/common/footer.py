"""The body footer of a backend object PUT: the proxy hashes the body once and
sends its md5 and CRC-32 after it, so that the object servers need not
compute the md5 themselves.

Why: an object PUT had every replica's object server compute the body's md5
(its ETag): three md5s of every byte, ~1.5 ms of CPU per MiB each on this
machine, most of a large PUT's CPU. With the footer the proxy computes the
md5 and a CRC-32 once; each object server computes only the CRC-32 (~0.3
ms/MiB) of what it received and refuses the body (422, nothing stored) when
it differs from the sender's, so a body damaged between proxy and node is
still caught; the md5 it stores as ETag is then the one of the bytes it
holds. The auditor still checks every stored body against its ETag.

Wire format (our backend protocol, not Swift's API): the request carries
``X-Backend-Body-Footer: md5,crc32`` and a Content-Length :data:`SIZE` bytes
more than the object's; the last :data:`SIZE` bytes of the body are the md5
(32 lower-case hex digits) and the CRC-32 (8). A node that understands it
says so in a header of the same name on its ``100 Continue``: a proxy never
sends a footer to a node that would store it as part of the object (an
object server of an older version). Bodies of unknown length (chunked) go
without a footer.

What does not live here: sending (proxy/controllers/putter.py) and receiving
(obj/server.py).
"""

import hashlib
import re
import zlib

from objstore.common.exceptions import BadRequest

HEADER = "X-Backend-Body-Footer"
FORMAT = "md5,crc32"
SIZE = 40
_FOOTER = re.compile(rb"[0-9a-f]{40}\Z")


class BodyHasher:
    """The md5 and CRC-32 of a body, as it passes (the sender's side)."""

    def __init__(self):
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.crc = 0

    def update(self, data):
        self.md5.update(data)
        self.crc = zlib.crc32(data, self.crc)

    def footer(self):
        return make(self.md5.hexdigest(), self.crc)


def make(md5_hex, crc):
    """The footer bytes of a body with md5 ``md5_hex`` and CRC-32 ``crc`` (int)."""
    return ("%s%08x" % (md5_hex, crc)).encode("ascii")


def parse(data):
    """``(md5 hex, crc32 as 8 hex digits)`` of footer bytes.

    :raises BadRequest: not a footer.
    """
    if not _FOOTER.match(data):
        raise BadRequest("malformed body footer")
    text = data.decode("ascii")
    return text[:32], text[32:]
