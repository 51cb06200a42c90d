"""Read-only views of the outbox: a page of messages, and who received a customer."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select

from gateway.activation.decide import message_token
from gateway.activation.destinations import Destination, list_destinations
from gateway.activation.service import Activation
from gateway.activation.tables import (
    activation_campaigns,
    activation_destinations,
    activation_messages,
)


def message_page(conn: Connection, activation: Activation, *, campaign_id: int | None,
                 customer_id: int | None, status: str | None, purposes: set[str] | None,
                 limit: int) -> list[dict[str, Any]]:
    """Messages, newest first, as the outbox status view shows them (no personal value)."""
    m, c = activation_messages.c, activation_campaigns.c
    stmt = (select(m.id, m.kind, m.destination_id, c.ref, m.rule, m.step, m.template, m.arm,
                   m.status, m.reason, m.attempts, m.planned_at, m.sent_at, m.last_error)
            .select_from(activation_messages.outerjoin(activation_campaigns, m.campaign_id == c.id))
            .order_by(m.id.desc()).limit(limit))
    if campaign_id is not None:
        stmt = stmt.where(m.campaign_id == campaign_id)
    if customer_id is not None:
        stmt = stmt.where(m.customer_id == customer_id)
    if status is not None:
        stmt = stmt.where(m.status == status)
    if purposes is not None:
        stmt = stmt.where(m.purpose.in_(sorted(purposes)))
    destinations: dict[int, Destination] = {d.id: d for d in list_destinations(conn)}
    out = []
    for row in conn.execute(stmt):
        destination = destinations[int(row.destination_id)]
        names = destination.pseudonyms(activation)
        out.append({
            "id": message_token(destination, names, int(row.id)),
            "kind": row.kind, "destination": destination.name,
            "campaign_id": row.ref, "rule": row.rule,
            "step": row.step, "template": row.template, "arm": row.arm, "status": row.status,
            "reason": row.reason, "attempts": int(row.attempts), "planned_at": row.planned_at,
            "sent_at": row.sent_at, "last_error": row.last_error,
        })
    return out


def recipients_of(conn: Connection, customer_id: int) -> dict[str, list[dict[str, Any]]]:
    """The destinations that received the customer, and the notices sent to them since."""
    m, d = activation_messages.c, activation_destinations.c
    joined = activation_messages.join(activation_destinations, m.destination_id == d.id)
    recipients = [dict(r._mapping) for r in conn.execute(
        select(d.name.label("destination"), d.channel, d.purpose, func.count().label("messages"),
               func.min(m.sent_at).label("first_sent_at"), func.max(m.sent_at).label("last_sent_at"))
        .select_from(joined)
        .where(m.customer_id == customer_id, m.kind == "message", m.status == "sent")
        .group_by(d.name, d.channel, d.purpose).order_by(d.name))]
    notices = [
        {"destination": r.destination, "type": (r.notice or {}).get("type", ""),
         "reason": (r.notice or {}).get("reason"), "status": r.status, "sent_at": r.sent_at}
        for r in conn.execute(
            select(d.name.label("destination"), m.notice, m.status, m.sent_at).select_from(joined)
            .where(m.customer_id == customer_id, m.kind == "notice").order_by(m.id))
    ]
    return {"recipients": recipients, "notices": notices}
