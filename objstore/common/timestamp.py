"""Timestamps: the one clock that decides every conflict.

A Timestamp is a POSIX time with 10-microsecond resolution plus an optional
offset (a counter that orders events sharing the same wall-clock time, used
when a server must write "just after" a client-supplied time).

- ``normal``: Swift-compatible ``1700000000.12345`` (16 digits, 5 decimals).
- ``internal``: ``normal`` or ``normal_<16 hex digits of offset>`` when offset.

No I/O here; ``Timestamp.now`` reads the clock through ``time.time`` so tests
can patch it.
"""

import functools
import time

from objstore.common.exceptions import InvalidTimestamp

PRECISION = 100000  # 5 decimal places, as Swift's X-Timestamp
MAX_OFFSET = (16 ** 16) - 1


@functools.total_ordering
class Timestamp:
    """An immutable, totally ordered timestamp.

    :param value: a float, int, string (normal or internal form), or Timestamp.
    :param offset: an extra offset added to the one parsed from ``value``.
    :raises InvalidTimestamp: on anything unparsable or out of range.
    """

    __slots__ = ("ticks", "offset")

    def __init__(self, value, offset=0):
        if isinstance(value, Timestamp):
            ticks, base_offset = value.ticks, value.offset
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            ticks, base_offset = int(round(value * PRECISION)), 0
        elif isinstance(value, (str, bytes)):
            if isinstance(value, bytes):
                value = value.decode("ascii", "replace")
            ticks, base_offset = _parse(value)
        else:
            raise InvalidTimestamp("invalid timestamp %r" % (value,))
        offset = base_offset + int(offset)
        if ticks < 0 or ticks >= 10 ** 10 * PRECISION:
            raise InvalidTimestamp("timestamp out of range: %r" % (value,))
        if offset < 0 or offset > MAX_OFFSET:
            raise InvalidTimestamp("timestamp offset out of range: %r" % (value,))
        self.ticks = ticks
        self.offset = offset

    @classmethod
    def now(cls, offset=0):
        return cls(time.time(), offset)

    @property
    def normal(self):
        """``'1700000000.12345'``: what clients see in X-Timestamp."""
        return "%010d.%05d" % divmod(self.ticks, PRECISION)

    @property
    def internal(self):
        """``normal`` plus ``_<hex offset>`` when the offset is not zero."""
        if self.offset:
            return "%s_%016x" % (self.normal, self.offset)
        return self.normal

    @property
    def timestamp(self):
        """The float POSIX time (offset ignored)."""
        return self.ticks / PRECISION

    def __float__(self):
        return self.timestamp

    def __int__(self):
        return self.ticks // PRECISION

    @property
    def http_date(self):
        """RFC 7231 date, for Last-Modified (rounded up to whole seconds as Swift)."""
        secs = -(-self.ticks // PRECISION)
        return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(secs))

    def __str__(self):
        return self.internal

    def __repr__(self):
        return "Timestamp(%r)" % self.internal

    def _key(self):
        return (self.ticks, self.offset)

    def __eq__(self, other):
        if other is None:
            return False
        if not isinstance(other, Timestamp):
            try:
                other = Timestamp(other)
            except InvalidTimestamp:
                return NotImplemented
        return self._key() == other._key()

    def __lt__(self, other):
        if other is None:
            return False
        if not isinstance(other, Timestamp):
            other = Timestamp(other)
        return self._key() < other._key()

    def __hash__(self):
        return hash(self._key())


def _parse(text):
    text = text.strip()
    offset = 0
    if "_" in text:
        text, _, hexoff = text.partition("_")
        try:
            offset = int(hexoff, 16)
        except ValueError:
            raise InvalidTimestamp("invalid timestamp offset %r" % hexoff) from None
    whole, dot, frac = text.partition(".")
    if not whole.isdigit() or (dot and frac and not frac.isdigit()):
        raise InvalidTimestamp("invalid timestamp %r" % text)
    frac = (frac + "00000")[:5] if len(frac) <= 5 else None
    if frac is None:
        # more than 5 decimals: round like a float would
        return int(round(float(text) * PRECISION)), offset
    return int(whole) * PRECISION + int(frac), offset


def normalize_delete_at(value):
    """Parse an X-Delete-At header value into an int of seconds.

    :raises InvalidTimestamp: when it is not a non-negative integer.
    """
    try:
        result = int(float(value))
    except (TypeError, ValueError):
        raise InvalidTimestamp("Non-integer X-Delete-At") from None
    if result < 0:
        raise InvalidTimestamp("Non-integer X-Delete-At")
    return result
