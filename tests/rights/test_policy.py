"""policies/rights_cases.csv: who may open, follow, see and carry out data subject requests.

The rows live beside cases.csv (whose objects are data categories only): `rights_case` is an
object of its own. Actions: open, read_own (the cases one's app opened), read (all), execute,
read_export (the content of a person's export document: nobody by default).
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from gateway.consent.purposes import load_purposes
from gateway.policy import Code, PolicyEngine

REPO = Path(__file__).resolve().parents[2]
CASES = list(csv.DictReader((REPO / "policies" / "rights_cases.csv").read_text().splitlines()))
ACTIONS = {"open", "read_own", "read", "execute", "read_export"}


@pytest.fixture(scope="module")
def engine() -> PolicyEngine:
    return PolicyEngine(REPO / "policies", load_purposes(REPO / "policies" / "purposes.yaml"))


def test_every_role_and_action_is_asked(engine: PolicyEngine) -> None:
    # then: each role of the policy (and an unknown one) has a row, every action is asked
    assert engine.roles() | {"intruder"} <= {c["subject"] for c in CASES}
    assert {c["action"] for c in CASES} == ACTIONS
    assert {c["object"] for c in CASES} == {"rights_case"}


def test_only_compliance_officers_execute() -> None:
    # then: erasure and every other right is carried out by compliance officers alone
    executing = {c["subject"] for c in CASES if c["action"] == "execute" and c["expected"] == "allow"}
    assert executing == {"compliance_officer"}


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(list(c.values())[:4]))
def test_rights_case_decision(engine: PolicyEngine, case: dict[str, str]) -> None:
    # when
    decision = engine.decide(case["subject"], case["purpose"], case["object"], case["action"])
    # then
    assert decision.allowed is (case["expected"] == "allow")
    assert decision.code is (Code.ALLOWED if case["expected"] == "allow" else Code.POLICY_DENIED)
