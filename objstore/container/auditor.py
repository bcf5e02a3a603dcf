"""The container auditor: the shared DB auditor (``db/auditor.py``, which says what
a check is) pointed at container databases. Class attributes only."""

from objstore.container.broker import ContainerBroker
from objstore.daemon.runner import daemon_main
from objstore.db.auditor import DBAuditor


class ContainerAuditor(DBAuditor):
    name = "container-auditor"
    server_section = "container-server"
    db_type = "container"
    broker_class = ContainerBroker


def main(argv=None):
    """``objstore-container-auditor CONF [--once] [--devices ..] [--partitions ..]``."""
    return daemon_main(ContainerAuditor, argv)


if __name__ == "__main__":
    raise SystemExit(main())
