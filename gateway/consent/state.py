"""The current state of a customer's choices, derived from the ledger, as SQL.

One definition serves two uses: per-row flags on a page of customers, and the condition that
keeps a filtered or sorted search inside the customers whose choices allow the purpose.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, exists, false, not_, or_, select
from sqlalchemy.sql.elements import ColumnElement as _CE

from gateway.consent.purposes import Purpose
from gateway.consent.tables import consent_state, preference_state


def restricted(customer_id: ColumnElement[int]) -> ColumnElement[bool]:
    """The customer restricted processing (Art. 18)."""
    ps = preference_state
    return exists(
        select(ps.c.customer_id).where(
            ps.c.customer_id == customer_id,
            ps.c.kind == "restriction",
            ps.c.key == "processing",
            ps.c.value == "on",
        )
    )


def objected(customer_id: ColumnElement[int], purpose: Purpose) -> ColumnElement[bool]:
    """The customer objected (Art. 21) to the kind of processing `purpose` belongs to."""
    if purpose.objection_scope is None:
        return false()
    ps = preference_state
    return exists(
        select(ps.c.customer_id).where(
            ps.c.customer_id == customer_id,
            ps.c.kind == "objection",
            ps.c.key == purpose.objection_scope,
            ps.c.value == "on",
        )
    )


def consented(customer_id: ColumnElement[int], purpose: Purpose, now: datetime) -> ColumnElement[bool]:
    """An active consent: latest event a grant, not expired, to a notice still in force."""
    cs = consent_state
    return exists(
        select(cs.c.customer_id).where(
            cs.c.customer_id == customer_id,
            cs.c.purpose == purpose.name,
            cs.c.action == "grant",
            cs.c.notice_version >= purpose.min_valid_notice_version,
            or_(cs.c.expires_at.is_(None), cs.c.expires_at > now),
        )
    )


def subject_flag_columns(
    customer_id: ColumnElement[int], purpose: Purpose, now: datetime
) -> list[_CE[bool]]:
    """The three flags of `gateway.policy.SubjectFlags`, as labelled select columns."""
    return [
        restricted(customer_id).label("_restricted"),
        objected(customer_id, purpose).label("_objected"),
        consented(customer_id, purpose, now).label("_consented"),
    ]


def subject_allows(customer_id: ColumnElement[int], purpose: Purpose, now: datetime) -> ColumnElement[bool]:
    """SQL twin of `gateway.policy.decide_subject(...).allowed`, built from the same parts."""
    conditions: list[ColumnElement[bool]] = []
    if not purpose.restriction_exempt:
        conditions.append(not_(restricted(customer_id)))
    if purpose.basis == "consent":
        conditions.append(consented(customer_id, purpose, now))
    if purpose.objection_scope is not None:
        conditions.append(not_(objected(customer_id, purpose)))
    return and_(*conditions) if conditions else ~false()


def consent_status(
    action: str, notice_version: int, expires_at: datetime | None, purpose: Purpose, now: datetime
) -> str:
    """The status shown for one `consent_state` row; `granted` exactly when `consented` holds."""
    if action != "grant":
        return {"deny": "denied", "withdraw": "withdrawn"}.get(action, action)
    if notice_version < purpose.min_valid_notice_version:
        return "superseded"
    if expires_at is not None and expires_at <= now:
        return "expired"
    return "granted"
