"""The SQL filter is derived from `decide_subject`, whatever shape that rule takes."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import product

import pytest
from sqlalchemy import Engine, create_engine, literal, select

from gateway.consent import state
from gateway.consent.purposes import Purposes
from gateway.policy import Code, SubjectFlags, decide_subject
from gateway.policy.decision import ALLOW, Decision
from gateway.store.types import utcnow

COMBOS = list(product((False, True), repeat=len(SubjectFlags._fields)))


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    found = create_engine("sqlite://")
    yield found
    found.dispose()


def _sql_allows(engine: Engine, purposes: Purposes, name: str, combo: tuple[bool, ...],
                monkeypatch: pytest.MonkeyPatch) -> bool:
    # the flags as constants instead of lookups in the ledger: only the derivation is tested
    flags = tuple(literal(v) for v in combo)
    monkeypatch.setattr(state, "_flag_expressions", lambda *_: flags)
    condition = state.subject_allows(literal(1), purposes.by_name[name], utcnow())
    with engine.connect() as conn:
        return bool(conn.execute(select(condition)).scalar_one())


@pytest.mark.parametrize("name", ["service", "analytics", "marketing_email", "marketing_push",
                                  "ads_audience", "compliance_audit", "identity_resolution"])
def test_the_filter_allows_exactly_what_decide_subject_allows(
    engine: Engine, purposes: Purposes, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: every combination of the subject's flags
    purpose = purposes.by_name[name]
    for combo in COMBOS:
        # when: deciding per row and filtering in SQL
        decision = decide_subject(purpose, SubjectFlags(*combo))
        # then: both agree
        assert _sql_allows(engine, purposes, name, combo, monkeypatch) is decision.allowed, combo


def test_a_rule_that_is_not_a_conjunction_is_still_derived_exactly(
    engine: Engine, purposes: Purposes, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: a rule no single conjunction expresses (restricted XOR consented)
    def odd_rule(_purpose: object, flags: SubjectFlags) -> Decision:
        return ALLOW if flags.restricted != flags.consented else Decision.deny(Code.RESTRICTED)

    monkeypatch.setattr(state, "decide_subject", odd_rule)
    for combo in COMBOS:
        # when / then: the SQL condition follows the rule, combination by combination
        expected = odd_rule(None, SubjectFlags(*combo)).allowed
        assert _sql_allows(engine, purposes, "marketing_email", combo, monkeypatch) is expected, combo
