"""activation: the outbox claim index (status, destination, id) replaces (status, next attempt)

A claim takes one destination's pending messages in id order; with (status, next_attempt_at)
the database walked past every message already sent to find the next pending ones, once per
batch: quadratic over a million-message campaign. Data unchanged.

Revision ID: 0012b_activation_claim
Revises: 0012_activation
Create Date: 2026-12-01 13:00:00
"""

from __future__ import annotations

from alembic import op

revision = '0012b_activation_claim'
down_revision = '0012_activation'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('activation_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_activation_messages_due')
        batch_op.create_index('ix_activation_messages_claim', ['status', 'destination_id', 'id'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('activation_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_activation_messages_claim')
        batch_op.create_index('ix_activation_messages_due', ['status', 'next_attempt_at'],
                              unique=False)
