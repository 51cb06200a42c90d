"""policies/cases.csv: the organisation's policy stated row by row, checked against casbin.

The table is written by hand from policy.csv's intent, not generated from the engine, so a
change of policy.csv that changes an answer must change the table too.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import pytest

from gateway.consent.purposes import CATEGORIES, Purposes
from gateway.policy import Code, PolicyEngine
from gateway.policy.engine import ACTIONS

REPO = Path(__file__).resolve().parents[2]
CASES_CSV = REPO / "policies" / "cases.csv"
POLICY_CSV = REPO / "policies" / "policy.csv"
HEADER = ["subject", "purpose", "object", "action", "expected"]
UNKNOWN_ROLE = "intruder"
MIN_ROWS = 60
# The preference center's objects (who may read or record consents and preferences).
# Writes are split by what they do to the customer's protection (DESIGN.md rule 8).
PREFERENCE_OBJECTS = frozenset({"consent", "preference"})
PREFERENCE_ACTIONS = {"consent": ("read", "refuse", "grant"),
                      "preference": ("read", "restrict", "relax")}


@dataclass(frozen=True)
class Case:
    """One row of cases.csv."""

    subject: str
    purpose: str
    object: str
    action: str
    expected: str

    @property
    def id(self) -> str:
        return f"{self.subject}-{self.purpose}-{self.object}-{self.action}"


def _read_cases() -> list[Case]:
    with CASES_CSV.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        assert header == HEADER, f"{CASES_CSV.name}: header must be {','.join(HEADER)}"
        return [Case(*(cell.strip() for cell in row)) for row in reader if row]


def _read_policy() -> tuple[list[tuple[str, ...]], dict[str, set[str]]]:
    """policy.csv's deny rules and its role inheritance (child -> direct parents)."""
    denies: list[tuple[str, ...]] = []
    parents: dict[str, set[str]] = {}
    for line in POLICY_CSV.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.split(",")]
        if cells[0] == "p" and cells[-1] == "deny":
            denies.append(tuple(cells[1:]))
        elif cells[0] == "g":
            parents.setdefault(cells[1], set()).add(cells[2])
    return denies, parents


CASES = _read_cases()
DENY_RULES, PARENTS = _read_policy()


def _roles_of(subject: str) -> set[str]:
    """`subject` and every role it inherits from, transitively."""
    found, todo = {subject}, [subject]
    while todo:
        for parent in PARENTS.get(todo.pop(), ()):
            if parent not in found:
                found.add(parent)
                todo.append(parent)
    return found


def _explicit_deny(case: Case) -> tuple[str, ...] | None:
    """The deny rule of policy.csv that matches `case`, if any."""
    roles = _roles_of(case.subject)
    for rule in DENY_RULES:
        sub, pur, obj, act, _ = rule
        if (
            (sub == "*" or sub in roles) and pur in ("*", case.purpose)
            and obj in ("*", case.object) and act in ("*", case.action)
        ):
            return rule
    return None


def test_table_is_well_formed() -> None:
    # given: the rows of cases.csv
    keys = [c.id for c in CASES]
    # then: enough rows, each a known category, action and expectation, none repeated
    assert len(CASES) >= MIN_ROWS
    assert len(keys) == len(set(keys)), "a question appears twice in cases.csv"
    for case in CASES:
        if case.object in PREFERENCE_OBJECTS:
            assert case.action in PREFERENCE_ACTIONS[case.object], case
        else:
            assert case.object in CATEGORIES, case
            assert case.action in ACTIONS, case
        assert case.expected in ("allow", "deny"), case


def test_table_covers_every_role_purpose_category_and_action(
    engine: PolicyEngine, purposes: Purposes
) -> None:
    # given: the roles the policy names and the purposes purposes.yaml declares
    roles = engine.roles()
    declared = set(purposes.by_name)
    # when: collecting what the table asks about
    subjects = {c.subject for c in CASES}
    asked = {c.purpose for c in CASES}
    # then: every role, an unknown role, every purpose, category and action is covered
    assert roles <= subjects, f"roles without cases: {sorted(roles - subjects)}"
    assert UNKNOWN_ROLE not in roles and UNKNOWN_ROLE in subjects
    assert declared <= asked, f"purposes without cases: {sorted(declared - asked)}"
    assert asked <= declared, f"cases for undeclared purposes: {sorted(asked - declared)}"
    on_data = [c for c in CASES if c.object not in PREFERENCE_OBJECTS]
    on_choices = [c for c in CASES if c.object in PREFERENCE_OBJECTS]
    assert {c.object for c in on_data} == CATEGORIES
    assert {c.action for c in on_data} == set(ACTIONS)
    assert {(c.object, c.action) for c in on_choices} == {
        (o, a) for o in PREFERENCE_OBJECTS for a in PREFERENCE_ACTIONS[o]}
    # and: every role has at least one allowed and one denied case (except the unknown one)
    for role in roles:
        outcomes = {c.expected for c in CASES if c.subject == role}
        assert outcomes == {"allow", "deny"}, role


def test_table_states_the_deny_overrides() -> None:
    # given: the questions the deny rules of policy.csv are there for
    special = [c for c in CASES if c.object == "special"]
    analytics_identity = [c for c in CASES if c.subject == "analytics" and c.object == "identity"]
    # then: special is asked of several roles, analytics' identity under many purposes,
    # and the table denies them all
    assert len({c.subject for c in special}) >= 5
    assert len({c.purpose for c in analytics_identity}) >= 8
    assert all(c.expected == "deny" for c in special + analytics_identity)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_policy_decision(engine: PolicyEngine, case: Case) -> None:
    # given: one row of the table
    expected_allowed = case.expected == "allow"
    # when: the engine decides it
    decision = engine.decide(case.subject, case.purpose, case.object, case.action)
    # then: allowed or denied as the table says, with the matching code
    assert decision.allowed is expected_allowed
    assert decision.code is (Code.ALLOWED if expected_allowed else Code.POLICY_DENIED)
    # and: the rule reported is the one that decided
    deny_rule = _explicit_deny(case)
    if expected_allowed:
        assert deny_rule is None, "the table allows a question a deny rule covers"
        assert decision.rule is not None and decision.rule[-1] == "allow"
    elif deny_rule is not None:
        assert decision.rule == deny_rule
    else:
        assert decision.rule is None, "a default deny names no rule"
