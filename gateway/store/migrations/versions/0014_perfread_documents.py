"""persisted (trusted) documents registered by apps, by sha256

Revision ID: 0014_perfread_documents
Revises: 0008_sealed_text
Create Date: 2026-12-01 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gateway.store.types

revision = '0014_perfread_documents'
down_revision = '0008_sealed_text'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('persisted_documents',
    sa.Column('app_id', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('document', sa.Text(), nullable=False),
    sa.Column('created_at', gateway.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['app_id'], ['apps.id'], name=op.f('fk_persisted_documents_app_id_apps'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('app_id', 'sha256', name=op.f('pk_persisted_documents'))
    )


def downgrade() -> None:
    op.drop_table('persisted_documents')
