"""What activation holds about a person, in their export, and how their erasure reaches it.

Export: the destinations that received them, every message (campaign, template, arm,
status, reason, times), every notice sent to a recipient on their behalf, the events
recorded about them, and the suppression entries that hold for them.

Erasure (inside the erasure's transaction, before the customer row goes): a deletion notice
to every destination that received them, then the outbox unlinked from them (the proof of
what was sent stays: destination, campaign, status, times, field names, keyed digest), their
events, suppression entries and list memberships deleted.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, func, select

from gateway.activation.tables import (
    activation_audience,
    activation_campaigns,
    activation_destinations,
    activation_events,
    activation_messages,
    activation_suppressions,
)
from gateway.privacy.vault import Vault
from gateway.rights.sections import Section, register


def _rows(conn: Connection, stmt: Any) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in conn.execute(stmt)]


def export(conn: Connection, _vault: Vault, customer_id: int) -> dict[str, Any]:
    """The activation section of the person's export."""
    from gateway.activation.suppression import suppressions_of

    m, d, c = activation_messages.c, activation_destinations.c, activation_campaigns.c
    joined = activation_messages.join(activation_destinations, m.destination_id == d.id) \
        .outerjoin(activation_campaigns, m.campaign_id == c.id)
    recipients = _rows(conn, select(
        d.name.label("destination"), d.channel, d.purpose, func.count().label("messages"),
        func.min(m.sent_at).label("first_sent_at"), func.max(m.sent_at).label("last_sent_at"),
    ).select_from(joined).where(m.customer_id == customer_id, m.kind == "message",
                                m.status == "sent")
        .group_by(d.name, d.channel, d.purpose).order_by(d.name))
    messages = _rows(conn, select(
        d.name.label("destination"), c.name.label("campaign"), c.ref.label("campaign_id"),
        m.rule, m.step, m.template, m.arm, m.status, m.reason, m.planned_at, m.sent_at,
        m.payload_fields.label("fields_sent"),
    ).select_from(joined).where(m.customer_id == customer_id, m.kind == "message")
        .order_by(m.id))
    notices = _rows(conn, select(
        d.name.label("destination"), m.notice, m.status, m.planned_at, m.sent_at,
    ).select_from(joined).where(m.customer_id == customer_id, m.kind == "notice").order_by(m.id))
    e = activation_events.c
    events = _rows(conn, select(e.kind, e.occurred_at, e.source, e.attributes)
                   .where(e.customer_id == customer_id).order_by(e.occurred_at, e.id))
    arms = sorted({(row["campaign_id"], row["arm"]) for row in messages
                   if row["arm"] is not None and row["campaign_id"] is not None})
    return {
        "recipients": recipients,
        "messages": messages,
        "arms": [{"campaign_id": ref, "arm": arm} for ref, arm in arms],
        "notices_sent": notices,
        "events": events,
        "suppressions": [{"scope": s.scope, "channel": s.channel, "reason": s.reason,
                          "created_at": s.created_at, "expires_at": s.expires_at}
                         for s in suppressions_of(conn, customer_id)],
    }


def _migrated(conn: Connection) -> bool:
    # A database not yet migrated to 0012_activation (an older revision the erasure runs on
    # during a staged upgrade, or a migration test) holds no activation data.
    return bool(conn.dialect.has_table(conn, "activation_messages"))


def erase(conn: Connection, vault: Vault, customer_id: int) -> int:
    """Tell every recipient, then unlink and delete what activation holds; rows touched."""
    from gateway.activation.notices import forget, tell_erasure
    from gateway.activation.suppression import suppressions_of

    if not _migrated(conn):
        return 0

    told = tell_erasure(conn, customer_id)
    entries = [s.id for s in suppressions_of(conn, customer_id)]
    touched = told + forget(conn, customer_id)
    if entries:
        s = activation_suppressions.c
        touched += int(conn.execute(delete(activation_suppressions).where(s.id.in_(entries))).rowcount or 0)
    for table in (activation_events, activation_audience):
        touched += int(conn.execute(delete(table).where(table.c.customer_id == customer_id)).rowcount or 0)
    return touched


register(Section("activation", export, erase,
                 "campaign messages and their arms, recipients, notices sent to them, events, "
                 "suppressions"))
