"""The audit log: one entry per request or write, holding pseudonymous references only.

`seq`, `prev_hash` and `entry_hash` are the hash chain's places (filled by the chain writer);
`subjects` holds the audit-audience pseudonyms of the customers touched, never raw ids.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, Integer, String, Table

from gateway.store.metadata import metadata
from gateway.store.types import UTCDateTime

audit_events = Table(
    "audit_events",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("request_id", String(36), nullable=False),
    Column("actor_type", String(16), nullable=False),  # app, officer, portal, system
    Column("actor", String(100), nullable=False),  # app name; never a person's identifier
    Column("role", String(50)),
    Column("purpose", String(32)),
    Column("action", String(32), nullable=False),  # read, consent.record, ...
    Column("operation", String(100)),  # GraphQL root fields or CLI command
    Column("decision", String(8), nullable=False),  # allow, partial, deny
    Column("subjects", JSON, nullable=False),  # [{"ref": pseudonym, "code": reason}]
    Column("detail", JSON, nullable=False),  # fields allowed / denied with reason codes
    Column("prev_hash", String(64)),
    Column("entry_hash", String(64)),
)
