"""Fixtures for the object server's tests: a devices dir with one device, a
DiskFileManager over it, and the app."""

import os

import pytest

from objstore.obj.diskfile import DiskFileManager
from objstore.obj.server import ObjectServer, ObjectServerConfig


@pytest.fixture
def devices(tmp_path, objstore_conf):
    """``tmp_path/devices`` holding the device ``sda`` (mount_check off)."""
    path = tmp_path / "devices"
    os.makedirs(path / "sda")
    return str(path)


@pytest.fixture
def manager(devices, capture):
    return DiskFileManager(devices, False, capture[0], reclaim_age=604800)


@pytest.fixture
def make_app(devices, capture):
    def make(**overrides):
        options = dict(devices=devices, mount_check=False, container_update_timeout=2.0,
                       conn_timeout=0.5, node_timeout=2.0)
        options.update(overrides)
        config = ObjectServerConfig(**options)
        manager = DiskFileManager(devices, config.mount_check, capture[0], config.reclaim_age,
                                  config.fallocate_reserve, config.disk_chunk_size, config.keep_cache_size)
        return ObjectServer(config, capture[0], manager)

    return make


@pytest.fixture
def app(make_app):
    return make_app()
