"""Our client of the Swift v1 API (auth, accounts, containers, objects), on
plain ``http.client``: no eventlet, no server code. Used by the compute
companion, benchmarks and tests. See connection.py.
"""

from objstore.client.connection import Connection, get_auth  # noqa: F401
