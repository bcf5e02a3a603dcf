"""The account replicator: the shared DB replicator (``db/replicator.py``, which
holds the theory of operation) pointed at account databases. Class attributes only."""

from objstore.account.broker import AccountBroker
from objstore.daemon.runner import daemon_main
from objstore.db.replicator import DBReplicator


class AccountReplicator(DBReplicator):
    name = "account-replicator"
    server_section = "account-server"
    db_type = "account"
    broker_class = AccountBroker
    ring_name = "account.ring.gz"


def main(argv=None):
    """``objstore-account-replicator CONF [--once] [--devices ..] [--partitions ..]``."""
    return daemon_main(AccountReplicator, argv)


if __name__ == "__main__":
    raise SystemExit(main())
