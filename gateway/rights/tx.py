"""A savepoint that is really nested on SQLite too.

pysqlite opens a transaction only before a data-changing statement; a SAVEPOINT issued
first opens one in SQLite itself, and releasing that outermost savepoint commits it, before
the caller's audit entry is written (checked: a later rollback kept the rows). So on SQLite
the outer transaction is opened explicitly first.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection


@contextmanager
def savepoint(conn: Connection) -> Iterator[None]:
    """Run the block in a savepoint of the caller's transaction; roll it back on error."""
    if conn.dialect.name == "sqlite":
        raw = conn.connection.dbapi_connection
        if raw is not None and not getattr(raw, "in_transaction", True):
            conn.exec_driver_sql("BEGIN")
    with conn.begin_nested():
        yield
