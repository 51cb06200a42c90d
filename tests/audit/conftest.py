"""Fixtures of the audit tests: the shared gateway under a short name."""

from __future__ import annotations

import pytest

from tests.harness import Gateway


@pytest.fixture
def gw(gateway: Gateway) -> Gateway:
    """The session's gateway (one per backend); tests use apps and customers of their own."""
    return gateway
