"""self-service portal: one-time sign-in links, sessions, receipts given in the portal

Revision ID: 0013_portal
Revises: 0008_sealed_text
Create Date: 2026-11-24 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gateway.store.types

revision = '0013_portal'
down_revision = '0008_sealed_text'
branch_labels = None
depends_on = None

_TS = gateway.store.types.UTCDateTime(timezone=True)


def _customer_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(['customer_id'], ['customers.id'],
                                   name=op.f(f'fk_{table}_customer_id_customers'), ondelete='CASCADE')


def upgrade() -> None:
    op.create_table('portal_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=8), nullable=False),
    sa.Column('created_at', _TS, nullable=False),
    sa.Column('expires_at', _TS, nullable=False),
    sa.Column('used_at', _TS, nullable=True),
    _customer_fk('portal_links'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_portal_links')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_portal_links_token_hash'))
    )
    with op.batch_alter_table('portal_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_portal_links_customer_id'), ['customer_id'], unique=False)

    op.create_table('portal_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('created_at', _TS, nullable=False),
    sa.Column('expires_at', _TS, nullable=False),
    sa.Column('last_seen_at', _TS, nullable=False),
    sa.Column('ended_at', _TS, nullable=True),
    _customer_fk('portal_sessions'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_portal_sessions')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_portal_sessions_token_hash'))
    )
    with op.batch_alter_table('portal_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_portal_sessions_customer_id'), ['customer_id'], unique=False)

    op.create_table('portal_receipts',
    sa.Column('receipt_id', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('subject', sa.String(length=32), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('source_channel', sa.String(length=16), nullable=False),
    sa.Column('jws', sa.Text(), nullable=False),
    sa.Column('issued_at', _TS, nullable=False),
    _customer_fk('portal_receipts'),
    sa.PrimaryKeyConstraint('receipt_id', name=op.f('pk_portal_receipts'))
    )
    with op.batch_alter_table('portal_receipts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_portal_receipts_customer_id'), ['customer_id'], unique=False)


def downgrade() -> None:
    for table in ('portal_receipts', 'portal_sessions', 'portal_links'):
        op.drop_table(table)
