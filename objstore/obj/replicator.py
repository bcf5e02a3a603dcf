"""Object replicator (owned by the repair engineer, issue 6).

Will hold: the ObjectReplicator daemon: per local partition, compare suffix
hashes with the other primaries (REPLICATE), push differing suffixes with our
sync protocol, re-check, push handoff partitions to their primaries and remove
them locally, reclaim old tombstones.
"""
