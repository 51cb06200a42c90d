"""Fixtures of the segmentation tests: the shared gateway (both backends) under a short name."""

from __future__ import annotations

import pytest

from tests.harness import Gateway


@pytest.fixture
def gw(gateway: Gateway) -> Gateway:
    """The session's gateway (one per backend); tests add their own customers to it."""
    return gateway
