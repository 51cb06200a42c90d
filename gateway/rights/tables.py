"""Tables of the data subject requests: cases, their steps, rectifications, erasure proofs.

None of them holds a person's data in the clear. A case names its customer twice: by the
internal id (for the work; set to NULL when the customer is erased) and by the audit log's
pseudonym (`subject_ref`), which survives the erasure and matches the audit entries. Free
text written by staff (the note, an extension or rejection reason) may quote the person: it
is sealed under the customer's data key (gateway/rights/texts.py), so the erasure, which
destroys that key, leaves it unreadable.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
)

from gateway.store.metadata import metadata
from gateway.store.types import UTCDateTime

rights_cases = Table(
    "rights_cases",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("ref", String(36), nullable=False, unique=True),  # the public case id (a UUID)
    Column("customer_id", Integer, ForeignKey("customers.id", ondelete="SET NULL"), index=True),
    Column("subject_ref", String(64), nullable=False, index=True),  # the audit pseudonym
    Column("kind", String(16), nullable=False),  # access, export, rectify, erase, restrict, object
    Column("jurisdiction", String(8), nullable=False),  # gdpr, 152-fz
    Column("status", String(16), nullable=False),  # open, in_progress, completed, rejected
    Column("received_at", UTCDateTime, nullable=False),
    Column("due_on", Date, nullable=False),  # the statutory term, before any extension
    Column("extended_to", Date),  # the extended term, when extended (once)
    Column("note", LargeBinary),  # what the person asked, in staff's words (sealed)
    Column("extension_reason", LargeBinary),  # sealed
    Column("rejection_reason", LargeBinary),  # sealed
    Column("opened_by", String(100), nullable=False),  # the app's name, or `cli`
    Column("opened_app_id", Integer, ForeignKey("apps.id"), nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("closed_at", UTCDateTime),
    Column("outcome", JSON),  # what was done: counts, field names, codes; never values
)
Index("ix_rights_cases_status_due", rights_cases.c.status, rights_cases.c.due_on)

rights_case_steps = Table(
    "rights_case_steps",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", Integer, ForeignKey("rights_cases.id", ondelete="CASCADE"), nullable=False,
           index=True),
    Column("step", String(16), nullable=False),  # opened, started, extended, completed, rejected
    Column("status", String(16), nullable=False),  # the status after the step
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("actor", String(100), nullable=False),
    Column("audit_seq", BigInteger),  # the audit entry written with the step
)

# Who changed which field of whom, and when: field names only, never old or new values.
rights_rectifications = Table(
    "rights_rectifications",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", Integer, ForeignKey("rights_cases.id", ondelete="CASCADE"), nullable=False,
           index=True),
    Column("field", String(32), nullable=False),
    Column("changed_at", UTCDateTime, nullable=False),
    Column("changed_by", String(100), nullable=False),
)

# One row per erased person: the keyed tombstone id that replaces them in kept proofs.
rights_erasures = Table(
    "rights_erasures",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("tombstone", String(64), nullable=False, unique=True),
    Column("subject_ref", String(64), nullable=False, index=True),
    Column("case_id", Integer, ForeignKey("rights_cases.id"), nullable=True),
    Column("erased_at", UTCDateTime, nullable=False),
    Column("erased_by", String(100), nullable=False),
    Column("jurisdiction", String(8), nullable=False),
    Column("counts", JSON, nullable=False),  # rows deleted per table
)

# The consent and preference ledgers' proof, kept after erasure without personal data:
# the person is the tombstone; evidence (free text) is kept only as its SHA-256.
rights_ledger_proofs = Table(
    "rights_ledger_proofs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("tombstone", String(64), nullable=False, index=True),
    Column("ledger", String(16), nullable=False),  # consent, preference
    Column("event_id", Integer, nullable=False),  # the id the event had in its ledger
    Column("purpose", String(32)),  # consent events
    Column("notice_version", Integer),
    Column("kind", String(16)),  # preference events: channel, objection, restriction
    Column("key", String(32)),
    Column("action", String(16), nullable=False),  # grant/deny/withdraw, or the value
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
    Column("source_channel", String(16), nullable=False),
    Column("app_id", Integer),
    Column("expires_at", UTCDateTime),
    Column("notice_text_sha256", String(64)),
    Column("evidence_sha256", String(64)),  # keyed: HMAC-SHA256 (blind index "evidence")
)
