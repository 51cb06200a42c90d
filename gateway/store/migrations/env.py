"""Alembic environment: online migrations against the configured URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, pool

from gateway.store.db import make_engine
from gateway.store.registry import metadata

config = context.config


def _foreign_keys_off(connection: Connection) -> None:
    # SQLite rebuilds a table to change it (batch mode: copy, DROP, rename). With foreign
    # keys enforced, DROP TABLE of a parent is an implicit DELETE that fires the children's
    # ON DELETE actions: rebuilding `customers` would delete every data key, order and
    # consent state (CASCADE) and unlink source records and cases (SET NULL). SQLite's own
    # procedure for schema changes: enforcement off (only possible outside a transaction,
    # hence the commit), then `PRAGMA foreign_key_check` before committing the change (the
    # migrations that rebuild a table do, see 0007_no_id_reuse). The setting lasts as long
    # as this connection (NullPool: closed after the run); the gateway's own connections
    # enforce foreign keys (gateway/store/db.py).
    connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    connection.commit()


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url is not None
    engine = make_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            _foreign_keys_off(connection)
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=sqlite,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
