"""Writing many rows at once: inserts, upserts and keyed updates, fast on both backends.

SQLite: one prepared statement executed for every row on the driver's cursor (executemany),
with values converted as the column types would (timestamps as SQLAlchemy stores them, JSON
as text): SQLAlchemy's own executemany spends more per row building parameters than SQLite
spends writing it. PostgreSQL: row-at-a-time statements run at about 30k rows/s (FLOORS.md),
so the rows are COPYed into a temporary table (about 200k rows/s) and merged with one
statement; rows known to be new are COPYed straight into their table.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    String,
    Table,
    any_,
    bindparam,
    cast,
    func,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import JSON, NullType

from gateway.store.types import UTCDateTime

Row = Sequence[Any]
# SQLite's page cache for a connection that writes a table of millions of rows (256 MiB;
# the default is 2 MiB): a million rows keyed in another order than they arrive (an index on
# a score's value) touch pages at random, and with the default cache each touch is a read
# and a write of the file. The job's memory stays within its budget; PostgreSQL has its own.
BULK_CACHE_KIB = 262_144


@contextlib.contextmanager
def bulk_cache(conn: Connection) -> Iterator[None]:
    """A large SQLite page cache on `conn` while the block runs (the previous size after)."""
    if conn.dialect.name != "sqlite":
        yield
        return
    before = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    conn.exec_driver_sql(f"PRAGMA cache_size = -{BULK_CACHE_KIB}")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size = {int(before or -2000)}")


# PostgreSQL's memory for one sort or hash of a statement that aggregates tens of thousands of
# customers (the default 4 MB spills a 20k-customer chunk's window sort to disk: 2.0 s
# against about 0.5 s in memory). The server's, per statement, not the job's.
AGGREGATE_WORK_MEM = "64MB"


@contextlib.contextmanager
def aggregate_memory(conn: Connection) -> Iterator[None]:
    """Room to sort and hash in memory for the statements run on `conn` while the block
    runs: PostgreSQL's work_mem for the transaction, SQLite's page cache (`bulk_cache`)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SET LOCAL work_mem = '{AGGREGATE_WORK_MEM}'")
        yield
        return
    with bulk_cache(conn):
        yield


def key_in(conn: Connection, column: ColumnElement[Any], keys: Sequence[int]) -> ColumnElement[bool]:
    """`column IN keys` for thousands of integer keys: one array parameter on PostgreSQL
    (`= ANY(:keys)`; an IN list of 20k parameters costs the server 0.5-0.8 s to plan per
    statement, the array 0.1 s); on SQLite, one JSON text read by `json_each` (SQLAlchemy
    compiles an IN list of 20k parameters in about 0.2 s)."""
    if conn.dialect.name == "postgresql":
        # As the text of an array literal (psycopg's array dumper spends about 5 us a key),
        # untyped, so that the server types the parameter itself as the array: a parameter
        # typed as text would be a cast a generic plan evaluates again for every row.
        literal = "{" + ",".join(map(str, keys)) + "}"
        return column == any_(cast(bindparam(None, literal, type_=NullType()), ARRAY(BigInteger())))
    each = func.json_each(bindparam(None, "[" + ",".join(map(str, keys)) + "]", type_=String())
                          ).table_valued("value")
    return column.in_(select(each.c.value))


def _pg_copy(conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Row]) -> str:
    """COPY `rows` into a new temporary table shaped like `table`'s `columns`; its name."""
    temp = f"_bulk_{uuid.uuid4().hex[:12]}"
    cols = ", ".join(f'"{c}"' for c in columns)
    conn.exec_driver_sql(
        f'CREATE TEMP TABLE "{temp}" ON COMMIT DROP AS SELECT {cols} FROM "{table.name}" WITH NO DATA'
    )
    _copy(conn, table, temp, columns, rows)
    return temp


def _copy(conn: Connection, table: Table, target: str, columns: Sequence[str], rows: Sequence[Row]) -> None:
    """COPY `rows` (values of `table`'s `columns`) into the table named `target`."""
    cols = ", ".join(f'"{c}"' for c in columns)
    json_at = [i for i, c in enumerate(columns) if isinstance(table.c[c].type, JSON)]
    raw: Any = conn.connection.dbapi_connection  # psycopg's: COPY is not in the DB-API
    assert raw is not None
    encoded: dict[int, str] = {}  # shared objects (milestones lists) encoded once
    with raw.cursor() as cursor, cursor.copy(f'COPY "{target}" ({cols}) FROM STDIN') as copy:
        for row in rows:
            if json_at:
                row = list(row)
                for i in json_at:
                    value = row[i]
                    if value is not None:
                        found = encoded.get(id(value))
                        if found is None:
                            found = encoded[id(value)] = json.dumps(value)
                        row[i] = found
            copy.write_row(row)


def insert(conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Row]) -> int:
    """Insert `rows` (values of `columns`, in that order) that are known to be new: COPY
    straight into the table on PostgreSQL, one prepared INSERT on SQLite. A job that
    replaces a whole table's contents deletes, then inserts: no conflict to look up."""
    if not rows:
        return 0
    if conn.dialect.name == "postgresql":
        _copy(conn, table, table.name, columns, rows)
        return len(rows)
    cols = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join("?" * len(columns))
    _sqlite_many(conn, table, columns, f'INSERT INTO "{table.name}" ({cols}) VALUES ({marks})', rows)
    return len(rows)


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
    cols = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join("?" * len(columns))
    sets = ", ".join(f'"{c}" = excluded."{c}"' for c in others)
    conflict = ", ".join(f'"{k}"' for k in keys)
    _sqlite_many(conn, table, columns,
                 f'INSERT INTO "{table.name}" ({cols}) VALUES ({marks}) '
                 f"ON CONFLICT ({conflict}) DO UPDATE SET {sets}", rows)
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
    sets = ", ".join(f'"{c}" = ?' for c in columns)
    _sqlite_many(conn, table, [*columns, key],
                 f'UPDATE "{table.name}" SET {sets} WHERE "{key}" = ?',
                 [(*row[1:], row[0]) for row in rows])
    return len(rows)


def _sqlite_value(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "json":
        return json.dumps(value)
    if kind == "datetime":
        # What UTCDateTime binds on SQLite: the UTC moment, naive, with microseconds.
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def _sqlite_many(conn: Connection, table: Table, columns: Sequence[str], sql: str,
                 rows: Sequence[Row]) -> None:
    kinds = {i: "json" if isinstance(table.c[c].type, JSON) else "datetime"
             for i, c in enumerate(columns) if isinstance(table.c[c].type, (JSON, UTCDateTime))}
    if kinds:
        # A batch often repeats one object (the moment of computed_at or scored_at, a shared
        # milestones list): convert each object once. The rows keep every object alive, so
        # no id is reused while `seen` exists.
        seen: dict[int, Any] = {}

        def convert(kind: str, value: Any) -> Any:
            if value is None:
                return None
            found = seen.get(id(value))
            if found is None:
                found = seen[id(value)] = _sqlite_value(kind, value)
            return found

        converted = []
        for row in rows:
            values = list(row)
            for i, kind in kinds.items():
                values[i] = convert(kind, values[i])
            converted.append(values)
        rows = converted
    raw: Any = conn.connection.dbapi_connection
    cursor = raw.cursor()
    try:
        cursor.executemany(sql, rows)
    finally:
        cursor.close()

