"""audit: restore the customer index of entries chained by 0002 on SQLite

0002 (before its fix) indexed the subjects of legacy entries and then rebuilt audit_events,
which on SQLite cascaded the new index rows away: officers filtering by customer missed those
entries, and verification now reports them (`index_mismatch`). This puts back the refs of
every entry that names subjects but has no index row. Idempotent; nothing to undo.

Revision ID: 0006_audit
Revises: 0002_audit_chain
Create Date: 2026-11-23 12:00:00
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = '0006_audit'
down_revision = '0002_audit_chain'
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    events = sa.table('audit_events', sa.column('id'), sa.column('subjects', sa.Text()))
    subjects = sa.table('audit_subjects', sa.column('audit_id'), sa.column('ref'))
    unindexed = (
        sa.select(events.c.id, sa.cast(events.c.subjects, sa.Text()))
        .where(~sa.exists().where(subjects.c.audit_id == events.c.id))
        .order_by(events.c.id)
    )
    rows: list[dict[str, object]] = []
    for audit_id, text in bind.execute(unindexed):
        found = json.loads(text) if text else []
        refs = {s["ref"] for s in found if isinstance(s, dict) and "ref" in s}
        rows += [{"audit_id": audit_id, "ref": r} for r in sorted(refs)]
        if len(rows) >= 5000:
            bind.execute(sa.insert(subjects), rows)
            rows = []
    if rows:
        bind.execute(sa.insert(subjects), rows)


def downgrade() -> None:
    pass
