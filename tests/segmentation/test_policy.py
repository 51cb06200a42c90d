"""policies/segment_cases.csv: who may read, count and save segments, for which purpose."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from gateway.consent.purposes import load_purposes
from gateway.policy import Code, PolicyEngine

REPO = Path(__file__).resolve().parents[2]
CASES = list(csv.DictReader((REPO / "policies" / "segment_cases.csv").read_text().splitlines()))
ACTIONS = {"read", "count", "write"}


@pytest.fixture(scope="module")
def engine() -> PolicyEngine:
    return PolicyEngine(REPO / "policies", load_purposes(REPO / "policies" / "purposes.yaml"))


def test_every_role_and_action_is_asked(engine: PolicyEngine) -> None:
    # then: every role of the policy (and an unknown one) has rows, every action is asked
    assert engine.roles() | {"intruder"} <= {c["subject"] for c in CASES}
    assert {c["action"] for c in CASES} == ACTIONS
    assert {c["object"] for c in CASES} == {"segment"}
    for role in engine.roles() | {"intruder"}:
        assert {c["action"] for c in CASES if c["subject"] == role} >= {"read", "write"}, role


def test_only_marketing_saves_segments() -> None:
    writers = {c["subject"] for c in CASES if c["action"] == "write" and c["expected"] == "allow"}
    assert writers == {"marketing"}


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(list(c.values())[:4]))
def test_segment_decision(engine: PolicyEngine, case: dict[str, str]) -> None:
    # when
    decision = engine.decide(case["subject"], case["purpose"], case["object"], case["action"])
    # then
    assert decision.allowed is (case["expected"] == "allow")
    assert decision.code is (Code.ALLOWED if case["expected"] == "allow" else Code.POLICY_DENIED)
