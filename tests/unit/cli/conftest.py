"""Fixtures shared by the CLI tests."""

import pytest

from objstore.cli import catalog, layout


@pytest.fixture(scope="module")
def one_node_layout(tmp_path_factory):
    """A one-node, one-replica all-in-one layout: configs (the node's etc dir
    has the three storage confs), secrets and rings; nothing running."""
    data = str(tmp_path_factory.mktemp("aio"))
    settings = layout.Settings(data, nodes=1, replicas=1)
    layout.ensure_secrets(data)
    layout.write_configs(settings, catalog.available())
    layout.build_rings(settings)
    return settings
