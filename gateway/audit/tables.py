"""The audit log: one entry per request or write, holding pseudonymous references only.

`seq`, `prev_hash` and `entry_hash` are the hash chain's places (filled by the chain writer);
`subjects` holds the audit-audience pseudonyms of the customers touched, never raw ids.
`audit_chain_head` is the one row every writer locks to take the next place; checkpoints,
subject refs (for officers' per-customer filtering) and archive anchors live beside it.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ForeignKey,
    Integer,
    String,
    Table,
)

from gateway.store.metadata import metadata
from gateway.store.types import UTCDateTime

_ID = BigInteger().with_variant(Integer, "sqlite")

audit_events = Table(
    "audit_events",
    metadata,
    Column("id", _ID, primary_key=True),
    Column("seq", BigInteger, nullable=False, unique=True),
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

audit_chain_head = Table(
    "audit_chain_head",
    metadata,
    Column("id", Integer, primary_key=True),  # always 1
    Column("seq", BigInteger, nullable=False),  # the last place taken (0: empty chain)
    Column("head_hash", String(64), nullable=False),
    Column("last_checkpoint_seq", BigInteger, nullable=False),
    Column("last_checkpoint_at", UTCDateTime),
    Column("verified_seq", BigInteger),  # where the last successful verification ended
)

audit_checkpoints = Table(
    "audit_checkpoints",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("entry_hash", String(64), nullable=False),
    Column("signed_at", UTCDateTime, nullable=False),
    Column("kid", String(64), nullable=False),
    Column("signature", String(128), nullable=False),
)

audit_subjects = Table(
    "audit_subjects",
    metadata,
    Column("id", _ID, primary_key=True),
    Column("audit_id", _ID, ForeignKey("audit_events.id", ondelete="CASCADE"), nullable=False,
           index=True),
    Column("ref", String(64), nullable=False, index=True),
)

audit_archives = Table(
    "audit_archives",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("first_seq", BigInteger, nullable=False),
    Column("last_seq", BigInteger, nullable=False, unique=True),
    Column("last_hash", String(64), nullable=False),
    Column("file_name", String(255), nullable=False),
    Column("file_sha256", String(64), nullable=False),
    Column("kid", String(64), nullable=False),
    Column("signature", String(128), nullable=False),
    Column("archived_at", UTCDateTime, nullable=False),
)
