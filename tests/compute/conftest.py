"""Fixtures of the compute integration and end-to-end tests.

``object_store``: the REAL objstore cluster (tests/functional/cluster.py: 4
nodes, 3 replicas, proxy with tempauth), started once for this directory and
stopped after it (package scope); only if that module is absent does it fall
back to the FAKE Swift-like server of tests/unit/client/fakeswift.py, and
``object_store.kind`` says which ("cluster" or "fake") so the tests report it.

Helpers live in plain modules (qemuhost.py, tests/unit/compute/needs.py):
importing a conftest as a module from elsewhere was seen to hang later
eventlet-using tests of other packages in the same run.

Anything missing on the machine fails the test with what to install; nothing
skips.
"""

import types

import pytest

USER, KEY = "test:tester", "testing"


@pytest.fixture(scope="package")
def object_store(tmp_path_factory):
    try:
        from tests.functional.cluster import Cluster
    except ImportError:
        Cluster = None
    if Cluster is None:
        from tests.unit.client.fakeswift import FakeSwift

        fake = FakeSwift({USER: KEY}).start()  # FAKE store: the cluster module is not there
        yield types.SimpleNamespace(kind="fake", auth_url=fake.auth_url, user=USER, key=KEY)
        fake.stop()
        return
    cluster = Cluster(tmp_path_factory.mktemp("compute-cluster"))
    try:
        cluster.start()
    except Exception:
        cluster.stop()
        raise
    yield types.SimpleNamespace(kind="cluster", auth_url=cluster.auth_url, user=USER, key=KEY)
    cluster.stop()
