"""Lists related to a customer (orders, interactions, consents, sources), loaded per page.

One query per list and page, never one per customer.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, select

from gateway.consent.queries import channel_preferences
from gateway.consent.state import consent_status
from gateway.consent.tables import consent_state
from gateway.profile.reader import Reader, cents
from gateway.profile.tables import interactions, orders, source_records

MAX_ITEMS = 50  # newest first; the full history is for the data subject's export


def _grouped(rows: Any) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        items = out[row.customer_id]
        if len(items) < MAX_ITEMS:
            item = dict(row._mapping)
            del item["customer_id"]
            items.append(item)
    return out


def _orders(conn: Connection, ids: list[int], reader: Reader) -> dict[int, list[dict[str, Any]]]:
    # Unpacked as tuples: a page carries hundreds of orders, and a mapping per row costs.
    o = orders
    rows = conn.execute(
        select(o.c.customer_id, o.c.number, o.c.ordered_at, o.c.status, o.c.channel,
               o.c.item_count, o.c.total_cents, o.c.currency)
        .where(o.c.customer_id.in_(ids)).order_by(o.c.customer_id, o.c.ordered_at.desc())
    )
    out: dict[int, list[dict[str, Any]]] = {}
    for customer_id, number, at, status, channel, count, total, currency in rows:
        items = out.setdefault(customer_id, [])
        if len(items) < MAX_ITEMS:
            items.append({"number": number, "ordered_at": at, "status": status,
                          "channel": channel, "item_count": count, "currency": currency,
                          "total": cents(total)})
    return out


def _interactions(conn: Connection, ids: list[int], reader: Reader) -> dict[int, list[dict[str, Any]]]:
    i = interactions
    return _grouped(conn.execute(
        select(i.c.customer_id, i.c.kind, i.c.channel, i.c.device, i.c.campaign, i.c.occurred_at)
        .where(i.c.customer_id.in_(ids)).order_by(i.c.customer_id, i.c.occurred_at.desc())
    ))


def _consents(conn: Connection, ids: list[int], reader: Reader) -> dict[int, list[dict[str, Any]]]:
    """Consent state, for the purposes the reader's role works for (its own purposes) only."""
    cs = consent_state
    purposes = reader.purposes
    rows = conn.execute(
        select(cs.c.customer_id, cs.c.purpose, cs.c.action, cs.c.notice_version,
               cs.c.occurred_at, cs.c.expires_at)
        .where(cs.c.customer_id.in_(ids), cs.c.purpose.in_(sorted(reader.own_purposes)))
        .order_by(cs.c.customer_id, cs.c.purpose)
    )
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        purpose = purposes.get(row.purpose)
        if purpose is None:
            continue
        out[row.customer_id].append({
            "purpose": row.purpose,
            "status": consent_status(row.action, row.notice_version, row.expires_at, purpose, reader.now),
            "notice_version": row.notice_version,
            "updated_at": row.occurred_at,
            "expires_at": row.expires_at,
        })
    return out


def _channels(conn: Connection, ids: list[int], reader: Reader) -> dict[int, list[dict[str, Any]]]:
    """Current channel opt-ins and frequency caps, from the preference ledger's state."""
    return channel_preferences(conn, ids)


def _sources(conn: Connection, ids: list[int], reader: Reader) -> dict[int, list[dict[str, Any]]]:
    # The source systems' own ids (cookie ids, CRM numbers) are identifiers: never exposed.
    s = source_records
    return _grouped(conn.execute(
        select(s.c.customer_id, s.c.source, s.c.first_seen_at, s.c.last_seen_at,
               s.c.link_method, s.c.link_confidence)
        .where(s.c.customer_id.in_(ids)).order_by(s.c.customer_id, s.c.source)
    ))


_LOADERS = {
    "orders": _orders,
    "interactions": _interactions,
    "consents": _consents,
    "channels": _channels,
    "sources": _sources,
}


def load_nested(conn: Connection, name: str, ids: list[int], reader: Reader) -> dict[int, list[dict[str, Any]]]:
    """The `name` list of each customer in `ids`, newest first, at most MAX_ITEMS each."""
    return _LOADERS[name](conn, ids, reader)
