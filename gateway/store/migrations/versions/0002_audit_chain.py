"""audit hash chain: seq, chain head, checkpoints, subject refs, archive anchors

Entries written before this revision are chained in place (in id order), so the log
verifies from its first entry.

Revision ID: 0002_audit_chain
Revises: 0001
Create Date: 2026-11-23 09:33:00.746546
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gateway.store.types

revision = '0002_audit_chain'
down_revision = '0001'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def _chain_existing_entries() -> tuple[int, str, list[dict[str, object]]]:
    """Give legacy entries their places and hashes; the head (seq, hash) and their refs."""
    from gateway.audit.chain import GENESIS, HASHED_FIELDS, entry_hash
    from gateway.audit.tables import audit_events

    bind = op.get_bind()
    cols = [audit_events.c.id, *(audit_events.c[n] for n in HASHED_FIELDS if n not in ("seq", "prev_hash"))]
    rows = bind.execute(sa.select(*cols).order_by(audit_events.c.id)).mappings().all()
    seq, prev = 0, GENESIS
    index: list[dict[str, object]] = []
    for row in rows:
        seq += 1
        entry = {**row, "seq": seq, "prev_hash": prev}
        prev = entry_hash(entry)
        bind.execute(
            sa.update(audit_events).where(audit_events.c.id == row["id"])
            .values(seq=seq, prev_hash=entry["prev_hash"], entry_hash=prev)
        )
        refs = {s["ref"] for s in row["subjects"] or () if isinstance(s, dict) and "ref" in s}
        index += [{"audit_id": row["id"], "ref": r} for r in sorted(refs)]
    return seq, prev, index


def _index_existing_entries(index: list[dict[str, object]]) -> None:
    # After the last batch alteration of audit_events: on SQLite that rebuilds the table, and
    # dropping the old copy cascades to audit_subjects (which lost these rows before this fix).
    from gateway.audit.tables import audit_subjects

    if index:
        op.get_bind().execute(sa.insert(audit_subjects), index)


def upgrade() -> None:
    op.create_table('audit_archives',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('first_seq', sa.BigInteger(), nullable=False),
    sa.Column('last_seq', sa.BigInteger(), nullable=False),
    sa.Column('last_hash', sa.String(length=64), nullable=False),
    sa.Column('file_name', sa.String(length=255), nullable=False),
    sa.Column('file_sha256', sa.String(length=64), nullable=False),
    sa.Column('kid', sa.String(length=64), nullable=False),
    sa.Column('signature', sa.String(length=128), nullable=False),
    sa.Column('archived_at', gateway.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_archives')),
    sa.UniqueConstraint('last_seq', name=op.f('uq_audit_archives_last_seq'))
    )
    head = op.create_table('audit_chain_head',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('head_hash', sa.String(length=64), nullable=False),
    sa.Column('last_checkpoint_seq', sa.BigInteger(), nullable=False),
    sa.Column('last_checkpoint_at', gateway.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('verified_seq', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_chain_head'))
    )
    op.create_table('audit_checkpoints',
    sa.Column('seq', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('entry_hash', sa.String(length=64), nullable=False),
    sa.Column('signed_at', gateway.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('kid', sa.String(length=64), nullable=False),
    sa.Column('signature', sa.String(length=128), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_audit_checkpoints'))
    )
    op.create_table('audit_subjects',
    sa.Column('id', _ID, nullable=False),
    sa.Column('audit_id', _ID, nullable=False),
    sa.Column('ref', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['audit_id'], ['audit_events.id'], name=op.f('fk_audit_subjects_audit_id_audit_events'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_subjects'))
    )
    with op.batch_alter_table('audit_subjects', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_subjects_audit_id'), ['audit_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_subjects_ref'), ['ref'], unique=False)

    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seq', sa.BigInteger(), nullable=True))

    seq, head_hash, index = _chain_existing_entries()
    op.bulk_insert(head, [{"id": 1, "seq": seq, "head_hash": head_hash, "last_checkpoint_seq": 0,
                           "last_checkpoint_at": None, "verified_seq": None}])

    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.alter_column('seq', existing_type=sa.BigInteger(), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_audit_events_seq'), ['seq'])
    _index_existing_entries(index)


def downgrade() -> None:
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_audit_events_seq'), type_='unique')
        batch_op.drop_column('seq')

    with op.batch_alter_table('audit_subjects', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_subjects_ref'))
        batch_op.drop_index(batch_op.f('ix_audit_subjects_audit_id'))

    op.drop_table('audit_subjects')
    op.drop_table('audit_checkpoints')
    op.drop_table('audit_chain_head')
    op.drop_table('audit_archives')
