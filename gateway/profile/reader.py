"""Who reads, for what, and how each value of a row leaves the gateway for them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from gateway.consent.purposes import Purposes
from gateway.policy import Decision, FieldPlan
from gateway.policy.codes import Code
from gateway.privacy.masking import MASKERS, NORMALIZERS
from gateway.privacy.pseudonyms import Pseudonymizer
from gateway.profile.fields import COLUMNS, FIELDS_BY_NAME


@dataclass(frozen=True)
class Reader:
    """One caller reading for one purpose: its compiled plan and its pseudonymizer."""

    plan: FieldPlan
    pseudonyms: Pseudonymizer
    now: datetime
    own_purposes: frozenset[str]
    purposes: Purposes


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


def build_view(row: Any, subject: Decision, wanted: tuple[str, ...], reader: Reader) -> CustomerView:
    """Apply the plan and the subject's decision to one row, for the wanted fields only."""
    view = CustomerView(reader.pseudonyms.customer_id(row.id), row.id, subject)
    plan = reader.plan
    for name in wanted:
        access = plan.access(name)
        if not access.allowed:
            view.denied[name] = access.decision.code
        elif not subject.allowed:
            view.denied[name] = subject.code
        else:
            column = COLUMNS.get(name)
            view.values[name] = (
                shape(name, row._mapping[column], access.mode, reader) if column else None
            )
    return view
