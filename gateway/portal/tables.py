"""The portal's tables: one-time sign-in links and SMS codes, sessions, and the receipts of
portal changes.

Tokens (links and session cookies) are 256-bit random values stored only as SHA-256 hashes:
a copy of the database cannot sign anyone in. Every row names its customer and goes with
them on erasure (ON DELETE CASCADE, and the `sessions` section's eraser).
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Integer, String, Table, Text

from gateway.store.metadata import metadata
from gateway.store.types import UTCDateTime

portal_links = Table(
    "portal_links",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("customer_id", Integer, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False,
           index=True),
    Column("channel", String(8), nullable=False),  # email (a link) | sms (a code)
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime),
)

# Sign-in codes sent by SMS: an HMAC of (customer, code), never the digits; attempts counted.
portal_codes = Table(
    "portal_codes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("customer_id", Integer, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False,
           index=True),
    Column("code_hash", String(64), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime),  # redeemed, or superseded by a newer code
)

portal_sessions = Table(
    "portal_sessions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("customer_id", Integer, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False,
           index=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),  # absolute end
    Column("last_seen_at", UTCDateTime, nullable=False),  # idle end = last_seen_at + idle time
    Column("ended_at", UTCDateTime),  # signed out
)

# The receipts the portal handed out, so that the person can download them again later.
# A receipt holds pseudonymous references and the notice's terms, never a plaintext value.
portal_receipts = Table(
    "portal_receipts",
    metadata,
    Column("receipt_id", String(64), primary_key=True),
    Column("customer_id", Integer, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False,
           index=True),
    Column("kind", String(16), nullable=False),  # consent, channel, objection, restriction
    Column("subject", String(32), nullable=False),  # the purpose, channel or scope it is about
    Column("action", String(16), nullable=False),
    Column("source_channel", String(16), nullable=False),  # portal | gpc
    Column("jws", Text, nullable=False),
    Column("issued_at", UTCDateTime, nullable=False),
)
