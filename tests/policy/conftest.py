"""Fixtures of the policy tests: the shipped purposes and a policy engine over policies/."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.consent.purposes import Purposes, load_purposes
from gateway.policy import PolicyEngine

REPO = Path(__file__).resolve().parents[2]
POLICY_DIR = REPO / "policies"


@pytest.fixture(scope="session")
def purposes() -> Purposes:
    """The purposes of policies/purposes.yaml."""
    return load_purposes(POLICY_DIR / "purposes.yaml")


@pytest.fixture(scope="session")
def engine(purposes: Purposes) -> PolicyEngine:
    """One engine for the read-only tests (its memo tables only grow)."""
    return PolicyEngine(POLICY_DIR, purposes)
