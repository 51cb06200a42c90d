"""data subject requests: cases, their steps, rectifications, erasures, kept ledger proofs

Revision ID: 0004_rights
Revises: 0003_encryption
Create Date: 2026-11-23 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gateway.store.types

revision = '0004_rights'
down_revision = '0003_encryption'
branch_labels = None
depends_on = None

_TS = gateway.store.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table('rights_cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ref', sa.String(length=36), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('subject_ref', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('jurisdiction', sa.String(length=8), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('received_at', _TS, nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('extended_to', sa.Date(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('extension_reason', sa.Text(), nullable=True),
    sa.Column('rejection_reason', sa.Text(), nullable=True),
    sa.Column('opened_by', sa.String(length=100), nullable=False),
    sa.Column('opened_app_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', _TS, nullable=False),
    sa.Column('closed_at', _TS, nullable=True),
    sa.Column('outcome', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_rights_cases_customer_id_customers'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['opened_app_id'], ['apps.id'], name=op.f('fk_rights_cases_opened_app_id_apps')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rights_cases')),
    sa.UniqueConstraint('ref', name=op.f('uq_rights_cases_ref'))
    )
    with op.batch_alter_table('rights_cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rights_cases_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rights_cases_subject_ref'), ['subject_ref'], unique=False)
        batch_op.create_index('ix_rights_cases_status_due', ['status', 'due_on'], unique=False)

    op.create_table('rights_case_steps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('step', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('occurred_at', _TS, nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('audit_seq', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['rights_cases.id'], name=op.f('fk_rights_case_steps_case_id_rights_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rights_case_steps'))
    )
    with op.batch_alter_table('rights_case_steps', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rights_case_steps_case_id'), ['case_id'], unique=False)

    op.create_table('rights_rectifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('field', sa.String(length=32), nullable=False),
    sa.Column('changed_at', _TS, nullable=False),
    sa.Column('changed_by', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['rights_cases.id'], name=op.f('fk_rights_rectifications_case_id_rights_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rights_rectifications'))
    )
    with op.batch_alter_table('rights_rectifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rights_rectifications_case_id'), ['case_id'], unique=False)

    op.create_table('rights_erasures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tombstone', sa.String(length=64), nullable=False),
    sa.Column('subject_ref', sa.String(length=64), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('erased_at', _TS, nullable=False),
    sa.Column('erased_by', sa.String(length=100), nullable=False),
    sa.Column('jurisdiction', sa.String(length=8), nullable=False),
    sa.Column('counts', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['rights_cases.id'], name=op.f('fk_rights_erasures_case_id_rights_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rights_erasures')),
    sa.UniqueConstraint('tombstone', name=op.f('uq_rights_erasures_tombstone'))
    )
    with op.batch_alter_table('rights_erasures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rights_erasures_subject_ref'), ['subject_ref'], unique=False)

    op.create_table('rights_ledger_proofs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tombstone', sa.String(length=64), nullable=False),
    sa.Column('ledger', sa.String(length=16), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.String(length=32), nullable=True),
    sa.Column('notice_version', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=True),
    sa.Column('key', sa.String(length=32), nullable=True),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('occurred_at', _TS, nullable=False),
    sa.Column('recorded_at', _TS, nullable=False),
    sa.Column('source_channel', sa.String(length=16), nullable=False),
    sa.Column('app_id', sa.Integer(), nullable=True),
    sa.Column('expires_at', _TS, nullable=True),
    sa.Column('notice_text_sha256', sa.String(length=64), nullable=True),
    sa.Column('evidence_sha256', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rights_ledger_proofs'))
    )
    with op.batch_alter_table('rights_ledger_proofs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rights_ledger_proofs_tombstone'), ['tombstone'], unique=False)


def downgrade() -> None:
    for table, indexes in (
        ('rights_ledger_proofs', ['ix_rights_ledger_proofs_tombstone']),
        ('rights_erasures', ['ix_rights_erasures_subject_ref']),
        ('rights_rectifications', ['ix_rights_rectifications_case_id']),
        ('rights_case_steps', ['ix_rights_case_steps_case_id']),
        ('rights_cases', ['ix_rights_cases_status_due', 'ix_rights_cases_subject_ref',
                          'ix_rights_cases_customer_id']),
    ):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name in indexes:
                batch_op.drop_index(name)
        op.drop_table(table)
