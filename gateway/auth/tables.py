"""Calling apps and their API keys (stored only as hashes)."""

from __future__ import annotations

from sqlalchemy import Column, Integer, String, Table

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
