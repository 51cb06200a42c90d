"""SQLite path of the bulk import: the batch into a temporary table, the rest in SQL.

The rows go in with the driver's `executemany` (values converted once by the columns' own
bind processors, so they are stored exactly as SQLAlchemy stores them), then three
statements run inside SQLite: append to the ledger in the file's order skipping known
idempotency keys, project the newest inserted event per customer and purpose onto
`consent_state` (only forward), and list what was inserted. An inserted event is recognised
by its idempotency key and this import's `recorded_at` (an event already present under the
same key was recorded by an earlier write).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect

from gateway.consent.tables import consent_events

EVENT_COLUMNS = ("customer_id", "purpose", "notice_version", "action", "occurred_at",
                 "recorded_at", "source_channel", "app_id", "evidence", "expires_at",
                 "notice_text_sha256", "details", "idempotency_key")
_STATE = ("customer_id", "purpose", "action", "notice_version", "occurred_at", "expires_at")
_COLS = ", ".join(EVENT_COLUMNS)

_TEMP = f"CREATE TEMP TABLE IF NOT EXISTS consent_import_rows (ord INTEGER, {_COLS})"
_FILL = (f"INSERT INTO temp.consent_import_rows (ord, {_COLS}) "
         f"VALUES ({', '.join('?' * (len(EVENT_COLUMNS) + 1))})")
_APPEND = (f"INSERT INTO consent_events ({_COLS}) SELECT {_COLS} FROM temp.consent_import_rows "
           "WHERE true ORDER BY ord ON CONFLICT (idempotency_key) DO NOTHING")
# The batch's rows drive the join (CROSS JOIN keeps that order), each a probe of the unique
# idempotency key index: the cost follows the batch, not the ledger's size.
_INSERTED = ("FROM temp.consent_import_rows t CROSS JOIN consent_events e "
             "ON e.idempotency_key = t.idempotency_key AND e.recorded_at = t.recorded_at")
_PROJECT = f"""
INSERT INTO consent_state ({', '.join(_STATE)}, event_id)
SELECT {', '.join(_STATE)}, id FROM (
    SELECT {', '.join('e.' + c for c in _STATE)}, e.id, row_number() OVER (
        PARTITION BY e.customer_id, e.purpose ORDER BY e.occurred_at DESC, e.id DESC) AS rn
    {_INSERTED})
WHERE rn = 1 ORDER BY customer_id, purpose
ON CONFLICT (customer_id, purpose) DO UPDATE SET
    action = excluded.action, notice_version = excluded.notice_version,
    occurred_at = excluded.occurred_at, expires_at = excluded.expires_at,
    event_id = excluded.event_id
WHERE consent_state.occurred_at <= excluded.occurred_at
"""
_CUSTOMERS = f"SELECT e.customer_id {_INSERTED}"


@lru_cache(maxsize=4)
def _processors(dialect: Dialect) -> tuple[tuple[int, Callable[[Any], Any]], ...]:
    """(position in the temp row, bind processor) of the columns that have one."""
    found = []
    for n, name in enumerate(EVENT_COLUMNS, start=1):
        process = consent_events.c[name].type._cached_bind_processor(dialect)
        if process is not None:
            found.append((n, process))
    return tuple(found)


def _converted(values: tuple[Any, ...], process: Callable[[Any], Any]) -> list[Any]:
    """`process` applied to a column's values, once per distinct value object in a row (the
    batch's one `recorded_at`, the JSON null of every event without 152-FZ content)."""
    out: list[Any] = []
    last_in: Any = object()
    last_out: Any = None
    for value in values:
        if value is not last_in:
            last_in, last_out = value, process(value)
        out.append(last_out)
    return out


def write_batch(conn: Connection, batch: list[dict[str, Any]]) -> tuple[int, list[int]]:
    """Append `batch` (validated event rows) and move the state forward, on `conn`'s
    transaction: (events inserted, customers whose ledger received one)."""
    if not batch:
        return 0, []
    columns: list[Any] = [range(len(batch)), *zip(*map(itemgetter(*EVENT_COLUMNS), batch), strict=True)]
    for n, process in _processors(conn.dialect):
        columns[n] = _converted(columns[n], process)
    conn.exec_driver_sql(_TEMP)
    conn.exec_driver_sql("DELETE FROM temp.consent_import_rows")
    conn.exec_driver_sql(_FILL, list(zip(*columns, strict=True)))
    conn.exec_driver_sql(_APPEND)
    conn.exec_driver_sql(_PROJECT)
    customers = [int(c) for (c,) in conn.exec_driver_sql(_CUSTOMERS)]
    return len(customers), customers
