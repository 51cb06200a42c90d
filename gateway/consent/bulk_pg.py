"""PostgreSQL fast path of the bulk import: one statement per batch over `unnest` arrays.

A multi-row VALUES statement costs psycopg a parse of thousands of placeholders per batch;
here the statement text is constant and each column travels as one typed array.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, text

_INSERT = text("""
INSERT INTO consent_events (customer_id, purpose, notice_version, action, occurred_at,
    recorded_at, source_channel, app_id, evidence, expires_at, notice_text_sha256, details,
    idempotency_key)
SELECT * FROM unnest(
    CAST(:customer_id AS integer[]), CAST(:purpose AS varchar[]), CAST(:notice_version AS integer[]),
    CAST(:action AS varchar[]), CAST(:occurred_at AS timestamptz[]),
    CAST(:recorded_at AS timestamptz[]), CAST(:source_channel AS varchar[]),
    CAST(:app_id AS integer[]), CAST(:evidence AS bytea[]), CAST(:expires_at AS timestamptz[]),
    CAST(:notice_text_sha256 AS varchar[]), CAST(:details AS json[]),
    CAST(:idempotency_key AS varchar[]))
ON CONFLICT (idempotency_key) DO NOTHING
RETURNING id, customer_id, purpose, action, notice_version, occurred_at, expires_at
""")

_UPSERT = text("""
INSERT INTO consent_state (customer_id, purpose, action, notice_version, occurred_at,
    expires_at, event_id)
SELECT * FROM unnest(
    CAST(:customer_id AS integer[]), CAST(:purpose AS varchar[]), CAST(:action AS varchar[]),
    CAST(:notice_version AS integer[]), CAST(:occurred_at AS timestamptz[]),
    CAST(:expires_at AS timestamptz[]), CAST(:event_id AS integer[]))
ON CONFLICT (customer_id, purpose) DO UPDATE SET
    action = excluded.action, notice_version = excluded.notice_version,
    occurred_at = excluded.occurred_at, expires_at = excluded.expires_at,
    event_id = excluded.event_id
WHERE consent_state.occurred_at <= excluded.occurred_at
""")

_EVENT_COLUMNS = ("customer_id", "purpose", "notice_version", "action", "occurred_at",
                  "recorded_at", "source_channel", "app_id", "evidence", "expires_at",
                  "notice_text_sha256", "details", "idempotency_key")
_STATE_COLUMNS = ("customer_id", "purpose", "action", "notice_version", "occurred_at",
                  "expires_at", "event_id")


def insert_events(conn: Connection, batch: list[dict[str, Any]]) -> list[Any]:
    """Insert `batch`, skipping known idempotency keys; the inserted rows (state columns)."""
    arrays: dict[str, list[Any]] = {name: [] for name in _EVENT_COLUMNS}
    for row in batch:
        for name in _EVENT_COLUMNS:
            value = row[name]
            arrays[name].append(json.dumps(value) if name == "details" else value)
    return list(conn.execute(_INSERT, arrays).all())


def upsert_state(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Move consent_state forward to `rows` (one per customer and purpose)."""
    arrays = {name: [row[name] for row in rows] for name in _STATE_COLUMNS}
    conn.execute(_UPSERT, arrays)
