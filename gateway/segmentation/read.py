"""The read path's loaders of segmentation's Customer fields: channelAffinity,
loyaltyMilestones, persona and segments (registered with gateway/profile/nested.py).

The read path has already decided the fields themselves (policy plan, the purpose's subject
decision and, for derived values, the profiling decision); `segments` also decides each
segment: a membership is listed only where the reader's plan allows every field its rule
reads, so a segment cannot tell a caller what it could not read itself.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select

from gateway.profile.nested import register
from gateway.profile.reader import Reader
from gateway.segmentation.store import ids_in, list_segments
from gateway.segmentation.tables import customer_attributes, personas

MAX_SEGMENTS = 200  # segments evaluated per page


def _at(ts: int | None) -> datetime | None:
    return datetime.fromtimestamp(ts, UTC) if ts is not None else None


def _rows(conn: Connection, ids: list[int]) -> list[Any]:
    a = customer_attributes.c
    return list(conn.execute(select(customer_attributes).where(a.customer_id.in_(ids))))


def channel_affinity(conn: Connection, ids: list[int], reader: Reader) -> dict[int, list[dict[str, Any]]]:
    """Engagement per channel, preferred device and best hour, from the computed attributes."""
    out: dict[int, list[dict[str, Any]]] = {}
    for r in _rows(conn, ids):
        out[r.customer_id] = [{
            "preferred_device": r.preferred_device, "best_hour": r.best_hour,
            "channels": [
                {"channel": "email", "engagements": r.email_opens + r.email_clicks,
                 "open_rate": r.email_open_rate, "click_rate": r.email_click_rate,
                 "last_engagement_at": _at(r.last_email_ts)},
                {"channel": "web", "engagements": r.web_visits, "open_rate": None,
                 "click_rate": None, "last_engagement_at": _at(r.last_web_ts)},
                {"channel": "phone", "engagements": r.calls, "open_rate": None,
                 "click_rate": None, "last_engagement_at": _at(r.last_call_ts)},
            ],
        }]
    return out


def milestones(conn: Connection, ids: list[int], reader: Reader) -> dict[int, list[Any]]:
    """The loyalty milestones each customer crossed."""
    return {r.customer_id: list(r.milestones) for r in _rows(conn, ids)}


def persona(conn: Connection, ids: list[int], reader: Reader) -> dict[int, list[dict[str, Any]]]:
    """The persona of each customer (a one-item list), from the latest assignment."""
    a, p = customer_attributes.c, personas.c
    rows = conn.execute(select(a.customer_id, p.key, p.name, p.description, p.version).join(
        personas, (p.version == a.persona_version) & (p.key == a.persona_key)).where(a.customer_id.in_(ids)))
    return {r.customer_id: [{"key": r.key, "name": r.name, "description": r.description,
                             "version": r.version}] for r in rows}


def segments(conn: Connection, ids: list[int], reader: Reader) -> dict[int, list[dict[str, Any]]]:
    """The saved segments each customer is in, among those the reader may evaluate."""
    profiling = reader.purposes.get("profiling")
    if profiling is None:
        return {}
    out: dict[int, list[dict[str, Any]]] = {}
    for info in list_segments(conn, MAX_SEGMENTS):
        if not all(reader.plan.access(name).allowed for name in info.fields):
            continue
        for cid in sorted(ids_in(conn, info.rule(), reader.plan.purpose, reader.now, profiling, ids)):
            out.setdefault(cid, []).append({"id": info.id, "name": info.name, "version": info.version})
    return out


register("channelAffinity", channel_affinity)
register("loyaltyMilestones", milestones)
register("persona", persona)
register("segments", segments)
