"""Appending to the preference center's ledger and keeping the derived state in step.

Each write appends one event and upserts the projected state row in the same transaction
(the caller's), so state and history never disagree. The upsert only moves the state
forward: an event older than the one already projected (a late import) stays in the
history without overwriting a newer choice.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Integer, Table, bindparam, insert, text
from sqlalchemy.dialects import sqlite

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


_STATE_KEYS: dict[str, tuple[str, ...]] = {
    "consent_state": ("customer_id", "purpose"),
    "preference_state": ("customer_id", "kind", "key"),
}


@lru_cache(maxsize=8)
def _statements(events: Table, state: Table, dialect: str) -> tuple[Any, Any | None]:
    """(append, upsert) for `events` and its projection `state`, built once per dialect.

    PostgreSQL: one statement, one round trip (the event, then its projection from the
    event's own RETURNING row, as data-modifying CTEs); `upsert` is None. SQLite: the event
    insert (its id back) and the state upsert, both with bound parameters only.
    """
    keys = _STATE_KEYS[state.name]
    state_cols = [c.name for c in state.columns]
    event_cols = [c.name for c in events.columns if c.name != "id"]
    if dialect == "postgresql":
        types = [bindparam(c, type_=events.c[c].type) for c in event_cols]
        projected = ", ".join("id" if c == "event_id" else c for c in state_cols)
        changes = ", ".join(f"{c} = excluded.{c}" for c in state_cols if c not in keys)
        return text(
            f"WITH ev AS (INSERT INTO {events.name} ({', '.join(event_cols)}) "
            f"VALUES ({', '.join(':' + c for c in event_cols)}) RETURNING *), "
            f"st AS (INSERT INTO {state.name} ({', '.join(state_cols)}) SELECT {projected} FROM ev "
            f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {changes} "
            f"WHERE {state.name}.occurred_at <= excluded.occurred_at) "
            "SELECT id FROM ev"
        ).bindparams(*types).columns(id=Integer()), None
    append = insert(events).returning(events.c.id)
    upsert = sqlite.insert(state)
    upsert = upsert.on_conflict_do_update(
        index_elements=list(keys),
        set_={c: upsert.excluded[c] for c in state_cols if c not in keys},
        where=state.c.occurred_at <= upsert.excluded.occurred_at,
    )
    return append, upsert


def _append(conn: Connection, events: Table, state: Table, row: dict[str, Any]) -> int:
    """Insert the event `row` and move its state row forward (never back); the event id."""
    append, upsert = _statements(events, state, conn.dialect.name)
    event_id = int(conn.execute(append, row).scalar_one())
    if upsert is not None:
        conn.execute(upsert, {**{c.name: row.get(c.name) for c in state.columns
                                 if c.name != "event_id"}, "event_id": event_id})
    return event_id


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
    return _append(conn, consent_events, consent_state, {
        "customer_id": customer_id, "purpose": purpose, "notice_version": notice_version,
        "action": action, "occurred_at": occurred_at or now, "recorded_at": now,
        "source_channel": source_channel, "app_id": app_id, "evidence": evidence,
        "expires_at": expires_at, "notice_text_sha256": notice_text_sha256, "details": details,
        "idempotency_key": idempotency_key,
    })


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
    return _append(conn, preference_events, preference_state, {
        "customer_id": customer_id, "kind": kind, "key": key, "value": value,
        "cap_count": cap_count, "cap_period_days": cap_period_days,
        "occurred_at": occurred_at or now, "recorded_at": now, "source_channel": source_channel,
        "app_id": app_id, "evidence": evidence, "idempotency_key": idempotency_key,
    })
