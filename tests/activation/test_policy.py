"""policies/activation_cases.csv: who may plan, run and read campaigns, and the rest.

Objects: campaign (plan, run, read), destination (read; configured only by the operator's
command line, so `write` is denied to everyone), outbox (read), activation_result (read),
activation_event (write), suppression (read, write), recipients (read).
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from gateway.consent.purposes import load_purposes
from gateway.policy import Code, PolicyEngine

REPO = Path(__file__).resolve().parents[2]
CASES = list(csv.DictReader((REPO / "policies" / "activation_cases.csv").read_text().splitlines()))
OBJECTS = {
    "campaign": {"plan", "run", "read"}, "destination": {"read", "write"}, "outbox": {"read"},
    "activation_result": {"read"}, "activation_event": {"write"},
    "suppression": {"read", "write"}, "recipients": {"read"},
}


@pytest.fixture(scope="module")
def engine() -> PolicyEngine:
    return PolicyEngine(REPO / "policies", load_purposes(REPO / "policies" / "purposes.yaml"))


def test_every_role_object_and_action_is_asked(engine: PolicyEngine) -> None:
    # then: each role of the policy (and an unknown one) has rows; every object and action
    assert engine.roles() | {"intruder"} <= {c["subject"] for c in CASES}
    asked = {(c["object"], c["action"]) for c in CASES}
    assert asked == {(o, a) for o, actions in OBJECTS.items() for a in actions}
    keys = [(c["subject"], c["purpose"], c["object"], c["action"]) for c in CASES]
    assert len(keys) == len(set(keys)), "a question appears twice"


def test_analytics_reads_results_only() -> None:
    # then: the analytics role is allowed exactly one thing here
    allowed = {(c["object"], c["action"]) for c in CASES
               if c["subject"] == "analytics" and c["expected"] == "allow"}
    assert allowed == {("activation_result", "read")}


def test_only_marketing_plans_and_runs() -> None:
    runners = {c["subject"] for c in CASES if c["object"] == "campaign"
               and c["action"] in ("plan", "run") and c["expected"] == "allow"}
    assert runners == {"marketing"}


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(list(c.values())[:4]))
def test_activation_decision(engine: PolicyEngine, case: dict[str, str]) -> None:
    # when
    decision = engine.decide(case["subject"], case["purpose"], case["object"], case["action"])
    # then
    assert decision.allowed is (case["expected"] == "allow")
    assert decision.code is (Code.ALLOWED if case["expected"] == "allow" else Code.POLICY_DENIED)
