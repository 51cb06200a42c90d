"""Appending to the preference center's ledger and keeping the derived state in step.

Each write appends one event and upserts the projected state row in the same transaction
(the caller's), so state and history never disagree. The upsert only moves the state
forward: an event older than the one already projected (a late import) stays in the
history without overwriting a newer choice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, insert
from sqlalchemy.dialects import postgresql, sqlite

from gateway.consent.tables import (
    consent_events,
    consent_state,
    preference_events,
    preference_state,
)
from gateway.store.types import utcnow

CONSENT_ACTIONS = frozenset({"grant", "deny", "withdraw"})
SOURCE_CHANNELS = frozenset({"portal", "web_form", "call_center", "import", "api",
                             "gpc"})  # gpc: a Global Privacy Control signal (gateway/portal)


def _upsert(conn: Connection, table: Table, keys: list[str], values: dict[str, Any]) -> None:
    dialect = conn.dialect.name
    builder: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = builder(table).values(**values)
    changes = {k: stmt.excluded[k] for k in values if k not in keys}
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=keys, set_=changes, where=table.c.occurred_at <= stmt.excluded.occurred_at
        )
    )


def append_consent(
    conn: Connection,
    *,
    customer_id: int,
    purpose: str,
    notice_version: int,
    action: str,
    source_channel: str,
    occurred_at: datetime | None = None,
    app_id: int | None = None,
    evidence: bytes | None = None,
    expires_at: datetime | None = None,
    notice_text_sha256: str | None = None,
    details: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> int:
    """Append a consent event and project it; return the event id. Inputs are validated by
    the caller (the consent service); this function trusts them. `evidence` comes sealed
    (gateway/consent/sealing.py `seal_evidence`)."""
    now = utcnow()
    when = occurred_at or now
    event_id = int(conn.execute(
        insert(consent_events).values(
            customer_id=customer_id, purpose=purpose, notice_version=notice_version,
            action=action, occurred_at=when, recorded_at=now, source_channel=source_channel,
            app_id=app_id, evidence=evidence, expires_at=expires_at,
            notice_text_sha256=notice_text_sha256, details=details,
            idempotency_key=idempotency_key,
        ).returning(consent_events.c.id)
    ).scalar_one())
    _upsert(conn, consent_state, ["customer_id", "purpose"], {
        "customer_id": customer_id, "purpose": purpose, "action": action,
        "notice_version": notice_version, "occurred_at": when, "expires_at": expires_at,
        "event_id": event_id,
    })
    return event_id


def append_preference(
    conn: Connection,
    *,
    customer_id: int,
    kind: str,
    key: str,
    value: str,
    source_channel: str,
    occurred_at: datetime | None = None,
    cap_count: int | None = None,
    cap_period_days: int | None = None,
    app_id: int | None = None,
    evidence: bytes | None = None,
    idempotency_key: str | None = None,
) -> int:
    """Append a channel, objection or restriction event and project it; return its id."""
    now = utcnow()
    when = occurred_at or now
    event_id = int(conn.execute(
        insert(preference_events).values(
            customer_id=customer_id, kind=kind, key=key, value=value, cap_count=cap_count,
            cap_period_days=cap_period_days, occurred_at=when, recorded_at=now,
            source_channel=source_channel, app_id=app_id, evidence=evidence,
            idempotency_key=idempotency_key,
        ).returning(preference_events.c.id)
    ).scalar_one())
    _upsert(conn, preference_state, ["customer_id", "kind", "key"], {
        "customer_id": customer_id, "kind": kind, "key": key, "value": value,
        "cap_count": cap_count, "cap_period_days": cap_period_days, "occurred_at": when,
        "event_id": event_id,
    })
    return event_id
