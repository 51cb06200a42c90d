"""Tables of scoring: trained propensity models (artifact, hash, metrics) and the scores.

A score exists only for a customer whose `profiling` use is allowed: the scoring job deletes
the others' (gateway/scoring/score.py) and the erasure deletes it with the person. A score's
explanation is not stored: it is computed from the model artifact and the customer's
features when it is read, so it always matches the version that produced the value.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Table,
    UniqueConstraint,
)

from gateway.store.metadata import metadata
from gateway.store.types import UTCDateTime

score_models = Table(
    "score_models",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(32), nullable=False),  # purchase_30d, churn
    Column("version", Integer, nullable=False),
    Column("trained_at", UTCDateTime, nullable=False),
    Column("cutoff", UTCDateTime, nullable=False),  # features before it, labels after it
    Column("features", JSON, nullable=False),
    Column("metrics", JSON, nullable=False),  # auc, brier, calibration, lift_top_decile, ...
    Column("artifact", LargeBinary, nullable=False),  # JSON: scaler and coefficients
    Column("artifact_sha256", String(64), nullable=False),
    Column("active", Boolean, nullable=False, default=False),
    UniqueConstraint("name", "version", name="uq_score_models_name_version"),
)

customer_scores = Table(
    "customer_scores",
    metadata,
    Column("customer_id", Integer, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
    Column("model", String(32), nullable=False),
    Column("version", Integer, nullable=False),
    Column("value", Float, nullable=False),
    Column("scored_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("customer_id", "model"),
)
Index("ix_customer_scores_model_value", customer_scores.c.model, customer_scores.c.value)
