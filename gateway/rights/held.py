"""The sections every person has: sources, orders, interactions, consents, preferences.

Their rows are removed by the erasure's core deletion (gateway/rights/erase.py), which keeps
the ledgers' proof first, so they register no eraser of their own.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from gateway.consent.sealing import open_evidence
from gateway.consent.tables import consent_events, consent_state, preference_events
from gateway.privacy.datakeys import DataKeys
from gateway.privacy.vault import Vault
from gateway.profile.reader import cents
from gateway.profile.tables import interactions, orders
from gateway.rights.sections import Section, register
from gateway.rights.subjects import read_source_records


def _rows(conn: Connection, stmt: Any) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in conn.execute(stmt)]


def sources(conn: Connection, vault: Vault, customer_id: int) -> list[dict[str, Any]]:
    """What each source system holds (opened), with its provenance (how surely it was linked)."""
    return read_source_records(conn, vault, customer_id)


def order_list(conn: Connection, _vault: Vault, customer_id: int) -> list[dict[str, Any]]:
    """Every order, oldest first, with amounts as decimals."""
    o = orders.c
    out = _rows(conn, select(o.number, o.ordered_at, o.status, o.channel, o.item_count,
                             o.total_cents, o.currency)
                .where(o.customer_id == customer_id).order_by(o.ordered_at, o.id))
    for item in out:
        item["total"] = str(cents(item.pop("total_cents")))
    return out


def interaction_list(conn: Connection, _vault: Vault, customer_id: int) -> list[dict[str, Any]]:
    """Every recorded interaction (email opens and clicks, visits, calls), oldest first."""
    i = interactions.c
    return _rows(conn, select(i.kind, i.channel, i.device, i.campaign, i.occurred_at)
                 .where(i.customer_id == customer_id).order_by(i.occurred_at, i.id))


def _opened(conn: Connection, vault: Vault, table: str, customer_id: int,
            rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    keys = DataKeys(conn, vault)
    for row in rows:
        row["evidence"] = open_evidence(keys, table, customer_id, row["evidence"])
    return rows


def consents(conn: Connection, vault: Vault, customer_id: int) -> dict[str, Any]:
    """The current consent per purpose and the full history of consent events (evidence opened)."""
    cs, ce = consent_state.c, consent_events.c
    return {
        "current": _rows(conn, select(cs.purpose, cs.action, cs.notice_version, cs.occurred_at,
                                      cs.expires_at)
                         .where(cs.customer_id == customer_id).order_by(cs.purpose)),
        "history": _opened(conn, vault, "consent_events", customer_id, _rows(
            conn, select(ce.id.label("event_id"), ce.purpose, ce.notice_version, ce.action,
                         ce.occurred_at, ce.recorded_at, ce.source_channel, ce.evidence,
                         ce.expires_at, ce.notice_text_sha256, ce.details)
            .where(ce.customer_id == customer_id).order_by(ce.occurred_at, ce.id))),
    }


def _preferences(conn: Connection, vault: Vault, customer_id: int,
                 kinds: tuple[str, ...]) -> list[dict[str, Any]]:
    pe = preference_events.c
    return _opened(conn, vault, "preference_events", customer_id, _rows(conn, select(pe.id.label("event_id"), pe.kind, pe.key, pe.value, pe.cap_count,
                              pe.cap_period_days, pe.occurred_at, pe.recorded_at,
                              pe.source_channel, pe.evidence)
                 .where(pe.customer_id == customer_id, pe.kind.in_(kinds))
                 .order_by(pe.occurred_at, pe.id)))


def channels(conn: Connection, vault: Vault, customer_id: int) -> list[dict[str, Any]]:
    """Every channel opt-in and opt-out with its frequency cap, oldest first."""
    return _preferences(conn, vault, customer_id, ("channel",))


def objections(conn: Connection, vault: Vault, customer_id: int) -> list[dict[str, Any]]:
    """The history of objections (Art. 21) and restrictions (Art. 18), oldest first."""
    return _preferences(conn, vault, customer_id, ("objection", "restriction"))


for _section in (
    Section("sources", sources, None, "records of source systems, with provenance"),
    Section("orders", order_list, None, "orders"),
    Section("interactions", interaction_list, None, "email, web and call-center interactions"),
    Section("consents", consents, None, "consents: current state and full history"),
    Section("channels", channels, None, "channel preferences: full history"),
    Section("objections_and_restrictions", objections, None,
            "objections to profiling or direct marketing and restrictions: full history"),
):
    register(_section)


# The sections of later domains register themselves on import: derived data (segmentation's
# attributes and memberships, scoring's scores and actions), the portal's sessions, and the
# linkage's source records and merges.
from gateway.linkage import sections as _linkage_sections  # noqa: F401
from gateway.portal import held as _portal  # noqa: F401
from gateway.scoring import sections as _scores  # noqa: F401
from gateway.segmentation import sections as _segments  # noqa: F401
