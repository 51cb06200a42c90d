"""customer_attributes as facts in unix seconds, with the purchase before the last

The table holds only derived data that `consent-gateway segments compute` rebuilds (a full
run when the table is empty), so it is dropped and created again in its new shape rather
than converted.

Revision ID: 0011_segments_facts
Revises: 0011_segments
Create Date: 2026-12-01 11:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gateway.store.types

revision = '0011_segments_facts'
down_revision = '0011_segments'
branch_labels = None
depends_on = None

_TS = gateway.store.types.UTCDateTime(timezone=True)


def _common_head() -> list[sa.Column[object]]:
    return [
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('computed_at', _TS, nullable=False),
        sa.Column('orders_seen', sa.BigInteger(), nullable=False),
        sa.Column('interactions_seen', sa.BigInteger(), nullable=False),
    ]


def _common_tail() -> list[sa.Column[object]]:
    return [
        sa.Column('milestones', sa.JSON(), nullable=False),
        sa.Column('persona_key', sa.Integer(), nullable=True),
        sa.Column('persona_version', sa.Integer(), nullable=True),
    ]


def _create(columns: list[sa.Column[object]]) -> None:
    op.create_table(
        'customer_attributes', *columns,
        sa.ForeignKeyConstraint(['customer_id'], ['customers.id'],
                                name=op.f('fk_customer_attributes_customer_id_customers'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('customer_id', name=op.f('pk_customer_attributes')),
    )
    with op.batch_alter_table('customer_attributes', schema=None) as batch_op:
        batch_op.create_index('ix_customer_attributes_lifecycle', ['lifecycle'], unique=False)


def _drop() -> None:
    with op.batch_alter_table('customer_attributes', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_attributes_lifecycle')
    op.drop_table('customer_attributes')


def upgrade() -> None:
    _drop()
    _create([
        *_common_head(),
        sa.Column('purchases', sa.Integer(), nullable=False),
        sa.Column('spent_eur_cents', sa.BigInteger(), nullable=False),
        sa.Column('first_purchase_ts', sa.BigInteger(), nullable=True),
        sa.Column('last_purchase_ts', sa.BigInteger(), nullable=True),
        sa.Column('prev_purchase_ts', sa.BigInteger(), nullable=True),
        sa.Column('email_opens', sa.Integer(), nullable=False),
        sa.Column('email_clicks', sa.Integer(), nullable=False),
        sa.Column('email_campaigns', sa.Integer(), nullable=False),
        sa.Column('web_visits', sa.Integer(), nullable=False),
        sa.Column('calls', sa.Integer(), nullable=False),
        sa.Column('last_email_ts', sa.BigInteger(), nullable=True),
        sa.Column('last_web_ts', sa.BigInteger(), nullable=True),
        sa.Column('last_call_ts', sa.BigInteger(), nullable=True),
        sa.Column('preferred_device', sa.String(length=16), nullable=True),
        sa.Column('best_hour', sa.Integer(), nullable=True),
        sa.Column('recency_days', sa.Integer(), nullable=True),
        sa.Column('r_score', sa.Integer(), nullable=True),
        sa.Column('f_score', sa.Integer(), nullable=True),
        sa.Column('m_score', sa.Integer(), nullable=True),
        sa.Column('rfm_cell', sa.String(length=32), nullable=True),
        sa.Column('lifecycle', sa.String(length=16), nullable=True),
        sa.Column('email_open_rate', sa.Float(), nullable=True),
        sa.Column('email_click_rate', sa.Float(), nullable=True),
        *_common_tail(),
    ])


def downgrade() -> None:
    _drop()
    _create([
        *_common_head(),
        sa.Column('order_count', sa.Integer(), nullable=False),
        sa.Column('spent_eur_cents', sa.BigInteger(), nullable=False),
        sa.Column('first_order_at', _TS, nullable=True),
        sa.Column('last_order_at', _TS, nullable=True),
        sa.Column('orders_365d', sa.Integer(), nullable=False),
        sa.Column('spent_365d_eur_cents', sa.BigInteger(), nullable=False),
        sa.Column('recency_days', sa.Integer(), nullable=True),
        sa.Column('r_score', sa.Integer(), nullable=True),
        sa.Column('f_score', sa.Integer(), nullable=True),
        sa.Column('m_score', sa.Integer(), nullable=True),
        sa.Column('rfm_cell', sa.String(length=32), nullable=True),
        sa.Column('lifecycle', sa.String(length=16), nullable=True),
        sa.Column('email_opens', sa.Integer(), nullable=False),
        sa.Column('email_clicks', sa.Integer(), nullable=False),
        sa.Column('email_campaigns', sa.Integer(), nullable=False),
        sa.Column('email_open_rate', sa.Float(), nullable=True),
        sa.Column('email_click_rate', sa.Float(), nullable=True),
        sa.Column('web_visits', sa.Integer(), nullable=False),
        sa.Column('calls', sa.Integer(), nullable=False),
        sa.Column('last_email_at', _TS, nullable=True),
        sa.Column('last_web_at', _TS, nullable=True),
        sa.Column('last_call_at', _TS, nullable=True),
        sa.Column('preferred_device', sa.String(length=16), nullable=True),
        sa.Column('best_hour', sa.Integer(), nullable=True),
        *_common_tail(),
    ])
