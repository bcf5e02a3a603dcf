"""The account auditor: the shared DB auditor (``db/auditor.py``, which says what
a check is) pointed at account databases. Class attributes only."""

from objstore.account.broker import AccountBroker
from objstore.daemon.runner import daemon_main
from objstore.db.auditor import DBAuditor


class AccountAuditor(DBAuditor):
    name = "account-auditor"
    server_section = "account-server"
    db_type = "account"
    broker_class = AccountBroker


def main(argv=None):
    """``objstore-account-auditor CONF [--once] [--devices ..] [--partitions ..]``."""
    return daemon_main(AccountAuditor, argv)


if __name__ == "__main__":
    raise SystemExit(main())
