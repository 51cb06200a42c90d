"""customer ids are never reused: customers AUTOINCREMENT on SQLite (merges the rights and audit heads)

Pseudonyms (per app and for the audit log) are the customer id encrypted deterministically.
Without AUTOINCREMENT SQLite gives a new row max(rowid) + 1, so once the customer with the
highest id is erased the next customer gets that id back: the erased person's pseudonyms and
the audit entries about them would seem to concern the new person. AUTOINCREMENT keeps the
highest id ever given in `sqlite_sequence` and never goes below it. SQLite can only add it by
rebuilding the table (batch mode; env.py turns foreign-key enforcement off for migrations so
that dropping the old table fires no ON DELETE action on the children).

Ids erased before this revision are not in the table any more. Every customer row the gateway
deletes is an erasure with a `rights_erasures` row, and without explicit ids SQLite only ever
gives max + 1, so no id above max(id) + count(rights_erasures) was ever given: the sequence
starts there.

PostgreSQL: nothing to do (a sequence never goes back).

Downgrade keeps AUTOINCREMENT: going back must not make ids reusable again, and the older
code works the same with it.

Revision ID: 0007_no_id_reuse
Revises: 0004_rights, 0006_audit
Create Date: 2026-11-23 16:00:00
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import Connection

revision = '0007_no_id_reuse'
down_revision = ('0004_rights', '0006_audit')
branch_labels = None
depends_on = None


def _broken_references(bind: Connection) -> set[tuple[object, ...]]:
    return {tuple(row) for row in bind.exec_driver_sql("PRAGMA foreign_key_check").all()}


def _highest_id_ever(bind: Connection) -> int:
    top = bind.exec_driver_sql("SELECT coalesce(max(id), 0) FROM customers").scalar_one()
    erased = bind.exec_driver_sql("SELECT count(*) FROM rights_erasures").scalar_one()
    return int(top) + int(erased)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    raw = bind.connection.dbapi_connection
    if raw is not None and not getattr(raw, "in_transaction", True):
        # pysqlite opens a transaction only before INSERT/UPDATE/DELETE: without this the
        # CREATE TABLE of the copy would commit on its own, and a failure leave it behind.
        bind.exec_driver_sql("BEGIN")
    before = _broken_references(bind)
    floor = _highest_id_ever(bind)
    with op.batch_alter_table("customers", recreate="always",
                              table_kwargs={"sqlite_autoincrement": True}):
        pass
    # The copy's explicit ids put max(id) in sqlite_sequence (and the rename carried it over);
    # ids erased above it were given once already.
    bind.exec_driver_sql("INSERT INTO sqlite_sequence (name, seq) SELECT 'customers', 0 "
                         "WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'customers')")
    bind.exec_driver_sql("UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = 'customers'", (floor,))
    broken = _broken_references(bind) - before
    if broken:
        tables = ", ".join(sorted({str(row[0]) for row in broken}))
        raise RuntimeError(f"rebuilding customers left rows in {tables} pointing at no customer; "
                           "nothing was changed")


def downgrade() -> None:
    pass
