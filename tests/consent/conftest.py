"""Fixtures of the preference-center tests."""

from __future__ import annotations

import pytest

from gateway.consent.purposes import Purposes, load_purposes
from tests.harness import REPO


@pytest.fixture(scope="session")
def purposes() -> Purposes:
    """The purposes of policies/purposes.yaml."""
    return load_purposes(REPO / "policies" / "purposes.yaml")
