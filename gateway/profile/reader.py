"""Who reads, for what, and how each value of a row leaves the gateway for them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from gateway.consent.purposes import Purposes
from gateway.policy import Decision, FieldPlan
from gateway.policy.codes import Code
from gateway.privacy.envelope import Opener
from gateway.privacy.masking import MASKERS, NORMALIZERS
from gateway.privacy.pseudonyms import Pseudonymizer
from gateway.privacy.vault import Vault
from gateway.profile.fields import COLUMNS, FIELDS_BY_NAME
from gateway.profile.identity import KEY_VERSION, KEY_WRAPPED, SEALED_COLUMNS, open_blob


@dataclass(frozen=True)
class Reader:
    """One caller reading for one purpose: its compiled plan and its pseudonymizer.

    `opener` opens sealed identifiers for this request only (one unwrap per customer).
    """

    plan: FieldPlan
    pseudonyms: Pseudonymizer
    now: datetime
    own_purposes: frozenset[str]
    purposes: Purposes
    vault: Vault
    opener: Opener


@dataclass
class CustomerView:
    """One customer as this reader may see them: values of allowed fields, codes of the rest."""

    id: str
    internal_id: int
    subject: Decision
    values: dict[str, Any] = field(default_factory=dict)
    denied: dict[str, Code] = field(default_factory=dict)


def cents(value: int | None) -> Decimal | None:
    """Integer minor units as an exact decimal amount."""
    return None if value is None else Decimal(value).scaleb(-2)


def shape(name: str, raw: Any, mode: str, reader: Reader) -> Any:
    """How one allowed value leaves: as is, raw, masked or as this app's keyed pseudonym."""
    if raw is None:
        return None
    if name == "totalSpent":
        return cents(raw)
    if mode == "value" or mode == "raw":
        return raw
    kind = FIELDS_BY_NAME[name].identifier
    assert kind is not None
    if mode == "pseudonym":
        return reader.pseudonyms.identifier(kind, NORMALIZERS[kind](raw))
    return MASKERS[kind](raw)


# One field of a view the plan allows: its name, the column it comes from (None for nested
# lists, filled in later), how it leaves, whether the column is sealed, and whether the
# stored value leaves as is (no shaping).
Step = tuple[str, "str | None", str, bool, bool]
# A selection under a plan: the codes of the fields the plan withholds, and the steps of the rest.
Steps = tuple[dict[str, Code], tuple[Step, ...]]
_STEPS: dict[tuple[int, tuple[str, ...]], tuple[FieldPlan, Steps]] = {}
_MAX_STEPS = 4096  # distinct (plan, selection) pairs kept; selections come from callers


def _steps(plan: FieldPlan, wanted: tuple[str, ...]) -> Steps:
    """The plan's per-field answers for one selection, worked out once, not once per row."""
    key = (id(plan), wanted)
    found = _STEPS.get(key)
    if found is None or found[0] is not plan:
        withheld: dict[str, Code] = {}
        steps = []
        for name in wanted:
            access = plan.access(name)
            if not access.allowed:
                withheld[name] = access.decision.code
                continue
            column = COLUMNS.get(name)
            steps.append((name, column, access.mode, column in SEALED_COLUMNS,
                          access.mode in _PLAIN_MODES and name != "totalSpent"))
        if len(_STEPS) >= _MAX_STEPS:
            _STEPS.clear()  # a bound, not an LRU: arbitrary selections must not grow memory
        found = _STEPS[key] = (plan, (withheld, tuple(steps)))
    return found[1]


_UNOPENED: Any = object()  # the row's data key, before a sealed column needs it


def build_view(row: Any, subject: Decision, wanted: tuple[str, ...], reader: Reader) -> CustomerView:
    """Apply the plan and the subject's decision to one row, for the wanted fields only.

    The plan's denial comes first (its code is the caller's problem, not the subject's); an
    allowed field of a subject whose choices refuse the purpose carries the subject's code.
    """
    cid = row.id
    view = CustomerView(reader.pseudonyms.customer_id(cid), cid, subject)
    values, denied, mapping = view.values, view.denied, row._mapping
    withheld, steps = _steps(reader.plan, wanted)
    if withheld:
        denied.update(withheld)
    if not subject.allowed:
        told = reader.plan.shown(subject.code)  # the audit keeps `subject.code` itself
        for step in steps:
            denied[step[0]] = told
        return view
    key = _UNOPENED
    owner = b""
    for name, column, mode, sealed, plain in steps:
        if column is None:
            values[name] = None
        elif sealed:
            # Sealed identifiers are opened here, and only those selected and allowed: the
            # row's data key unwrapped once (for its first non-null sealed column), each
            # column opened under it with its own associated data (gateway/profile/identity.py).
            blob = mapping[column]
            if blob is not None:
                if key is _UNOPENED:
                    key = reader.opener.key(cid, mapping[KEY_WRAPPED], mapping[KEY_VERSION])
                    owner = str(cid).encode()
                blob = None if key is None else open_blob(key, column, owner, blob)
            values[name] = blob if blob is None or plain else shape(name, blob, mode, reader)
        else:
            raw = mapping[column]
            values[name] = raw if raw is None or plain else shape(name, raw, mode, reader)
    return view


_PLAIN_MODES = frozenset({"value", "raw"})
