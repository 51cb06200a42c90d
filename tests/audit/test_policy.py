"""policies/audit_cases.csv: who may read the audit log, stated row by row, checked against casbin.

The rows live beside cases.csv (whose objects are data categories only): `audit_log` is an
object of its own, not a category of personal data.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from gateway.consent.purposes import load_purposes
from gateway.policy import Code, PolicyEngine

REPO = Path(__file__).resolve().parents[2]
CASES = list(csv.DictReader((REPO / "policies" / "audit_cases.csv").read_text().splitlines()))


@pytest.fixture(scope="module")
def engine() -> PolicyEngine:
    return PolicyEngine(REPO / "policies", load_purposes(REPO / "policies" / "purposes.yaml"))


def test_every_role_is_asked(engine: PolicyEngine) -> None:
    # then: each role of the policy (and an unknown one) has a row
    assert engine.roles() | {"intruder"} <= {c["subject"] for c in CASES}


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(list(c.values())[:4]))
def test_audit_log_decision(engine: PolicyEngine, case: dict[str, str]) -> None:
    # when
    decision = engine.decide(case["subject"], case["purpose"], case["object"], case["action"])
    # then
    assert decision.allowed is (case["expected"] == "allow")
    assert decision.code is (Code.ALLOWED if case["expected"] == "allow" else Code.POLICY_DENIED)
