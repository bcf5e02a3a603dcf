"""Shared fixtures: cluster secrets, capturing loggers, free sockets."""

import os
import secrets
import socket

import pytest

from objstore.common import hashing
from objstore.common.log import capturing_logger


@pytest.fixture
def objstore_conf(tmp_path, monkeypatch):
    """A fresh objstore.conf with random hash secrets, pointed at by OBJSTORE_CONF."""
    path = tmp_path / "objstore.conf"
    hashing.write_objstore_conf(str(path), secrets.token_hex(8), secrets.token_hex(8))
    monkeypatch.setenv("OBJSTORE_CONF", str(path))
    hashing.load_secrets.cache_clear()
    yield str(path)
    hashing.load_secrets.cache_clear()


@pytest.fixture
def capture():
    """``(logger, handler)``: hand the logger to code, read handler.lines()."""
    return capturing_logger()


@pytest.fixture
def listen_socket():
    """A factory of listening sockets on 127.0.0.1 ephemeral ports (closed after)."""
    made = []

    def make():
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        sock.set_inheritable(True)
        made.append(sock)
        return sock

    yield make
    for sock in made:
        sock.close()


@pytest.fixture(autouse=True)
def _no_real_conf(monkeypatch, tmp_path_factory):
    """Tests never read /etc/objstore: unless a test sets one, OBJSTORE_CONF is a missing file."""
    if "OBJSTORE_CONF" not in os.environ:
        monkeypatch.setenv("OBJSTORE_CONF", str(tmp_path_factory.getbasetemp() / "no-objstore.conf"))
    hashing.load_secrets.cache_clear()
