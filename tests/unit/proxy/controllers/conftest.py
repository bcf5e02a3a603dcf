"""The proxy's controller tests run over real storage servers (realnodes.py)."""

import pytest

from objstore.common.constraints import DEFAULT
from objstore.proxy.server import ProxyApp, ProxyServerConfig
from tests.unit.proxy import realnodes


@pytest.fixture
def cluster(tmp_path, objstore_conf, capture):
    """A ProxyApp over real storage servers (accounts are autocreated)."""
    logger, _handler = capture
    servers, rings = realnodes.start(tmp_path, logger)
    config = ProxyServerConfig(account_autocreate=True, node_timeout=5.0, object_chunk_size=65536)
    app = ProxyApp(config, logger, rings[2], rings[1], rings[0], DEFAULT)
    yield app
    realnodes.stop(app, servers)
