"""The organisation's policy: casbin as the source of truth, compiled into lookup tables.

A casbin evaluation costs tens of microseconds to a millisecond; a GraphQL read touches
hundreds of fields. So casbin is asked once per (role, purpose, category, action) when a
(role, purpose) is first seen, and a request's decisions are dictionary lookups.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import casbin

from gateway.consent.purposes import CATEGORIES, Purpose, Purposes
from gateway.policy.codes import Code
from gateway.policy.decision import Decision

ACTIONS = ("read", "reveal", "pseudonymize")


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """A personal-data field: its name, its one data category, its lineage, its identifier kind.

    `lineage` names the other categories the value is computed from and so reveals (a
    recency in days reveals the date of the last order: `transactions`). The field may be
    read only where its own category *and* every category of its lineage may be read
    (DESIGN.md rule 7). A derived value coarse enough by construction (a 1-5 score, a named
    band) may instead state that rule in `coarse`; the catalogue test refuses a `derived`
    field with neither.
    """

    name: str
    category: str | None
    identifier: str | None = None  # email, phone, card: shown raw only when revealed
    lineage: tuple[str, ...] = ()
    coarse: str | None = None  # why the value reveals no more than its own category

    @property
    def categories(self) -> tuple[str, ...]:
        """Every category a read of this field is decided on: its own, then its lineage."""
        if self.category is None:
            return ()
        return (self.category, *(c for c in self.lineage if c != self.category))


@dataclass(frozen=True, slots=True)
class FieldAccess:
    """How one field may leave the gateway for one (role, purpose)."""

    decision: Decision
    mode: str = "value"  # value | raw | pseudonym | mask  (the last three for identifiers)

    @property
    def allowed(self) -> bool:
        return self.decision.allowed


@dataclass(frozen=True)
class FieldPlan:
    """The compiled answer for every field of a type, for one (role, purpose)."""

    role: str
    purpose: Purpose
    fields: Mapping[str, FieldAccess]
    # May this (role, purpose) know the customers' choices (read `preferences`)? If not, a
    # value withheld for the subject's reason (objection, restriction, ...) says only
    # WITHHELD: the reason is itself a preference.
    explains_subject: bool = False

    def shown(self, code: Code) -> Code:
        """The code this plan's caller is told for a subject-side withholding."""
        return code if self.explains_subject else Code.WITHHELD

    def access(self, name: str) -> FieldAccess:
        """The access for `name`; a field the plan does not know is denied (no category)."""
        return self.fields.get(name) or _NO_CATEGORY

    def allowed_names(self) -> frozenset[str]:
        """Names of the fields this plan lets through."""
        return frozenset(n for n, a in self.fields.items() if a.allowed)


_NO_CATEGORY = FieldAccess(Decision.deny(Code.NO_CATEGORY))


class PolicyEngine:
    """Loads `model.conf` and `policy.csv` once and answers from compiled tables."""

    def __init__(self, policy_dir: Path, purposes: Purposes) -> None:
        self._enforcer = casbin.Enforcer(
            str(policy_dir / "model.conf"), str(policy_dir / "policy.csv")
        )
        self.purposes = purposes
        self._decisions: dict[tuple[str, str, str, str], Decision] = {}
        self._plans: dict[tuple[str, str, int], FieldPlan] = {}
        self._catalogs: dict[int, tuple[FieldSpec, ...]] = {}
        self._own: dict[str, frozenset[str]] = {}
        self._lock = threading.Lock()
        self._casbin_lock = threading.RLock()

    def roles(self) -> frozenset[str]:
        """Every role named by a policy line or a role-inheritance line."""
        named = {rule[0] for rule in self._enforcer.get_policy() if rule[0] != "*"}
        for child, parent, *_ in self._enforcer.get_grouping_policy():
            named.update((child, parent))
        return frozenset(named)

    def decide(self, role: str, purpose: str, category: str, action: str) -> Decision:
        """The organisation's decision, memoized: casbin runs once per distinct question."""
        key = (role, purpose, category, action)
        found = self._decisions.get(key)
        if found is None:
            # casbin compiles its matcher with ast.parse on each call, and CPython 3.11's
            # parser is not safe from two threads at once ("AST constructor recursion depth
            # mismatch", seen under load with 2 request threads): one question at a time.
            with self._casbin_lock:
                allowed, explain = self._enforcer.enforce_ex(role, purpose, category, action)
                # With deny-overrides casbin explains only denials; name the allow rule ourselves.
                rule = tuple(explain) if explain else self._allow_rule(role, purpose, category,
                                                                      action)
            found = Decision.allow(rule) if allowed else Decision.deny(Code.POLICY_DENIED, rule)
            with self._lock:
                self._decisions[key] = found
        return found

    def decide_all(self, role: str, purpose: str, categories: Iterable[str], action: str = "read") -> Decision:
        """One decision on a value computed from data of several `categories` (its lineage).

        Allowed only when `action` is allowed on every one of them; otherwise the first
        denial, with its rule. No category at all is denied (NO_CATEGORY): deny by default.
        The one rule for derived values, segments, scores, explanations, counts and exports.
        """
        found: Decision | None = None
        for category in categories:
            found = self.decide(role, purpose, category, action)
            if not found.allowed:
                return found
        return found if found is not None else _NO_CATEGORY.decision

    def purposes_of(self, role: str) -> frozenset[str]:
        """The purposes for which `role` may read at least one category: its own purposes."""
        found = self._own.get(role)
        if found is None:
            found = frozenset(
                name for name in self.purposes.by_name
                if any(self.decide(role, name, c, "read").allowed for c in CATEGORIES)
            )
            with self._lock:
                self._own[role] = found
        return found

    def _allow_rule(
        self, role: str, purpose: str, category: str, action: str
    ) -> tuple[str, ...] | None:
        roles = {role, "*", *self._enforcer.get_implicit_roles_for_user(role)}
        for rule in self._enforcer.get_policy():
            sub, pur, obj, act, eft = rule[:5]
            if (
                eft == "allow" and sub in roles and pur in (purpose, "*")
                and obj in (category, "*") and act in (action, "*")
            ):
                return tuple(rule)
        return None

    def plan(self, role: str, purpose: Purpose, specs: tuple[FieldSpec, ...]) -> FieldPlan:
        """Compile (once) how each of `specs` may leave the gateway for (role, purpose).

        `specs` is a catalog constant; it is keyed by identity so that a request does not
        hash thirty field specs to find its plan.
        """
        key = (role, purpose.name, id(specs))
        found = self._plans.get(key)
        if found is None:
            found = FieldPlan(
                role, purpose, {s.name: self._access(role, purpose, s) for s in specs},
                explains_subject=self.decide(role, purpose.name, "preferences", "read").allowed,
            )
            with self._lock:
                self._plans[key] = found
                self._catalogs[id(specs)] = specs  # keeps the id from being reused
        return found

    def _access(self, role: str, purpose: Purpose, spec: FieldSpec) -> FieldAccess:
        if spec.category is None:
            return _NO_CATEGORY
        read = self.decide_all(role, purpose.name, spec.categories, "read")
        if not read.allowed or spec.identifier is None:
            return FieldAccess(read)
        if spec.identifier in purpose.reveals:
            reveal = self.decide(role, purpose.name, spec.category, "reveal")
            if reveal.allowed:
                return FieldAccess(reveal, "raw")
        pseudo = self.decide(role, purpose.name, spec.category, "pseudonymize")
        if pseudo.allowed:
            return FieldAccess(pseudo, "pseudonym")
        return FieldAccess(read, "mask")
