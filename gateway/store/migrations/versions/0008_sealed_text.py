"""free text sealed at rest; consent and preference event ids never reused on SQLite

1. `rights_cases.note`, `extension_reason`, `rejection_reason` and `consent_events.evidence`,
   `preference_events.evidence` become binary: they hold text sealed under the customer's
   data key (gateway/rights/texts.py, gateway/consent/sealing.py), so an erasure, which
   destroys the key, covers them by crypto-shredding.
   No data conversion: sealing needs the master key, which a migration does not hold. The
   upgrade refuses (and changes nothing) when any of these columns holds a text; rows whose
   texts are all NULL convert as they are. To upgrade such a database, export the consents
   (`consent-gateway consents export`), upgrade a fresh database and import them again.
2. `consent_events` and `preference_events` get AUTOINCREMENT on SQLite (their ids are in
   signed receipts and in the proofs an erasure keeps; SQLite would otherwise hand out an
   erased newest id again). The tables are rebuilt in batch mode like 0007_no_id_reuse did
   for customers (env.py turns foreign-key enforcement off for migrations, so the DROP of the
   old table fires no action on consent_state/preference_state). The counter starts above
   every id ever given: the highest id in the table or in `rights_ledger_proofs` (where
   every erased event's id is kept).

PostgreSQL: the column types change (all NULL, by the check above); sequences never go back.

Downgrade: back to text columns under the same refusal (a sealed value cannot become
plaintext here); AUTOINCREMENT stays (the older code works the same with it).

Revision ID: 0008_sealed_text
Revises: 0007_no_id_reuse
Create Date: 2026-11-23 11:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Connection

revision = '0008_sealed_text'
down_revision = '0007_no_id_reuse'
branch_labels = None
depends_on = None

TEXTS: dict[str, dict[str, sa.types.TypeEngine[str]]] = {
    "rights_cases": {"note": sa.Text(), "extension_reason": sa.Text(), "rejection_reason": sa.Text()},
    "consent_events": {"evidence": sa.String(length=200)},
    "preference_events": {"evidence": sa.String(length=200)},
}
LEDGERS = {"consent_events": "consent", "preference_events": "preference"}


def _refuse_if_texts(bind: Connection, direction: str) -> None:
    held = []
    for table, columns in TEXTS.items():
        where = " OR ".join(f"{c} IS NOT NULL" for c in columns)
        if bind.exec_driver_sql(f"SELECT count(*) FROM {table} WHERE {where}").scalar_one():
            held.append(table)
    if held:
        raise RuntimeError(
            f"0008_sealed_text cannot {direction}: {', '.join(held)} hold free text, and sealing "
            "or opening it needs the master key, which a migration does not have. Export the "
            "consents (consent-gateway consents export), migrate a fresh database and import "
            "them again; nothing was changed."
        )


def _begin(bind: Connection) -> None:
    raw = bind.connection.dbapi_connection
    if raw is not None and not getattr(raw, "in_transaction", True):
        # pysqlite opens a transaction only before INSERT/UPDATE/DELETE (see 0007).
        bind.exec_driver_sql("BEGIN")


def _broken_references(bind: Connection) -> set[tuple[object, ...]]:
    return {tuple(row) for row in bind.exec_driver_sql("PRAGMA foreign_key_check").all()}


def _alter(binary: bool) -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    for table, columns in TEXTS.items():
        kwargs = {"recreate": "always", "table_kwargs": {"sqlite_autoincrement": True}} if (
            sqlite and table in LEDGERS) else {}
        with op.batch_alter_table(table, **kwargs) as batch:  # type: ignore[arg-type]
            for column, text_type in columns.items():
                new, old = (sa.LargeBinary(), text_type) if binary else (text_type, sa.LargeBinary())
                using = f"{column}::bytea" if binary else f"convert_from({column}, 'UTF8')"
                batch.alter_column(column, type_=new, existing_type=old, existing_nullable=True,
                                   postgresql_using=using)


def upgrade() -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    if sqlite:
        _begin(bind)
    _refuse_if_texts(bind, "upgrade")
    before = _broken_references(bind) if sqlite else set()
    floors = {}
    if sqlite:
        for table, ledger in LEDGERS.items():
            top = bind.exec_driver_sql(f"SELECT coalesce(max(id), 0) FROM {table}").scalar_one()
            kept = bind.exec_driver_sql(
                "SELECT coalesce(max(event_id), 0) FROM rights_ledger_proofs WHERE ledger = ?",
                (ledger,)).scalar_one()
            floors[table] = max(int(top), int(kept))
    _alter(binary=True)
    if not sqlite:
        return
    for table, floor in floors.items():
        bind.exec_driver_sql("INSERT INTO sqlite_sequence (name, seq) SELECT ?, 0 WHERE NOT EXISTS "
                             "(SELECT 1 FROM sqlite_sequence WHERE name = ?)", (table, table))
        bind.exec_driver_sql("UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = ?", (floor, table))
    broken = _broken_references(bind) - before
    if broken:
        tables = ", ".join(sorted({str(row[0]) for row in broken}))
        raise RuntimeError(f"rebuilding the ledgers left rows in {tables} pointing at nothing; "
                           "nothing was changed")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        _begin(bind)
    _refuse_if_texts(bind, "downgrade")
    _alter(binary=False)
