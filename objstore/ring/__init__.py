"""The partitioned consistent-hash ring: ``Ring`` for servers (ring.py),
``RingBuilder`` for operators (builder.py), the placement math
(placement.py), file formats (ringfile.py) and device strings (devspec.py).
"""

from objstore.ring.builder import RebalanceResult, RingBuilder
from objstore.ring.ring import Ring

__all__ = ["Ring", "RingBuilder", "RebalanceResult"]
