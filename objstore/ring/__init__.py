"""The partitioned consistent-hash ring: ``Ring`` for servers (ring.py),
``RingBuilder`` for operators (builder.py), the placement math
(placement.py), file formats (ringfile.py) and device strings (devspec.py).

``RingBuilder`` and ``RebalanceResult`` are imported on first use: every
server imports ``Ring``, and the builder and its placement math would cost
each of them ~1.3 MiB of memory they never use.
"""

from objstore.ring.ring import Ring

__all__ = ["Ring", "RingBuilder", "RebalanceResult"]


def __getattr__(name):
    if name in ("RingBuilder", "RebalanceResult"):
        from objstore.ring import builder

        return getattr(builder, name)
    raise AttributeError("module %r has no attribute %r" % (__name__, name))
