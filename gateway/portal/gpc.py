"""Global Privacy Control: `Sec-GPC: 1` on the person's own visit opts them out of every
purpose marked `sale_or_sharing` in purposes.yaml (CCPA/CPRA: a valid opt-out request).

The signal is recorded in the ledger as a consent event with source channel `gpc`: a
withdrawal of an active consent, or a denial where none was ever asked. It is applied once:
a purpose already withdrawn or denied is left alone, and a grant the person made in the
portal after the signal was applied is their explicit, later choice and is respected.
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from gateway.consent.purposes import Purpose
from gateway.consent.tables import consent_events, consent_state
from gateway.portal.choices import change_consent
from gateway.portal.context import Portal


def gpc_purposes(portal: Portal) -> list[Purpose]:
    """The purposes a GPC signal opts out of."""
    return [p for p in portal.purposes.by_name.values() if p.sale_or_sharing and p.basis == "consent"]


def _needs(conn: Connection, customer_id: int, purpose: str) -> str | None:
    """The event the signal calls for: withdraw, deny, or None (nothing to do)."""
    cs, ce = consent_state.c, consent_events.c
    state = conn.execute(
        select(cs.action, cs.occurred_at, ce.source_channel)
        .join(consent_events, ce.id == cs.event_id)
        .where(cs.customer_id == customer_id, cs.purpose == purpose)
    ).first()
    if state is None:
        return "deny"
    if state.action != "grant":
        return None
    if state.source_channel == "portal":
        applied_before = conn.execute(
            select(ce.id).where(ce.customer_id == customer_id, ce.purpose == purpose,
                                ce.source_channel == "gpc", ce.occurred_at <= state.occurred_at)
            .limit(1)
        ).first()
        if applied_before is not None:
            return None
    return "withdraw"


def apply_gpc(conn: Connection, portal: Portal, customer_id: int, *, evidence: str | None,
              language: str | None) -> list[str]:
    """Record the opt-out for each sale/sharing purpose that needs it; the purposes changed."""
    changed = []
    for purpose in gpc_purposes(portal):
        action = _needs(conn, customer_id, purpose.name)
        if action is not None:
            change_consent(conn, portal, customer_id, purpose.name, action, language=language,
                           evidence=evidence, source_channel="gpc")
            changed.append(purpose.name)
    return changed


def gpc_events(conn: Connection, customer_id: int) -> dict[str, object]:
    """When the signal was last applied, per purpose."""
    ce = consent_events.c
    rows = conn.execute(
        select(ce.purpose, ce.occurred_at).where(ce.customer_id == customer_id, ce.source_channel == "gpc")
        .order_by(ce.occurred_at))
    return {str(r.purpose): r.occurred_at for r in rows}
