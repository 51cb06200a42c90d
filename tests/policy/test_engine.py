"""Compiled plans: how each customer field leaves the gateway for one (role, purpose)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.consent.purposes import CATEGORIES, Purposes
from gateway.policy import Code, PolicyEngine
from gateway.policy.engine import FieldSpec
from gateway.profile.fields import CUSTOMER_FIELDS

POLICY_DIR = Path(__file__).resolve().parents[2] / "policies"

IDENTIFIERS = ("email", "phone", "loyaltyCardNumber")
RAW, MASK, PSEUDONYM, DENIED = "raw", "mask", "pseudonym", None

# (role, purpose) -> the mode of (email, phone, loyaltyCardNumber); None: the field is denied.
IDENTIFIER_MODES: dict[tuple[str, str], tuple[str | None, str | None, str | None]] = {
    ("marketing", "marketing_email"): (RAW, MASK, MASK),
    ("marketing", "marketing_sms"): (MASK, RAW, MASK),
    ("marketing", "marketing_push"): (DENIED, DENIED, MASK),
    ("marketing", "ads_audience"): (PSEUDONYM, PSEUDONYM, DENIED),
    ("analytics", "analytics"): (PSEUDONYM, PSEUDONYM, DENIED),
    ("analytics", "profiling"): (DENIED, DENIED, DENIED),
    ("support", "support"): (MASK, MASK, MASK),
    ("support", "service"): (RAW, RAW, MASK),
    ("call_center", "support"): (MASK, RAW, MASK),
    ("call_center", "service"): (RAW, RAW, MASK),
    ("compliance_officer", "compliance_audit"): (MASK, MASK, MASK),
    ("linkage", "identity_resolution"): (RAW, RAW, RAW),
    ("intruder", "support"): (DENIED, DENIED, DENIED),
}

# (role, purpose) -> the categories whose fields the plan lets through.
READABLE: dict[tuple[str, str], set[str]] = {
    ("marketing", "marketing_email"): {"identity", "contact", "location", "transactions",
                                       "interactions", "preferences", "derived"},
    ("marketing", "marketing_sms"): {"identity", "contact", "location", "preferences", "derived"},
    ("analytics", "analytics"): {"contact", "location", "transactions", "interactions",
                                 "preferences", "derived"},
    ("support", "support"): {"identity", "contact", "location", "transactions", "interactions",
                             "preferences", "derived"},
    ("call_center", "service"): {"identity", "contact", "location", "transactions"},
    ("linkage", "identity_resolution"): {"identity", "contact", "location"},
    ("intruder", "service"): set(),
    ("marketing", "self_service"): set(),
}

PURPOSES_OF: dict[str, set[str]] = {
    "marketing": {"marketing_email", "marketing_sms", "marketing_push", "ads_audience",
                  "profiling"},
    "analytics": {"analytics", "profiling"},
    "support": {"support", "service"},
    "call_center": {"support", "service"},
    "compliance_officer": {"compliance_audit"},
    "linkage": {"identity_resolution"},
    "subject": {"self_service"},  # the data subject, through the portal only
    "data_steward": {"identity_resolution"},
    "intruder": set(),
}


@pytest.mark.parametrize(
    ("role", "purpose_name"), list(IDENTIFIER_MODES), ids=[f"{r}-{p}" for r, p in IDENTIFIER_MODES]
)
def test_identifier_modes(
    engine: PolicyEngine, purposes: Purposes, role: str, purpose_name: str
) -> None:
    # given: the customer catalog and one (role, purpose)
    purpose = purposes.by_name[purpose_name]
    expected = IDENTIFIER_MODES[(role, purpose_name)]
    # when: the plan is compiled
    plan = engine.plan(role, purpose, CUSTOMER_FIELDS)
    # then: each identifier leaves raw, pseudonymized or masked, or not at all
    seen = tuple(
        plan.access(name).mode if plan.access(name).allowed else None for name in IDENTIFIERS
    )
    assert seen == expected
    for name in IDENTIFIERS:
        access = plan.access(name)
        if not access.allowed:
            assert access.decision.code is Code.POLICY_DENIED


@pytest.mark.parametrize(
    ("role", "purpose_name"), list(READABLE), ids=[f"{r}-{p}" for r, p in READABLE]
)
def test_plan_lets_through_the_readable_categories(
    engine: PolicyEngine, purposes: Purposes, role: str, purpose_name: str
) -> None:
    # given: one (role, purpose) and the categories the policy lets it read
    categories = READABLE[(role, purpose_name)]
    # when: the plan is compiled
    plan = engine.plan(role, purposes.by_name[purpose_name], CUSTOMER_FIELDS)
    # then: exactly the fields whose every category (own and lineage) is readable are
    # allowed; non-identifiers as values
    expected = {f.name for f in CUSTOMER_FIELDS if set(f.categories) <= categories}
    assert plan.allowed_names() == expected
    for spec in CUSTOMER_FIELDS:
        access = plan.access(spec.name)
        code = Code.ALLOWED if spec.name in expected else Code.POLICY_DENIED
        assert access.decision.code is code
        if access.allowed and spec.identifier is None:
            assert access.mode == "value"


def test_field_without_category_is_denied(engine: PolicyEngine, purposes: Purposes) -> None:
    # given: a catalog with a field nobody categorised, next to a categorised one
    specs = (FieldSpec("mystery", None), FieldSpec("city", "location"))
    # when: a role that may read everything else compiles a plan over it
    plan = engine.plan("compliance_officer", purposes.by_name["compliance_audit"], specs)
    # then: the uncategorised field (and a name the plan never saw) is denied NO_CATEGORY
    assert not plan.access("mystery").allowed
    assert plan.access("mystery").decision.code is Code.NO_CATEGORY
    assert plan.access("notAField").decision.code is Code.NO_CATEGORY
    assert plan.access("city").allowed
    assert plan.allowed_names() == {"city"}


def test_every_catalog_field_has_a_category() -> None:
    # given: the customer catalog
    # then: every field has a real category, and no field is in the special category
    for spec in CUSTOMER_FIELDS:
        assert spec.category in CATEGORIES - {"special"}, spec


class _Spy:
    """Counts the questions put to casbin, passing them through."""

    def __init__(self, wrapped: Any) -> None:
        self.wrapped = wrapped
        self.calls: list[tuple[str, ...]] = []

    def __call__(self, *rvals: str) -> Any:
        self.calls.append(tuple(rvals))
        return self.wrapped(*rvals)


def test_decisions_are_memoized(purposes: Purposes, monkeypatch: pytest.MonkeyPatch) -> None:
    # given: a fresh engine whose casbin enforcer is spied on
    engine = PolicyEngine(POLICY_DIR, purposes)
    spy = _Spy(engine._enforcer.enforce_ex)
    monkeypatch.setattr(engine._enforcer, "enforce_ex", spy)
    marketing_email = purposes.by_name["marketing_email"]
    # when: the same questions are asked many times, through decide and through plans
    for _ in range(3):
        engine.decide("marketing", "marketing_email", "contact", "reveal")
        engine.decide("analytics", "analytics", "identity", "read")
    first = engine.plan("marketing", marketing_email, CUSTOMER_FIELDS)
    again = engine.plan("marketing", marketing_email, CUSTOMER_FIELDS)
    engine.plan("marketing", marketing_email, tuple(CUSTOMER_FIELDS))  # an equal catalog
    engine.purposes_of("marketing")
    engine.purposes_of("marketing")
    # then: casbin saw each distinct question exactly once, and a plan is compiled once
    assert len(spy.calls) == len(set(spy.calls))
    assert ("marketing", "marketing_email", "contact", "reveal") in spy.calls
    assert ("analytics", "analytics", "identity", "read") in spy.calls
    assert again is first
    # and: compiling a known plan again asks casbin nothing
    before = len(spy.calls)
    engine.plan("marketing", marketing_email, CUSTOMER_FIELDS)
    engine.decide("marketing", "marketing_email", "contact", "reveal")
    assert len(spy.calls) == before


def test_memoized_decision_equals_a_fresh_one(engine: PolicyEngine, purposes: Purposes) -> None:
    # given: a memoized answer and the answer of a fresh engine
    memo = engine.decide("call_center", "support", "contact", "reveal")
    engine.decide("call_center", "support", "contact", "reveal")
    fresh = PolicyEngine(POLICY_DIR, purposes).decide("call_center", "support", "contact", "reveal")
    # then: the same decision, naming the call-center rule
    assert memo == fresh
    assert memo.rule == ("call_center", "support", "contact", "reveal", "allow")


@pytest.mark.parametrize("role", list(PURPOSES_OF))
def test_purposes_of(engine: PolicyEngine, role: str) -> None:
    # given: a role
    # when: asking for the purposes it may read something for
    own = engine.purposes_of(role)
    # then: its own purposes, and never self_service (customers only)
    assert own == PURPOSES_OF[role]
    assert ("self_service" in own) is (role == "subject")


def test_roles(engine: PolicyEngine) -> None:
    # given: the shipped policy
    # then: the roles it names, the wildcard excluded
    assert engine.roles() == set(PURPOSES_OF) - {"intruder"}


def test_derived_value_is_no_more_readable_than_its_inputs(engine: PolicyEngine, purposes: Purposes) -> None:
    # given: marketing under marketing_sms may read `derived` but not `transactions`
    plan = engine.plan("marketing", purposes.by_name["marketing_sms"], CUSTOMER_FIELDS)
    assert engine.decide("marketing", "marketing_sms", "derived", "read").allowed
    # when: deciding the exact recency (days since the last order) and a coarse score
    recency, score = plan.access("rfmRecency"), plan.access("rfmFrequency")
    # then: the recency is denied like the last order's date, by the transactions rule
    assert not recency.allowed and recency.decision.code is Code.POLICY_DENIED
    assert plan.access("lastOrderAt").decision.code is Code.POLICY_DENIED
    # and: the score, coarse by its written rule, is decided by its own category (the control)
    assert score.allowed


def test_decide_all_needs_every_category(engine: PolicyEngine) -> None:
    # given: categories marketing_sms may and may not read
    # then: a value computed from both is denied; from readable ones only, allowed
    assert not engine.decide_all("marketing", "marketing_sms", ("derived", "transactions")).allowed
    assert engine.decide_all("marketing", "marketing_sms", ("derived", "location")).allowed
    # and: a value with no category at all is denied
    assert engine.decide_all("marketing", "marketing_sms", ()).code is Code.NO_CATEGORY
