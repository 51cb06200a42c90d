"""Calling apps and their API keys (stored only as hashes)."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Integer, PrimaryKeyConstraint, String, Table, Text

from gateway.store.metadata import metadata
from gateway.store.types import UTCDateTime

apps = Table(
    "apps",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("role", String(50), nullable=False),
    # sha256 of the key: keys are 256-bit random, so a fast hash is enough (no password KDF).
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("key_prefix", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
)

# Persisted (trusted) documents: the GraphQL documents an app registered, by the sha256 of
# their text (Apollo's persisted queries, GraphQL trusted documents). Only the registering
# app may run a document by its hash; the text holds no personal data (documents with
# variables carry their values in the request, not here).
persisted_documents = Table(
    "persisted_documents",
    metadata,
    Column("app_id", Integer, ForeignKey("apps.id", ondelete="CASCADE"), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("document", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("app_id", "sha256"),
)
