"""What the portal's pages show, as plain data: the profile by category with each value's
sources, the consents with their notices, and the current preferences.

Every category is shown only where the organisation's policy lets the data subject read it
under self_service (deny by default, like every other reader).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from gateway.consent.notices import Notice
from gateway.consent.purposes import Purpose
from gateway.consent.state import consent_status
from gateway.consent.tables import consent_events, consent_state, preference_state
from gateway.consent.validation import notice_text
from gateway.portal.choices import consent_purposes, grantable_notice
from gateway.portal.context import Portal
from gateway.profile.fields import COLUMNS, CUSTOMER_FIELDS
from gateway.rights.subjects import read_profile, read_source_records
from gateway.store.types import utcnow

# who / what / where / why: the design's four questions, over the data categories.
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("who", ("identity", "contact")),
    ("what", ("transactions", "interactions")),
    ("where", ("location",)),
    ("why", ("preferences", "derived")),
)
# Values the gateway computes itself (no source system sent them).
COMPUTED = frozenset({"order_count", "total_spent_cents", "last_order_at", "last_seen_at",
                      "lifecycle_stage", "rfm_segment", "rfm_recency", "rfm_frequency",
                      "rfm_monetary", "created_at"})


@dataclass
class Value:
    """One field of the profile: its name, value and the systems that hold it."""

    name: str
    column: str
    value: Any
    sources: list[str] = field(default_factory=list)
    computed: bool = False


@dataclass
class Category:
    """The fields of one data category the person may see."""

    name: str
    values: list[Value]


def profile_groups(conn: Connection, portal: Portal, customer_id: int) -> list[tuple[str, list[Category]]]:
    """The profile as (group, categories) with each value's source systems."""
    profile = read_profile(conn, portal.vault, customer_id)
    sources = read_source_records(conn, portal.vault, customer_id)
    holders: dict[str, list[str]] = {}
    for record in sources:
        for key in record.get("attributes") or {}:
            holders.setdefault(str(key), []).append(str(record["source"]))
    groups = []
    for group, names in GROUPS:
        categories = []
        for category in names:
            if not portal.allowed(category, "read"):
                continue
            values = [
                Value(spec.name, COLUMNS[spec.name], profile.get(COLUMNS[spec.name]),
                      sorted(set(holders.get(COLUMNS[spec.name], []))),
                      COLUMNS[spec.name] in COMPUTED)
                for spec in CUSTOMER_FIELDS
                if spec.category == category and spec.name in COLUMNS
            ]
            categories.append(Category(category, values))
        groups.append((group, categories))
    return groups


@dataclass
class ConsentView:
    """One consent-based purpose as the person sees it."""

    purpose: Purpose
    status: str  # granted, withdrawn, denied, expired, superseded, none
    accepted_version: int | None
    notice: Notice | None  # the newest notice shown in their jurisdiction
    text: str
    expires_at: datetime | None
    decided_at: datetime | None
    source_channel: str | None
    changes: list[tuple[Notice, str]]  # later versions than the one accepted, with their texts

    @property
    def active(self) -> bool:
        """The consent counts now."""
        return self.status == "granted"


def consents(conn: Connection, portal: Portal, customer_id: int, jurisdiction: str,
             language: str) -> list[ConsentView]:
    """Each consent-based purpose: status, notice text and version, what changed, expiry."""
    cs, ce = consent_state.c, consent_events.c
    rows = {r.purpose: r for r in conn.execute(
        select(cs.purpose, cs.action, cs.notice_version, cs.occurred_at, cs.expires_at,
               ce.source_channel)
        .join(consent_events, ce.id == cs.event_id).where(cs.customer_id == customer_id))}
    now = utcnow()
    out = []
    for purpose in consent_purposes(portal):
        row = rows.get(purpose.name)
        notice = grantable_notice(purpose, jurisdiction)
        status = "none" if row is None else consent_status(
            row.action, row.notice_version, row.expires_at, purpose, now)
        accepted = row.notice_version if row is not None and row.action == "grant" else None
        later = [n for n in purpose.notices if accepted is not None and n.version > accepted
                 and jurisdiction in n.jurisdictions]
        out.append(ConsentView(
            purpose=purpose, status=status, accepted_version=accepted, notice=notice,
            text=notice_text(notice, language) if notice else "",
            expires_at=row.expires_at if row is not None else None,
            decided_at=row.occurred_at if row is not None else None,
            source_channel=row.source_channel if row is not None else None,
            changes=[(n, notice_text(n, language)) for n in later],
        ))
    return out


def preferences(conn: Connection, customer_id: int) -> dict[tuple[str, str], dict[str, Any]]:
    """The current channel, objection and restriction choices by (kind, key)."""
    ps = preference_state.c
    rows = conn.execute(select(ps.kind, ps.key, ps.value, ps.cap_count, ps.cap_period_days,
                               ps.occurred_at).where(ps.customer_id == customer_id))
    return {(r.kind, r.key): dict(r._mapping) for r in rows}
