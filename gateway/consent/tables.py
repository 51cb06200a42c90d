"""The preference center's ledger: append-only events and the state derived from them.

Events are never updated or deleted (except by erasure). The `*_state` tables are a
projection of the latest event per key, written in the same transaction as the event, so
that a read decides with one indexed lookup instead of replaying the history.

`evidence` is free text that may name the person: sealed under the customer's data key
(gateway/consent/sealing.py). Event ids are never reused on SQLite (AUTOINCREMENT): they
appear in signed receipts and in the proofs an erasure keeps.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Table,
)

from gateway.store.metadata import metadata
from gateway.store.types import UTCDateTime

consent_events = Table(
    "consent_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("customer_id", Integer, ForeignKey("customers.id", ondelete="SET NULL"), index=True),
    Column("purpose", String(32), nullable=False),
    Column("notice_version", Integer, nullable=False),
    Column("action", String(8), nullable=False),  # grant, deny, withdraw
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
    Column("source_channel", String(16), nullable=False),  # portal, web_form, call_center, import, api
    Column("app_id", Integer, ForeignKey("apps.id"), nullable=True),
    Column("evidence", LargeBinary),  # sealed (gateway/consent/sealing.py)
    Column("expires_at", UTCDateTime),
    Column("notice_text_sha256", String(64)),
    Column("details", JSON),
    Column("idempotency_key", String(128), unique=True),
    sqlite_autoincrement=True,  # ids are in receipts and kept proofs: never handed out twice
)

consent_state = Table(
    "consent_state",
    metadata,
    Column("customer_id", Integer, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("action", String(8), nullable=False),
    Column("notice_version", Integer, nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime),
    Column("event_id", Integer, ForeignKey("consent_events.id"), nullable=False),
    PrimaryKeyConstraint("customer_id", "purpose"),
)

# Channel opt-ins, objections and restriction share one ledger shape:
#   kind=channel     key=email|sms|push|phone|post   value=opt_in|opt_out (+ frequency cap)
#   kind=objection   key=profiling|direct_marketing  value=on|off
#   kind=restriction key=processing                  value=on|off
preference_events = Table(
    "preference_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("customer_id", Integer, ForeignKey("customers.id", ondelete="SET NULL"), index=True),
    Column("kind", String(16), nullable=False),
    Column("key", String(32), nullable=False),
    Column("value", String(16), nullable=False),
    Column("cap_count", Integer),
    Column("cap_period_days", Integer),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
    Column("source_channel", String(16), nullable=False),
    Column("app_id", Integer, ForeignKey("apps.id"), nullable=True),
    Column("evidence", LargeBinary),  # sealed (gateway/consent/sealing.py)
    Column("idempotency_key", String(128), unique=True),
    sqlite_autoincrement=True,
)

preference_state = Table(
    "preference_state",
    metadata,
    Column("customer_id", Integer, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("key", String(32), nullable=False),
    Column("value", String(16), nullable=False),
    Column("cap_count", Integer),
    Column("cap_period_days", Integer),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("event_id", Integer, ForeignKey("preference_events.id"), nullable=False),
    PrimaryKeyConstraint("customer_id", "kind", "key"),
)
Index("ix_preference_state_kind_key", preference_state.c.kind, preference_state.c.key)
