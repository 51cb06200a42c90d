"""identity resolution: models, runs, blind-indexed keys, links, provenance, merges, cases

Revision ID: 0010_linkage
Revises: 0008_sealed_text
Create Date: 2026-12-01 11:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gateway.store.types import UTCDateTime

revision = '0010_linkage'
down_revision = '0008_sealed_text'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "linkage_models",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("trained_on", sa.String(16), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
    )
    op.create_table(
        "linkage_runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime()),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("model_id", sa.Integer(), sa.ForeignKey("linkage_models.id", ondelete="SET NULL")),
        sa.Column("counts", sa.JSON(), nullable=False),
    )
    op.create_table(
        "linkage_keys",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("source_record_id", sa.Integer(),
                  sa.ForeignKey("source_records.id", ondelete="CASCADE"), nullable=False),
        sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customers.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
    )
    op.create_index("ix_linkage_keys_source_record_id", "linkage_keys", ["source_record_id"])
    op.create_index("ix_linkage_keys_customer_id", "linkage_keys", ["customer_id"])
    op.create_index("ix_linkage_keys_kind_digest", "linkage_keys", ["kind", "digest"])
    op.create_table(
        "linkage_links",
        sa.Column("source_record_id", sa.Integer(),
                  sa.ForeignKey("source_records.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customers.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("linkage_runs.id", ondelete="SET NULL")),
        sa.Column("model_id", sa.Integer(), sa.ForeignKey("linkage_models.id", ondelete="SET NULL")),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("match_weight", sa.Float()),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("linked_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_linkage_links_customer_id", "linkage_links", ["customer_id"])
    op.create_table(
        "golden_provenance",
        sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customers.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("attribute", sa.String(32), primary_key=True),
        sa.Column("source_record_id", sa.Integer(),
                  sa.ForeignKey("source_records.id", ondelete="CASCADE"), nullable=False),
        sa.Column("rule", sa.String(24), nullable=False),
        sa.Column("chosen_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "linkage_cases",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("survivor_id", sa.Integer()),
        sa.Column("other_id", sa.Integer()),
        sa.Column("moved", sa.JSON(), nullable=False),
        sa.Column("conflicts", sa.JSON(), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("role", sa.String(32)),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("reverted_at", UTCDateTime()),
    )
    op.create_table(
        "customer_merges",
        sa.Column("merged_id", sa.Integer(), primary_key=True),
        sa.Column("survivor_id", sa.Integer(), sa.ForeignKey("customers.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("linkage_cases.id", ondelete="SET NULL")),
        sa.Column("merged_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_customer_merges_survivor_id", "customer_merges", ["survivor_id"])


def downgrade() -> None:
    for table in ("customer_merges", "linkage_cases", "golden_provenance", "linkage_links",
                  "linkage_keys", "linkage_runs", "linkage_models"):
        op.drop_table(table)
