"""policies/portal_cases.csv: the data subject acts under self_service only, and nobody else
does; apps can never hold the `subject` role."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from gateway.auth.apps import create_app
from gateway.consent.purposes import load_purposes
from gateway.errors import ServiceError
from gateway.policy import Code, PolicyEngine
from tests.harness import Gateway

REPO = Path(__file__).resolve().parents[2]
CASES = list(csv.DictReader((REPO / "policies" / "portal_cases.csv").read_text().splitlines()))


@pytest.fixture(scope="module")
def engine() -> PolicyEngine:
    return PolicyEngine(REPO / "policies", load_purposes(REPO / "policies" / "purposes.yaml"))


def test_every_role_is_asked_about_self_service(engine: PolicyEngine) -> None:
    # then: each role (and an unknown one) has rows under self_service; only `subject` is allowed
    asked = {c["subject"] for c in CASES if c["purpose"] == "self_service"}
    assert engine.roles() | {"intruder"} <= asked
    allowed = {c["subject"] for c in CASES if c["expected"] == "allow"}
    assert allowed == {"subject"}
    assert {c["purpose"] for c in CASES if c["subject"] == "subject" and c["expected"] == "allow"} == {
        "self_service"}


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(list(c.values())[:4]))
def test_portal_decision(engine: PolicyEngine, case: dict[str, str]) -> None:
    # when
    decision = engine.decide(case["subject"], case["purpose"], case["object"], case["action"])
    # then
    assert decision.allowed is (case["expected"] == "allow")
    assert decision.code is (Code.ALLOWED if case["expected"] == "allow" else Code.POLICY_DENIED)


def test_no_app_can_be_created_in_the_subject_role(gw: Gateway) -> None:
    # given / when: registering an app as `subject` (it would read everyone in the clear)
    with gw.engine.begin() as conn, pytest.raises(ServiceError) as refused:
        create_app(conn, "sneaky-subject-app", "subject", gw.services.policy.roles())
    # then: refused like an unknown role, and the role is not offered
    assert refused.value.code is Code.INVALID_INPUT and "subject" not in refused.value.message
