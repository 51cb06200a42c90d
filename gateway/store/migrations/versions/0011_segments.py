"""segmentation and scoring: segments, versions, attributes, personas, models, scores

Tables of gateway/segmentation and gateway/scoring (see their tables.py). New tables only:
the `customers` columns lifecycle_stage and rfm_* stay where they are and are written by
`consent-gateway segments compute` from now on.

Revision ID: 0011_segments
Revises: 0008_sealed_text
Create Date: 2026-12-01 11:03:40.661680
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gateway.store.types

revision = '0011_segments'
down_revision = '0008_sealed_text'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('persona_models',
    sa.Column('version', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('trained_at', gateway.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('customers', sa.Integer(), nullable=False),
    sa.Column('features', sa.JSON(), nullable=False),
    sa.Column('metrics', sa.JSON(), nullable=False),
    sa.Column('artifact', sa.LargeBinary(), nullable=False),
    sa.Column('artifact_sha256', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('version', name=op.f('pk_persona_models'))
    )
    op.create_table('score_models',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('trained_at', gateway.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('cutoff', gateway.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('features', sa.JSON(), nullable=False),
    sa.Column('metrics', sa.JSON(), nullable=False),
    sa.Column('artifact', sa.LargeBinary(), nullable=False),
    sa.Column('artifact_sha256', sa.String(length=64), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_score_models')),
    sa.UniqueConstraint('name', 'version', name='uq_score_models_name_version')
    )
    op.create_table('segments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('description', sa.String(length=500), nullable=True),
    sa.Column('current_version', sa.Integer(), nullable=False),
    sa.Column('created_at', gateway.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('updated_at', gateway.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_segments')),
    sa.UniqueConstraint('name', name=op.f('uq_segments_name')),
    sqlite_autoincrement=True
    )
    op.create_table('customer_attributes',
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('computed_at', gateway.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('orders_seen', sa.BigInteger(), nullable=False),
    sa.Column('interactions_seen', sa.BigInteger(), nullable=False),
    sa.Column('order_count', sa.Integer(), nullable=False),
    sa.Column('spent_eur_cents', sa.BigInteger(), nullable=False),
    sa.Column('first_order_at', gateway.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_order_at', gateway.store.types.UTCDateTime(timezone=True), nullable=True),
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
    sa.Column('last_email_at', gateway.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_web_at', gateway.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_call_at', gateway.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('preferred_device', sa.String(length=16), nullable=True),
    sa.Column('best_hour', sa.Integer(), nullable=True),
    sa.Column('milestones', sa.JSON(), nullable=False),
    sa.Column('persona_key', sa.Integer(), nullable=True),
    sa.Column('persona_version', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_customer_attributes_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('customer_id', name=op.f('pk_customer_attributes'))
    )
    with op.batch_alter_table('customer_attributes', schema=None) as batch_op:
        batch_op.create_index('ix_customer_attributes_lifecycle', ['lifecycle'], unique=False)

    op.create_table('customer_scores',
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('model', sa.String(length=32), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('scored_at', gateway.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_customer_scores_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('customer_id', 'model', name=op.f('pk_customer_scores'))
    )
    with op.batch_alter_table('customer_scores', schema=None) as batch_op:
        batch_op.create_index('ix_customer_scores_model_value', ['model', 'value'], unique=False)

    op.create_table('personas',
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('key', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('description', sa.String(length=1000), nullable=False),
    sa.Column('centroid', sa.JSON(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['version'], ['persona_models.version'], name=op.f('fk_personas_version_persona_models'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('version', 'key', name=op.f('pk_personas'))
    )
    op.create_table('segment_versions',
    sa.Column('segment_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('definition', sa.Text(), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('categories', sa.JSON(), nullable=False),
    sa.Column('purpose', sa.String(length=32), nullable=False),
    sa.Column('created_at', gateway.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['segment_id'], ['segments.id'], name=op.f('fk_segment_versions_segment_id_segments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('segment_id', 'version', name=op.f('pk_segment_versions'))
    )


def downgrade() -> None:
    op.drop_table('segment_versions')
    op.drop_table('personas')
    with op.batch_alter_table('customer_scores', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_scores_model_value')

    op.drop_table('customer_scores')
    with op.batch_alter_table('customer_attributes', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_attributes_lifecycle')

    op.drop_table('customer_attributes')
    op.drop_table('segments')
    op.drop_table('score_models')
    op.drop_table('persona_models')
