"""Fixtures for the client's tests: a FAKE Swift-like server (see fakeswift.py)."""

import pytest

from tests.unit.client.fakeswift import FakeSwift


@pytest.fixture
def fake_swift():
    """A fresh in-memory fake of the object store's API (user test:tester / testing)."""
    store = FakeSwift().start()
    yield store
    store.stop()
