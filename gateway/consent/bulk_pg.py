"""PostgreSQL path of the bulk import: COPY into a temporary table, then one statement.

A batch's rows travel by COPY (psycopg formats them in C; no statement parameters to parse
or arrays to escape) into a temporary table dropped at commit. One statement then appends
them to the ledger (skipping known idempotency keys, in the file's order), projects the
newest inserted event per customer and purpose onto `consent_state` (only forward, as every
write does) and answers the count and the customers whose ledger received an event.
"""

from __future__ import annotations

from typing import Any

from psycopg.types.json import Json
from sqlalchemy import Connection

EVENT_COLUMNS = ("customer_id", "purpose", "notice_version", "action", "occurred_at",
                 "recorded_at", "source_channel", "app_id", "evidence", "expires_at",
                 "notice_text_sha256", "details", "idempotency_key")
_TYPES = ("int4", "varchar", "int4", "varchar", "timestamptz", "timestamptz", "varchar", "int4",
          "bytea", "timestamptz", "varchar", "json", "varchar")
_DETAILS = 1 + EVENT_COLUMNS.index("details")
_STATE = ("customer_id", "purpose", "action", "notice_version", "occurred_at", "expires_at")

_TEMP = ("CREATE TEMP TABLE IF NOT EXISTS consent_import_rows (ord integer, "
         + ", ".join(f"{name} {kind}" for name, kind in zip(EVENT_COLUMNS, _TYPES, strict=True))
         + ") ON COMMIT DROP")
_COPY = f"COPY consent_import_rows (ord, {', '.join(EVENT_COLUMNS)}) FROM STDIN"
_APPEND = f"""
WITH ins AS (
    INSERT INTO consent_events ({', '.join(EVENT_COLUMNS)})
    SELECT {', '.join(EVENT_COLUMNS)} FROM consent_import_rows ORDER BY ord
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id, {', '.join(_STATE)}),
latest AS (
    SELECT DISTINCT ON (customer_id, purpose) * FROM ins
    ORDER BY customer_id, purpose, occurred_at DESC, id DESC),
st AS (
    INSERT INTO consent_state ({', '.join(_STATE)}, event_id)
    SELECT {', '.join(_STATE)}, id FROM latest
    ON CONFLICT (customer_id, purpose) DO UPDATE SET
        action = excluded.action, notice_version = excluded.notice_version,
        occurred_at = excluded.occurred_at, expires_at = excluded.expires_at,
        event_id = excluded.event_id
    WHERE consent_state.occurred_at <= excluded.occurred_at)
SELECT count(*), coalesce(array_agg(DISTINCT customer_id), '{{}}') FROM ins
"""


def write_batch(conn: Connection, batch: list[dict[str, Any]]) -> tuple[int, list[int]]:
    """Append `batch` (validated event rows) and move the state forward, on `conn`'s
    transaction: (events inserted, customers whose ledger received one)."""
    conn.exec_driver_sql(_TEMP)
    conn.exec_driver_sql("TRUNCATE consent_import_rows")
    driver: Any = conn.connection.driver_connection
    with driver.cursor() as cursor, cursor.copy(_COPY) as copy:
        copy.set_types(["int4", *_TYPES])
        for ord_, row in enumerate(batch):
            values: list[Any] = [ord_, *(row[name] for name in EVENT_COLUMNS)]
            values[_DETAILS] = Json(values[_DETAILS])  # None as JSON null, as the API stores it
            copy.write_row(values)
    count, customers = conn.exec_driver_sql(_APPEND).one()
    return int(count), [int(c) for c in customers]
