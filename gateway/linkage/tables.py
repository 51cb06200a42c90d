"""What linkage stores: models, runs, blind-indexed keys, links with their evidence,
the golden record's provenance, merges (aliases) and the data stewards' cases.

No plaintext identifier anywhere: keys are keyed HMAC digests (blind indexes), evidence is
comparison levels and weights, provenance names a source record, never a value.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
)

from gateway.store.metadata import metadata
from gateway.store.types import UTCDateTime

# A trained model: Splink's parameters (m and u probabilities per comparison level, the
# prior); never term-frequency tables, which would hold names.
linkage_models = Table(
    "linkage_models",
    metadata,
    Column("id", Integer, primary_key=True),  # the model's version
    Column("created_at", UTCDateTime, nullable=False),
    Column("records", Integer, nullable=False),
    Column("trained_on", String(16), nullable=False),  # data | default
    Column("params", JSON, nullable=False),
)

# One ingestion or batch linkage run, with counts only.
linkage_runs = Table(
    "linkage_runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    Column("source", String(16), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("model_id", Integer, ForeignKey("linkage_models.id", ondelete="SET NULL")),
    Column("counts", JSON, nullable=False),
)

# Blocking and matching keys of each source record, blind-indexed (HMAC under a key derived
# from the master key): found again by equality, never readable.
linkage_keys = Table(
    "linkage_keys",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("source_record_id", Integer, ForeignKey("source_records.id", ondelete="CASCADE"),
           nullable=False, index=True),
    Column("customer_id", Integer, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False,
           index=True),
    Column("kind", String(16), nullable=False),
    Column("digest", String(64), nullable=False),
)
Index("ix_linkage_keys_kind_digest", linkage_keys.c.kind, linkage_keys.c.digest)

# How each source record came to its person: method, weight, the comparison levels.
linkage_links = Table(
    "linkage_links",
    metadata,
    Column("source_record_id", Integer, ForeignKey("source_records.id", ondelete="CASCADE"),
           primary_key=True),
    Column("customer_id", Integer, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False,
           index=True),
    Column("run_id", Integer, ForeignKey("linkage_runs.id", ondelete="SET NULL")),
    Column("model_id", Integer, ForeignKey("linkage_models.id", ondelete="SET NULL")),
    # new | deterministic | probabilistic | exact_only | manual
    Column("method", String(16), nullable=False),
    Column("match_weight", Float),
    Column("evidence", JSON, nullable=False),  # comparison -> level label (never a value)
    Column("linked_at", UTCDateTime, nullable=False),
)

# Which source record each attribute of the golden record was taken from, and by which rule.
golden_provenance = Table(
    "golden_provenance",
    metadata,
    Column("customer_id", Integer, ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True),
    Column("attribute", String(32), primary_key=True),
    Column("source_record_id", Integer, ForeignKey("source_records.id", ondelete="CASCADE"),
           nullable=False),
    Column("rule", String(24), nullable=False),
    Column("chosen_at", UTCDateTime, nullable=False),
)

# A merged-away person's id, kept so their old pseudonyms answer MERGED (with the survivor).
customer_merges = Table(
    "customer_merges",
    metadata,
    Column("merged_id", Integer, primary_key=True),
    Column("survivor_id", Integer, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False,
           index=True),
    Column("case_id", Integer, ForeignKey("linkage_cases.id", ondelete="SET NULL")),
    Column("merged_at", UTCDateTime, nullable=False),
)

# A data steward's (or support's) manual correction: merge two persons, split records off.
linkage_cases = Table(
    "linkage_cases",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(8), nullable=False),  # merge | split
    Column("state", String(12), nullable=False),  # done | reverted
    Column("survivor_id", Integer),  # merge: who stays; split: who the records left
    Column("other_id", Integer),  # merge: who was merged away; split: who got the records
    Column("moved", JSON, nullable=False),  # ids of the rows moved, per table (for the revert)
    Column("conflicts", JSON, nullable=False),  # consent/preference keys whose states differed
    Column("actor", String(64), nullable=False),
    Column("role", String(32)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("reverted_at", UTCDateTime),
)
