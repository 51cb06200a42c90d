"""Reading the preference center: a customer's consent history and channel preferences."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, select

from gateway.consent.tables import consent_events, preference_events, preference_state

MAX_HISTORY = 500


def consent_history(
    conn: Connection, customer_id: int, purposes: Iterable[str]
) -> list[dict[str, Any]]:
    """The consent events of `customer_id` for `purposes`, newest first (at most MAX_HISTORY)."""
    e = consent_events
    rows = conn.execute(
        select(e.c.id, e.c.purpose, e.c.notice_version, e.c.action, e.c.occurred_at,
               e.c.recorded_at, e.c.source_channel, e.c.expires_at, e.c.notice_text_sha256)
        .where(e.c.customer_id == customer_id, e.c.purpose.in_(sorted(purposes)))
        .order_by(e.c.occurred_at.desc(), e.c.id.desc())
        .limit(MAX_HISTORY)
    )
    return [dict(row._mapping) for row in rows]


def channel_preferences(conn: Connection, ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """The current channel preferences of each customer in `ids`, by channel name."""
    ps = preference_state
    rows = conn.execute(
        select(ps.c.customer_id, ps.c.key, ps.c.value, ps.c.cap_count, ps.c.cap_period_days,
               ps.c.occurred_at)
        .where(ps.c.customer_id.in_(ids), ps.c.kind == "channel")
        .order_by(ps.c.customer_id, ps.c.key)
    )
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        out[row.customer_id].append({
            "channel": row.key, "opted_in": row.value == "opt_in",
            "cap_count": row.cap_count, "cap_period_days": row.cap_period_days,
            "updated_at": row.occurred_at,
        })
    return out


PREFERENCE_KINDS = frozenset({"channel", "objection", "restriction"})


def preference_history(
    conn: Connection, customer_id: int, kinds: Iterable[str]
) -> list[dict[str, Any]]:
    """The channel, objection and restriction events of `customer_id` of `kinds`, newest first."""
    e = preference_events
    rows = conn.execute(
        select(e.c.kind, e.c.key, e.c.value, e.c.cap_count, e.c.cap_period_days, e.c.occurred_at,
               e.c.recorded_at, e.c.source_channel)
        .where(e.c.customer_id == customer_id, e.c.kind.in_(sorted(kinds)))
        .order_by(e.c.occurred_at.desc(), e.c.id.desc())
        .limit(MAX_HISTORY)
    )
    return [dict(row._mapping) for row in rows]
