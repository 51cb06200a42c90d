"""self-service portal: one-time sign-in codes sent by SMS (hashed, attempts counted)

Revision ID: 0013b_portal2_codes
Revises: 0013_portal
Create Date: 2026-12-01 14:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gateway.store.types

revision = '0013b_portal2_codes'
down_revision = '0013_portal'
branch_labels = None
depends_on = None

_TS = gateway.store.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table('portal_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', _TS, nullable=False),
    sa.Column('expires_at', _TS, nullable=False),
    sa.Column('used_at', _TS, nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'],
                            name=op.f('fk_portal_codes_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_portal_codes'))
    )
    with op.batch_alter_table('portal_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_portal_codes_customer_id'), ['customer_id'], unique=False)


def downgrade() -> None:
    op.drop_table('portal_codes')
