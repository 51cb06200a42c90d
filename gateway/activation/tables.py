"""Tables of activation: destinations, campaigns, the outbox, suppressions, events, watchers.

The outbox (`activation_messages`) is the record of what left the gateway: one row per
message or recipient notice, its state, and after delivery a keyed digest of the payload and
the names of the fields sent, never their values. Payloads are built when a message leaves
(the gate at the moment of use), so no personal value waits in the outbox.

After an erasure, a row keeps its proof (destination, campaign, status, times, field names,
digest) with `customer_id` NULL: nothing left points to the person (gateway/activation/
sections.py).
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
    String,
    Table,
)

from gateway.store.metadata import metadata
from gateway.store.types import UTCDateTime

# Where messages go: a webhook (signed JSON batches) or a file drop (JSONL/CSV, atomic).
activation_destinations = Table(
    "activation_destinations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("kind", String(8), nullable=False),  # webhook, file
    Column("channel", String(16), nullable=False),  # email, sms, push, ads_audience
    Column("purpose", String(32), nullable=False),
    Column("role", String(50), nullable=False),  # whose field plan decides the payload
    Column("fields", JSON, nullable=False),  # field names of gateway/profile/fields.py
    Column("url", String(500)),  # webhook
    Column("path", String(500)),  # file drop: a directory under GATEWAY_ACTIVATION_DROP_DIR
    Column("file_format", String(8)),  # jsonl, csv
    Column("secret", LargeBinary),  # webhook signing secret, sealed (gateway/activation/secrets.py)
    Column("secret_version", Integer),
    Column("audience", String(64), nullable=False, unique=True),  # pseudonym audience
    Column("batch_size", Integer, nullable=False),
    Column("max_attempts", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("disabled_at", UTCDateTime),
    sqlite_autoincrement=True,
)

activation_campaigns = Table(
    "activation_campaigns",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("ref", String(36), nullable=False, unique=True),  # the public id
    Column("name", String(100), nullable=False),
    Column("destination_id", Integer, ForeignKey("activation_destinations.id"), nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("template", String(64), nullable=False),
    Column("audience_kind", String(16), nullable=False),  # segment, list
    Column("segment_id", String(64)),
    Column("segment_version", Integer),
    Column("schedule_at", UTCDateTime),  # the worker plans it then (None: on demand)
    Column("holdout", Float, nullable=False),  # share of the eligible held out as control
    Column("arms", JSON, nullable=False),  # [{"name", "weight", "template"}]
    Column("salt", String(32), nullable=False),  # arm assignment: stable per campaign
    Column("conversion_days", Integer, nullable=False),
    Column("status", String(16), nullable=False),  # draft, scheduled, planned, cancelled
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("planned_at", UTCDateTime),
    sqlite_autoincrement=True,
)

# An explicit audience (a list of customers) for campaigns that do not come from a segment.
activation_audience = Table(
    "activation_audience",
    metadata,
    Column("campaign_id", Integer, ForeignKey("activation_campaigns.id", ondelete="CASCADE"),
           primary_key=True),
    Column("customer_id", Integer, ForeignKey("customers.id", ondelete="CASCADE"),
           primary_key=True),
)
Index("ix_activation_audience_customer_id", activation_audience.c.customer_id)

# One row per dry run, plan or delivery pass: counts per reason (codes and numbers only).
activation_runs = Table(
    "activation_runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("campaign_id", Integer, ForeignKey("activation_campaigns.id"), index=True),
    Column("kind", String(16), nullable=False),  # dry_run, plan
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=False),
    Column("counts", JSON, nullable=False),
    Column("actor", String(100), nullable=False),
    Column("audit_seq", BigInteger),
    sqlite_autoincrement=True,
)

activation_messages = Table(
    "activation_messages",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(8), nullable=False),  # message, notice
    # What makes the row unique: c<campaign>:<customer>, t<event>:<rule>:<step>, n<...>.
    # Scrubbed (to the row id) when the customer is erased.
    Column("dedupe", String(96), nullable=False, unique=True),
    Column("destination_id", Integer, ForeignKey("activation_destinations.id"), nullable=False),
    Column("campaign_id", Integer, ForeignKey("activation_campaigns.id")),
    Column("rule", String(64)),  # a trigger rule of policies/activation.yaml
    Column("step", Integer),
    Column("event_id", Integer, ForeignKey("activation_events.id", ondelete="SET NULL")),
    Column("customer_id", Integer, ForeignKey("customers.id", ondelete="SET NULL")),
    # A notice to a destination about an erased customer: their pseudonym for it, cleared
    # once delivered (the customer row, which it derives from, is gone).
    Column("recipient", String(64)),
    Column("channel", String(16), nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("template", String(64)),
    Column("arm", String(32)),
    Column("notice", JSON),  # a notice: {"type", "reason", "fields"}; codes and names only
    Column("status", String(12), nullable=False),
    Column("reason", String(24)),  # why excluded, cancelled or dead: a code
    Column("not_before", UTCDateTime, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("batch", String(32)),
    Column("lease_until", UTCDateTime),
    Column("planned_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime),
    Column("sent_epoch", BigInteger),  # seconds since 1970: frequency caps in portable SQL
    Column("payload_fields", JSON),  # names of the fields sent
    Column("payload_digest", String(64)),  # keyed digest of what was sent
    Column("last_error", String(64)),  # an HTTP status or an error class, never a body
    sqlite_autoincrement=True,
)
# A claim takes one destination's pending messages in id order: without the id in the
# index, every claim would walk past the rows already sent (quadratic over a big campaign).
Index("ix_activation_messages_claim", activation_messages.c.status,
      activation_messages.c.destination_id, activation_messages.c.id)
Index("ix_activation_messages_customer", activation_messages.c.customer_id,
      activation_messages.c.channel, activation_messages.c.sent_epoch)
Index("ix_activation_messages_campaign", activation_messages.c.campaign_id,
      activation_messages.c.status)
Index("ix_activation_messages_batch", activation_messages.c.batch)

# The global suppression list: a customer, or an address (by its blind index), on a channel
# or on all of them. Always wins over everything else.
activation_suppressions = Table(
    "activation_suppressions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("scope", String(8), nullable=False),  # customer, email, phone
    Column("customer_id", Integer, ForeignKey("customers.id", ondelete="CASCADE")),
    Column("digest", String(64)),  # blind index of the address (scope email or phone)
    Column("channel", String(16)),  # None: every channel
    Column("reason", String(16), nullable=False),  # hard_bounce, complaint, legal_hold, manual
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("expires_at", UTCDateTime),
)
Index("ix_activation_suppressions_customer_id", activation_suppressions.c.customer_id)
Index("ix_activation_suppressions_digest", activation_suppressions.c.digest)

# Events from source systems (purchases, clicks, visits...): trigger rules and results.
activation_events = Table(
    "activation_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("customer_id", Integer, ForeignKey("customers.id", ondelete="CASCADE"),
           nullable=False),
    Column("kind", String(24), nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
    Column("source", String(32), nullable=False),
    Column("campaign_id", Integer, ForeignKey("activation_campaigns.id")),
    Column("message_id", Integer),  # the outbox row an open or click answers
    Column("attributes", JSON, nullable=False),  # small scalars the rules test: codes, numbers
    Column("dedupe", String(64), unique=True),  # sha256 of the source's own event id
    sqlite_autoincrement=True,
)
Index("ix_activation_events_customer", activation_events.c.customer_id,
      activation_events.c.kind, activation_events.c.occurred_at)
Index("ix_activation_events_campaign", activation_events.c.campaign_id)

# How far the recipient-notice watcher has read each ledger, and the ids it has not seen
# yet below that point (PostgreSQL may commit a lower id after a higher one).
activation_watch = Table(
    "activation_watch",
    metadata,
    Column("ledger", String(32), primary_key=True),
    Column("position", BigInteger, nullable=False),
    Column("gaps", JSON, nullable=False),  # [[id, first seen missing at (epoch)], ...]
    Column("updated_at", UTCDateTime, nullable=False),
)
