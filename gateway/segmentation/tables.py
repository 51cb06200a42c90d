"""Tables of segmentation: saved rule segments and their versions, the computed attributes of
each profiled customer, and the persona models.

Derived data (attributes, persona memberships) exists only for customers whose `profiling`
use is allowed: the compute job deletes it for everyone else (gateway/segmentation/compute.py)
and the erasure deletes it with the person (gateway/segmentation/sections.py). A segment's
definition names fields, never a person; it is not personal data.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

from gateway.store.metadata import metadata
from gateway.store.types import UTCDateTime

segments = Table(
    "segments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("description", String(500)),
    Column("current_version", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(100), nullable=False),  # the app's name, or `cli`
    Column("updated_at", UTCDateTime, nullable=False),
    sqlite_autoincrement=True,  # ids are handed to activation and campaigns: never reused
)

# One row per saved version: versions are never changed, so a campaign planned on version 2
# still sends version 2 after the rule was edited into version 3.
segment_versions = Table(
    "segment_versions",
    metadata,
    Column("segment_id", Integer, ForeignKey("segments.id", ondelete="CASCADE"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("definition", Text, nullable=False),  # the rule, as written
    Column("fields", JSON, nullable=False),  # the catalogue fields the rule reads
    Column("categories", JSON, nullable=False),  # every category those fields reveal
    Column("purpose", String(32), nullable=False),  # the purpose declared when it was saved
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("note", String(500)),
    PrimaryKeyConstraint("segment_id", "version"),
)

# The computed attributes of one profiled customer. The RFM scores and cell and the
# life-cycle stage are also written to `customers` (lifecycle_stage, rfm_*), where the read
# path and its filters have always read them; everything else lives here. Moments are unix
# seconds (UTC): the job reads and writes a million of them per run, and a number costs
# nothing to parse on either backend.
customer_attributes = Table(
    "customer_attributes",
    metadata,
    Column("customer_id", Integer, ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True),
    Column("computed_at", UTCDateTime, nullable=False),
    # the newest order and interaction ids aggregated: the job aggregates again only past them
    Column("orders_seen", BigInteger, nullable=False, default=0),
    Column("interactions_seen", BigInteger, nullable=False, default=0),
    # facts: purchases (orders not cancelled or returned), amounts in euro cents
    Column("purchases", Integer, nullable=False, default=0),
    Column("spent_eur_cents", BigInteger, nullable=False, default=0),
    Column("first_purchase_ts", BigInteger),
    Column("last_purchase_ts", BigInteger),
    Column("prev_purchase_ts", BigInteger),  # the purchase before the last (won back?)
    Column("email_opens", Integer, nullable=False, default=0),
    Column("email_clicks", Integer, nullable=False, default=0),
    Column("email_campaigns", Integer, nullable=False, default=0),  # distinct campaigns opened
    Column("web_visits", Integer, nullable=False, default=0),
    Column("calls", Integer, nullable=False, default=0),
    Column("last_email_ts", BigInteger),
    Column("last_web_ts", BigInteger),
    Column("last_call_ts", BigInteger),
    Column("preferred_device", String(16)),
    Column("best_hour", Integer),  # hour of day (UTC) with the most engagements
    # attributes derived from the facts (gateway/segmentation/derive.py)
    Column("recency_days", Integer),
    Column("r_score", Integer),
    Column("f_score", Integer),
    Column("m_score", Integer),
    Column("rfm_cell", String(32)),
    Column("lifecycle", String(16)),
    Column("email_open_rate", Float),
    Column("email_click_rate", Float),
    Column("milestones", JSON, nullable=False),  # loyalty milestones crossed, by name
    # persona membership (gateway/segmentation/personas.py)
    Column("persona_key", Integer),
    Column("persona_version", Integer),
)
Index("ix_customer_attributes_lifecycle", customer_attributes.c.lifecycle)

# A persona model: the k-means fit, its scaler and metrics. Persona keys are stable between
# versions: a refit's clusters are matched to the previous version's (gateway/segmentation/personas.py).
persona_models = Table(
    "persona_models",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("trained_at", UTCDateTime, nullable=False),
    Column("customers", Integer, nullable=False),
    Column("features", JSON, nullable=False),
    Column("metrics", JSON, nullable=False),  # silhouette, inertia, k
    Column("artifact", LargeBinary, nullable=False),  # JSON: scaler, centroids, keys
    Column("artifact_sha256", String(64), nullable=False),
)

personas = Table(
    "personas",
    metadata,
    Column("version", Integer, ForeignKey("persona_models.version", ondelete="CASCADE"), nullable=False),
    Column("key", Integer, nullable=False),  # stable across versions
    Column("name", String(100), nullable=False),
    Column("description", String(1000), nullable=False),
    Column("centroid", JSON, nullable=False),  # feature -> value, in the features' own units
    Column("size", Integer, nullable=False),
    PrimaryKeyConstraint("version", "key"),
)
