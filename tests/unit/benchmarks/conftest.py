"""Fixtures for the benchmark harness tests."""

import pytest

from tests.unit.benchmarks.fakeswift import FakeSwift


@pytest.fixture
def fake_swift():
    """A running FAKE Swift-like server on 127.0.0.1:0 (see fakeswift.py)."""
    with FakeSwift() as server:
        yield server
