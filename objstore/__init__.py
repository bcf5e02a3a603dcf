"""objstore: distributed object storage with the OpenStack Swift v1 API.

Nothing is imported or configured at import time; see objstore.common for the
shared foundations and ARCHITECTURE.md for the layering.
"""

__version__ = "0.1.0"
