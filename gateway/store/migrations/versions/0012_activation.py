"""activation: destinations, campaigns, outbox, suppressions, events, watcher

New tables only (gateway/activation/tables.py); nothing existing changes. Downgrade drops
them, with what they hold (the outbox's record of what was sent goes with it).

Revision ID: 0012_activation
Revises: 0008_sealed_text
Create Date: 2026-12-01 11:09:25.492786
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gateway.store.types

revision = '0012_activation'
down_revision = '0008_sealed_text'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('activation_destinations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('purpose', sa.String(length=32), nullable=False),
    sa.Column('role', sa.String(length=50), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('url', sa.String(length=500), nullable=True),
    sa.Column('path', sa.String(length=500), nullable=True),
    sa.Column('file_format', sa.String(length=8), nullable=True),
    sa.Column('secret', sa.LargeBinary(), nullable=True),
    sa.Column('secret_version', sa.Integer(), nullable=True),
    sa.Column('audience', sa.String(length=64), nullable=False),
    sa.Column('batch_size', sa.Integer(), nullable=False),
    sa.Column('max_attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', gateway.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('disabled_at', gateway.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_activation_destinations')),
    sa.UniqueConstraint('audience', name=op.f('uq_activation_destinations_audience')),
    sa.UniqueConstraint('name', name=op.f('uq_activation_destinations_name')),
    sqlite_autoincrement=True
    )
    op.create_table('activation_watch',
    sa.Column('ledger', sa.String(length=32), nullable=False),
    sa.Column('position', sa.BigInteger(), nullable=False),
    sa.Column('gaps', sa.JSON(), nullable=False),
    sa.Column('updated_at', gateway.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('ledger', name=op.f('pk_activation_watch'))
    )
    op.create_table('activation_campaigns',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ref', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('destination_id', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.String(length=32), nullable=False),
    sa.Column('template', sa.String(length=64), nullable=False),
    sa.Column('audience_kind', sa.String(length=16), nullable=False),
    sa.Column('segment_id', sa.String(length=64), nullable=True),
    sa.Column('segment_version', sa.Integer(), nullable=True),
    sa.Column('schedule_at', gateway.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('holdout', sa.Float(), nullable=False),
    sa.Column('arms', sa.JSON(), nullable=False),
    sa.Column('salt', sa.String(length=32), nullable=False),
    sa.Column('conversion_days', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', gateway.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('planned_at', gateway.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['destination_id'], ['activation_destinations.id'], name=op.f('fk_activation_campaigns_destination_id_activation_destinations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_activation_campaigns')),
    sa.UniqueConstraint('ref', name=op.f('uq_activation_campaigns_ref')),
    sqlite_autoincrement=True
    )
    op.create_table('activation_suppressions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('scope', sa.String(length=8), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('digest', sa.String(length=64), nullable=True),
    sa.Column('channel', sa.String(length=16), nullable=True),
    sa.Column('reason', sa.String(length=16), nullable=False),
    sa.Column('created_at', gateway.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('expires_at', gateway.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_activation_suppressions_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_activation_suppressions'))
    )
    with op.batch_alter_table('activation_suppressions', schema=None) as batch_op:
        batch_op.create_index('ix_activation_suppressions_customer_id', ['customer_id'], unique=False)
        batch_op.create_index('ix_activation_suppressions_digest', ['digest'], unique=False)

    op.create_table('activation_audience',
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['activation_campaigns.id'], name=op.f('fk_activation_audience_campaign_id_activation_campaigns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_activation_audience_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('campaign_id', 'customer_id', name=op.f('pk_activation_audience'))
    )
    with op.batch_alter_table('activation_audience', schema=None) as batch_op:
        batch_op.create_index('ix_activation_audience_customer_id', ['customer_id'], unique=False)

    op.create_table('activation_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('occurred_at', gateway.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('recorded_at', gateway.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=True),
    sa.Column('message_id', sa.Integer(), nullable=True),
    sa.Column('attributes', sa.JSON(), nullable=False),
    sa.Column('dedupe', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['campaign_id'], ['activation_campaigns.id'], name=op.f('fk_activation_events_campaign_id_activation_campaigns')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_activation_events_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_activation_events')),
    sa.UniqueConstraint('dedupe', name=op.f('uq_activation_events_dedupe')),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('activation_events', schema=None) as batch_op:
        batch_op.create_index('ix_activation_events_campaign', ['campaign_id'], unique=False)
        batch_op.create_index('ix_activation_events_customer', ['customer_id', 'kind', 'occurred_at'], unique=False)

    op.create_table('activation_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('started_at', gateway.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', gateway.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('counts', sa.JSON(), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('audit_seq', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['campaign_id'], ['activation_campaigns.id'], name=op.f('fk_activation_runs_campaign_id_activation_campaigns')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_activation_runs')),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('activation_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_activation_runs_campaign_id'), ['campaign_id'], unique=False)

    op.create_table('activation_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('dedupe', sa.String(length=96), nullable=False),
    sa.Column('destination_id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=True),
    sa.Column('rule', sa.String(length=64), nullable=True),
    sa.Column('step', sa.Integer(), nullable=True),
    sa.Column('event_id', sa.Integer(), nullable=True),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('recipient', sa.String(length=64), nullable=True),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('purpose', sa.String(length=32), nullable=False),
    sa.Column('template', sa.String(length=64), nullable=True),
    sa.Column('arm', sa.String(length=32), nullable=True),
    sa.Column('notice', sa.JSON(), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('reason', sa.String(length=24), nullable=True),
    sa.Column('not_before', gateway.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('next_attempt_at', gateway.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('batch', sa.String(length=32), nullable=True),
    sa.Column('lease_until', gateway.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('planned_at', gateway.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', gateway.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('sent_epoch', sa.BigInteger(), nullable=True),
    sa.Column('payload_fields', sa.JSON(), nullable=True),
    sa.Column('payload_digest', sa.String(length=64), nullable=True),
    sa.Column('last_error', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['campaign_id'], ['activation_campaigns.id'], name=op.f('fk_activation_messages_campaign_id_activation_campaigns')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_activation_messages_customer_id_customers'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['destination_id'], ['activation_destinations.id'], name=op.f('fk_activation_messages_destination_id_activation_destinations')),
    sa.ForeignKeyConstraint(['event_id'], ['activation_events.id'], name=op.f('fk_activation_messages_event_id_activation_events'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_activation_messages')),
    sa.UniqueConstraint('dedupe', name=op.f('uq_activation_messages_dedupe')),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('activation_messages', schema=None) as batch_op:
        batch_op.create_index('ix_activation_messages_batch', ['batch'], unique=False)
        batch_op.create_index('ix_activation_messages_campaign', ['campaign_id', 'status'], unique=False)
        batch_op.create_index('ix_activation_messages_customer', ['customer_id', 'channel', 'sent_epoch'], unique=False)
        batch_op.create_index('ix_activation_messages_due', ['status', 'next_attempt_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('activation_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_activation_messages_due')
        batch_op.drop_index('ix_activation_messages_customer')
        batch_op.drop_index('ix_activation_messages_campaign')
        batch_op.drop_index('ix_activation_messages_batch')

    op.drop_table('activation_messages')
    with op.batch_alter_table('activation_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_activation_runs_campaign_id'))

    op.drop_table('activation_runs')
    with op.batch_alter_table('activation_events', schema=None) as batch_op:
        batch_op.drop_index('ix_activation_events_customer')
        batch_op.drop_index('ix_activation_events_campaign')

    op.drop_table('activation_events')
    with op.batch_alter_table('activation_audience', schema=None) as batch_op:
        batch_op.drop_index('ix_activation_audience_customer_id')

    op.drop_table('activation_audience')
    with op.batch_alter_table('activation_suppressions', schema=None) as batch_op:
        batch_op.drop_index('ix_activation_suppressions_digest')
        batch_op.drop_index('ix_activation_suppressions_customer_id')

    op.drop_table('activation_suppressions')
    op.drop_table('activation_campaigns')
    op.drop_table('activation_watch')
    op.drop_table('activation_destinations')
