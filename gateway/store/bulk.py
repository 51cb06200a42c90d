"""Writing many rows at once: upserts and keyed updates, fast on both backends.

SQLite: one prepared statement executed for every row (executemany), about 100k rows/s.
PostgreSQL: row-at-a-time statements run at about 30k rows/s (FLOORS.md), so the rows are
COPYed into a temporary table (about 200k rows/s) and merged with one statement.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table, bindparam, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.types import JSON

Row = Sequence[Any]


def _pg_copy(conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Row]) -> str:
    """COPY `rows` into a new temporary table shaped like `table`'s `columns`; its name."""
    temp = f"_bulk_{uuid.uuid4().hex[:12]}"
    cols = ", ".join(f'"{c}"' for c in columns)
    conn.exec_driver_sql(
        f'CREATE TEMP TABLE "{temp}" ON COMMIT DROP AS SELECT {cols} FROM "{table.name}" WITH NO DATA'
    )
    json_at = [i for i, c in enumerate(columns) if isinstance(table.c[c].type, JSON)]
    raw: Any = conn.connection.dbapi_connection  # psycopg's: COPY is not in the DB-API
    assert raw is not None
    with raw.cursor() as cursor, cursor.copy(f'COPY "{temp}" ({cols}) FROM STDIN') as copy:
        for row in rows:
            if json_at:
                row = list(row)
                for i in json_at:
                    row[i] = json.dumps(row[i]) if row[i] is not None else None
            copy.write_row(row)
    return temp


def upsert(conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Row],
           keys: Sequence[str]) -> int:
    """Insert `rows` (values of `columns`, in that order), replacing rows with the same `keys`."""
    if not rows:
        return 0
    others = [c for c in columns if c not in keys]
    if conn.dialect.name == "postgresql":
        temp = _pg_copy(conn, table, columns, rows)
        cols = ", ".join(f'"{c}"' for c in columns)
        sets = ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in others)
        conflict = ", ".join(f'"{k}"' for k in keys)
        conn.exec_driver_sql(
            f'INSERT INTO "{table.name}" ({cols}) SELECT {cols} FROM "{temp}" '
            f"ON CONFLICT ({conflict}) DO UPDATE SET {sets}"
        )
        conn.exec_driver_sql(f'DROP TABLE "{temp}"')
        return len(rows)
    stmt = sqlite_insert(table)
    stmt = stmt.on_conflict_do_update(index_elements=list(keys),
                                      set_={c: stmt.excluded[c] for c in others})
    conn.execute(stmt, [dict(zip(columns, row, strict=True)) for row in rows])
    return len(rows)


def update_by_key(conn: Connection, table: Table, key: str, columns: Sequence[str],
                  rows: Sequence[Row]) -> int:
    """Set `columns` of the rows whose `key` is each row's first value (key, *values)."""
    if not rows:
        return 0
    if conn.dialect.name == "postgresql":
        temp = _pg_copy(conn, table, [key, *columns], rows)
        sets = ", ".join(f'"{c}" = t."{c}"' for c in columns)
        conn.exec_driver_sql(
            f'UPDATE "{table.name}" SET {sets} FROM "{temp}" t WHERE "{table.name}"."{key}" = t."{key}"'
        )
        conn.exec_driver_sql(f'DROP TABLE "{temp}"')
        return len(rows)
    stmt = update(table).where(table.c[key] == bindparam("_key")).values(
        {c: bindparam(f"_v_{c}") for c in columns})
    conn.execute(stmt, [{"_key": row[0], **{f"_v_{c}": v for c, v in zip(columns, row[1:], strict=True)}}
                        for row in rows])
    return len(rows)

