"""The DB auditor (through ContainerAuditor and AccountAuditor) on real
SQLite files: good DBs pass, damaged ones are quarantined; and the servers
quarantine a corrupt DB a request meets."""

import os

import pytest

from objstore.account.auditor import AccountAuditor
from objstore.common.constraints import DEFAULT
from objstore.common.log import capturing_logger
from objstore.container.auditor import ContainerAuditor
from objstore.container.broker import ContainerBroker
from objstore.container.server import ContainerServer, ContainerServerConfig
from objstore.db.auditor import DBAuditorConfig, audit_db
from objstore.db.broker import db_path, quarantine_db
from objstore.web.app import Request


def ts(n):
    return "%010d.%05d" % (n, 0)


def make_db(devices, container, rows=200):
    path = db_path(str(devices), "sda", "container", 3, "a", container)
    broker = ContainerBroker(path, account="a", container=container)
    broker.initialize(ts(1))
    broker.merge_items([{"name": "object-%05d" % i, "created_at": ts(2), "size": i, "content_type": "t",
                         "etag": "e" * 32, "deleted": 0} for i in range(rows)])
    broker.close()
    return path


def corrupt(path):
    with open(path, "r+b") as handle:
        handle.seek(4096 * 2)
        handle.write(b"\xde\xad\xbe\xef" * 2048)


@pytest.fixture
def devices(tmp_path, objstore_conf):
    (tmp_path / "sda").mkdir()
    return tmp_path


def auditor(devices, cls=ContainerAuditor, **kw):
    kw.setdefault("mount_check", False)
    config = DBAuditorConfig(devices=str(devices), databases_per_second=0, **kw)
    return cls(config, capturing_logger()[0])


def test_good_dbs_pass_bad_ones_are_quarantined(devices):
    good = make_db(devices, "good")
    bad = make_db(devices, "bad")
    assert audit_db(ContainerBroker(good))["object_count"] == 200
    corrupt(bad)
    stats = auditor(devices).run_pass()
    assert stats == {"passed": 1, "failed": 1, "quarantined": 1}
    assert os.path.exists(good) and not os.path.exists(bad)
    name_hash = os.path.basename(os.path.dirname(bad))
    moved = devices / "sda" / "quarantined" / "containers" / name_hash
    assert (moved / (name_hash + ".db")).exists()
    assert auditor(devices).run_pass() == {"passed": 1, "failed": 0, "quarantined": 0}
    # the account auditor looks only at accounts
    assert auditor(devices, AccountAuditor).run_pass() == {"passed": 0, "failed": 0, "quarantined": 0}


def test_device_filter_and_mount_check(devices):
    make_db(devices, "c")
    assert auditor(devices).run_pass(devices=["sdb"])["passed"] == 0
    assert auditor(devices, mount_check=True).run_pass()["passed"] == 0  # plain dirs are not mounts


def test_quarantine_twice_keeps_both(devices):
    first = make_db(devices, "c")
    target1 = quarantine_db(first, "container", "test")
    second = make_db(devices, "c")
    target2 = quarantine_db(second, "container", "test")
    assert target1 != target2 and os.path.isdir(target1) and os.path.isdir(target2)


def test_server_quarantines_a_corrupt_db_it_meets(devices, capture):
    app = ContainerServer(ContainerServerConfig(devices=str(devices), mount_check=False), capture[0], DEFAULT)
    path = make_db(devices, "c")
    corrupt(path)
    resp = Request.blank("/sda/3/a/c?format=json").get_response(app)
    assert resp.status_int == 500
    assert not os.path.exists(path)
    assert any("quarantined" in line for line in capture[1].lines())
    assert Request.blank("/sda/3/a/c").get_response(app).status_int == 404
