"""The container replicator: the shared DB replicator (``db/replicator.py``, which
holds the theory of operation) pointed at container databases. Class attributes only."""

from objstore.container.broker import ContainerBroker
from objstore.daemon.runner import daemon_main
from objstore.db.replicator import DBReplicator


class ContainerReplicator(DBReplicator):
    name = "container-replicator"
    server_section = "container-server"
    db_type = "container"
    broker_class = ContainerBroker
    ring_name = "container.ring.gz"


def main(argv=None):
    """``objstore-container-replicator CONF [--once] [--devices ..] [--partitions ..]``."""
    return daemon_main(ContainerReplicator, argv)


if __name__ == "__main__":
    raise SystemExit(main())
