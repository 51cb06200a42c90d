"""The per-customer data keys, wrapped by a version of the master key (envelope encryption)."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, LargeBinary, Table

from gateway.store.metadata import metadata
from gateway.store.types import UTCDateTime

# One row per customer. Destroying the row (crypto-shredding) makes every sealed value of the
# customer unreadable, wherever a copy of it is left (backups, free pages, replicas).
data_keys = Table(
    "data_keys",
    metadata,
    Column("customer_id", Integer, ForeignKey("customers.id", ondelete="CASCADE"),
           primary_key=True, autoincrement=False),
    # The master key version that wraps `wrapped`; `keys rotate` moves rows to the current one
    # in small batches, so a rerun continues where an interrupted one stopped.
    Column("version", Integer, nullable=False),
    Column("wrapped", LargeBinary(64), nullable=False),  # nonce (12) + AES-GCM(key) (48)
    Column("created_at", UTCDateTime, nullable=False),
    Column("rotated_at", UTCDateTime),
)
Index("ix_data_keys_version", data_keys.c.version)
