"""One controller per kind of path: account, container, object (base.py holds
what they share: node iteration, failover reads, quorum writes, info cache)."""
