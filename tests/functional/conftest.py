"""The session-wide cluster: started once for the whole functional suite."""

import os

import pytest

from objstore.common import hashing
from tests.functional.cluster import Cluster


@pytest.fixture(scope="session")
def cluster(tmp_path_factory):
    attach = os.environ.get("OBJSTORE_TEST_CLUSTER")  # "<root>:<proxy port>" of a running cluster
    if attach:
        root, port = attach.rsplit(":", 1)
        yield Cluster.attach(root, int(port))
        return
    root = tmp_path_factory.mktemp("cluster")
    cl = Cluster(root)
    try:
        cl.start()
    except Exception:
        cl.stop()
        raise
    yield cl
    cl.stop()


@pytest.fixture
def ring_env(cluster, monkeypatch):
    """OBJSTORE_CONF pointing at the cluster's secrets (to read its rings)."""
    monkeypatch.setenv("OBJSTORE_CONF", cluster.objstore_conf)
    hashing.load_secrets.cache_clear()
    yield cluster
    hashing.load_secrets.cache_clear()


@pytest.fixture
def admin(cluster):
    """``(storage_url, token)`` of test:tester, owner of AUTH_test."""
    return cluster.auth("test:tester", "testing")


@pytest.fixture
def swift(cluster):
    """A python-swiftclient Connection as test:tester."""
    import swiftclient

    conn = swiftclient.Connection(authurl=cluster.auth_url, user="test:tester", key="testing",
                                  retries=0, timeout=30)
    yield conn
    conn.close()


def pytest_collection_modifyitems(items):
    for item in items:
        if os.sep + "functional" + os.sep in str(item.fspath):
            item.add_marker(pytest.mark.functional)
