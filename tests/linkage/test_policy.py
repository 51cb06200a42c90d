"""policies/linkage_cases.csv: who may ingest, read source records, merge and split."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from gateway.consent.purposes import load_purposes
from gateway.policy import Code, PolicyEngine

REPO = Path(__file__).resolve().parents[2]
CASES = list(csv.DictReader((REPO / "policies" / "linkage_cases.csv").read_text().splitlines()))


@pytest.fixture(scope="module")
def engine() -> PolicyEngine:
    return PolicyEngine(REPO / "policies", load_purposes(REPO / "policies" / "purposes.yaml"))


def test_every_role_is_asked_about_every_object(engine: PolicyEngine) -> None:
    # then: each role of the policy (and an unknown one) has rows on both objects
    for role in engine.roles() | {"intruder"}:
        assert {c["object"] for c in CASES if c["subject"] == role} == {"source_record", "linkage_case"}, role


def test_only_data_stewards_merge_and_split() -> None:
    writers = {c["subject"] for c in CASES if c["object"] == "linkage_case" and c["expected"] == "allow"}
    assert writers == {"data_steward"}


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(list(c.values())[:4]))
def test_linkage_decision(engine: PolicyEngine, case: dict[str, str]) -> None:
    # when
    decision = engine.decide(case["subject"], case["purpose"], case["object"], case["action"])
    # then
    assert decision.allowed is (case["expected"] == "allow")
    assert decision.code is (Code.ALLOWED if case["expected"] == "allow" else Code.POLICY_DENIED)
