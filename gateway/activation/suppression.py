"""The global suppression list: hard bounces, complaints, legal holds. It always wins.

An entry names a customer, or an address by its blind index (a bounce is about an address,
and holds for whoever has it), on one channel or on all. Addresses are never stored: the
keyed digest is what the gate compares with the customer's own blind index.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from gateway.activation.service import Activation, Actor
from gateway.activation.tables import activation_suppressions
from gateway.errors import ServiceError
from gateway.policy.codes import Code
from gateway.profile.tables import customers

SCOPES = frozenset({"customer", "email", "phone"})
REASONS = frozenset({"hard_bounce", "complaint", "legal_hold", "manual"})
CHANNELS = frozenset({"email", "sms", "push", "ads_audience"})


@dataclass(frozen=True)
class SuppressionInput:
    """One entry: a customer id (scope customer) or an address (scope email or phone)."""

    scope: str
    reason: str
    customer_id: int | None = None
    address: str | None = None
    channel: str | None = None
    expires_at: datetime | None = None


def _invalid(message: str, field: str) -> ServiceError:
    return ServiceError(Code.INVALID_INPUT, message, field)


def add_suppression(conn: Connection, activation: Activation, actor: Actor,
                    given: SuppressionInput) -> int:
    """Validate and add one entry; its id. The audit entry holds codes only."""
    if given.scope not in SCOPES:
        raise _invalid("scope must be customer, email or phone", "scope")
    if given.reason not in REASONS:
        raise _invalid(f"reason must be one of {', '.join(sorted(REASONS))}", "reason")
    if given.channel is not None and given.channel not in CHANNELS:
        raise _invalid(f"channel must be one of {', '.join(sorted(CHANNELS))}", "channel")
    now = activation.clock.now()
    if given.expires_at is not None and given.expires_at <= now:
        raise _invalid("an expiry lies in the future", "expiresAt")
    digest = None
    if given.scope == "customer":
        if given.customer_id is None or given.address is not None:
            raise _invalid("a customer entry names a customer, not an address", "customerId")
        if conn.execute(select(customers.c.id).where(customers.c.id == given.customer_id)).first() is None:
            raise ServiceError(Code.NOT_FOUND, "no customer with this id", "customerId")
    else:
        if not given.address or given.customer_id is not None:
            raise _invalid(f"an {given.scope} entry names an address, not a customer", "address")
        digest = activation.vault.blind.digest(given.scope, given.address)
        if digest is None:
            raise _invalid("the address is blank", "address")
    new_id = int(conn.execute(insert(activation_suppressions).values(
        scope=given.scope, customer_id=given.customer_id, digest=digest, channel=given.channel,
        reason=given.reason, created_at=now, created_by=actor.name, expires_at=given.expires_at,
    ).returning(activation_suppressions.c.id)).scalar_one())
    activation.audit(conn, "suppress", actor, detail={
        "scope": given.scope, "reason": given.reason, "channel": given.channel},
        subjects=[given.customer_id] if given.customer_id is not None else ())
    return new_id


def remove_suppression(conn: Connection, activation: Activation, actor: Actor, entry_id: int) -> None:
    """Lift one entry (NOT_FOUND when there is none)."""
    s = activation_suppressions.c
    row = conn.execute(select(s.scope, s.reason).where(s.id == entry_id)).first()
    if row is None:
        raise ServiceError(Code.NOT_FOUND, "no suppression with this id", "id")
    conn.execute(delete(activation_suppressions).where(s.id == entry_id))
    activation.audit(conn, "unsuppress", actor, detail={"scope": row.scope, "reason": row.reason})


def list_suppressions(conn: Connection, limit: int = 1000) -> list[dict[str, Any]]:
    """Entries, newest first: scope, reason, channel, times (never the digest)."""
    s = activation_suppressions.c
    return [dict(r._mapping) for r in conn.execute(
        select(s.id, s.scope, s.customer_id, s.channel, s.reason, s.created_at, s.created_by,
               s.expires_at).order_by(s.id.desc()).limit(limit))]


def suppressions_of(conn: Connection, customer_id: int) -> list[Any]:
    """The entries that hold for a customer: by id, or by one of their addresses."""
    s, c = activation_suppressions.c, customers.c
    row = conn.execute(select(c.email_bidx, c.phone_bidx).where(c.id == customer_id)).first()
    digests = [d for d in (row.email_bidx, row.phone_bidx) if d] if row else []
    cond = s.customer_id == customer_id
    if digests:
        cond = cond | s.digest.in_(digests)
    return list(conn.execute(select(activation_suppressions).where(cond).order_by(s.id)))
