"""The golden record, what each source knows (with provenance), orders and interactions.

Direct identifiers are sealed (AES-GCM under the customer's data key, see
gateway/profile/identity.py): their columns hold ciphertext, never plaintext. Exact lookups
use the `*_bidx` blind-index columns (keyed HMAC), the only indexes over identifiers.
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
    UniqueConstraint,
)

from gateway.store.metadata import metadata
from gateway.store.types import UTCDateTime

customers = Table(
    "customers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # identity (sealed)
    Column("first_name", LargeBinary),
    Column("last_name", LargeBinary),
    Column("birth_date", LargeBinary),
    Column("loyalty_card", LargeBinary),
    # contact (sealed)
    Column("email", LargeBinary),
    Column("phone", LargeBinary),
    Column("street", LargeBinary),
    # blind indexes of the sealed identifiers (hex HMAC-SHA256), for exact lookups
    Column("email_bidx", String(64)),
    Column("phone_bidx", String(64)),
    Column("card_bidx", String(64)),
    # location
    Column("city", String(100)),
    Column("postcode", String(20)),
    Column("region", String(100)),
    Column("country", String(2)),
    Column("latitude", Float),
    Column("longitude", Float),
    # preferences
    Column("language", String(8)),
    Column("interests", JSON),
    Column("preferred_channel", String(16)),
    # transactions (loyalty programme and order aggregates)
    Column("loyalty_tier", String(16)),
    Column("loyalty_points", Integer),
    Column("order_count", Integer, nullable=False, default=0),
    Column("total_spent_cents", BigInteger, nullable=False, default=0),
    Column("last_order_at", UTCDateTime),
    # interactions
    Column("last_seen_at", UTCDateTime),
    # derived
    Column("lifecycle_stage", String(16)),
    Column("rfm_segment", String(32)),
    Column("rfm_recency", Integer),
    Column("rfm_frequency", Integer),
    Column("rfm_monetary", Integer),
    # the jurisdiction whose rules apply to this person: gdpr or 152-fz
    Column("jurisdiction", String(8), nullable=False, default="gdpr"),
    # An id is never given twice: pseudonyms (per app, audit) are the id encrypted, so a new
    # customer on an erased person's id would inherit their pseudonyms and old audit entries.
    # SQLite reuses the highest rowid once it is deleted unless the table is AUTOINCREMENT;
    # PostgreSQL's sequence never goes back.
    sqlite_autoincrement=True,
)
# One customer per email address: `find_customer_by(email)` and the rights CLI rely on it.
Index("ix_customers_email_bidx", customers.c.email_bidx, unique=True)
Index("ix_customers_phone_bidx", customers.c.phone_bidx)
Index("ix_customers_card_bidx", customers.c.card_bidx)
Index("ix_customers_city", customers.c.city)

# One row per record a source system holds; the linkage service decides `customer_id`.
source_records = Table(
    "source_records",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("customer_id", Integer, ForeignKey("customers.id", ondelete="SET NULL"), index=True),
    Column("source", String(16), nullable=False),  # crm, web, email, loyalty, orders, call_center
    # The blind index of the source system's own id (a cookie id, a loyalty card number):
    # the record is found again by it, but the id itself is only inside `attributes`.
    Column("source_key", String(64), nullable=False),
    # What the source knows, as JSON sealed under the linked customer's data key.
    Column("attributes", LargeBinary, nullable=False),
    Column("first_seen_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Column("link_method", String(16), nullable=False),  # seed, deterministic, probabilistic, manual
    Column("link_confidence", Float, nullable=False),
    UniqueConstraint("source", "source_key", name="uq_source_records_source_source_key"),
)

orders = Table(
    "orders",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("customer_id", Integer, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
    Column("source_record_id", Integer, ForeignKey("source_records.id", ondelete="SET NULL")),
    Column("number", String(32), nullable=False, unique=True),
    Column("ordered_at", UTCDateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("item_count", Integer, nullable=False),
    Column("total_cents", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
)
Index("ix_orders_customer_ordered", orders.c.customer_id, orders.c.ordered_at)

interactions = Table(
    "interactions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("customer_id", Integer, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
    Column("source_record_id", Integer, ForeignKey("source_records.id", ondelete="SET NULL")),
    Column("kind", String(16), nullable=False),  # email_open, email_click, web_visit, call
    Column("channel", String(16), nullable=False),
    Column("device", String(16)),
    Column("campaign", String(64)),
    Column("occurred_at", UTCDateTime, nullable=False),
)
Index("ix_interactions_customer_occurred", interactions.c.customer_id, interactions.c.occurred_at)

# Each audience's own default order of customers, stored (gateway/profile/order.py): the
# constants of its keyed permutation, and one row per customer whose `position` is
# rank * 2^31 + id (unique, in (rank, id) order), so a page is a range of the primary key.
# Rows are added by a trigger on `customers` (migration 0015_readplan_order) and go with
# their customer (cascade).
customer_order_keys = Table(
    "customer_order_keys",
    metadata,
    Column("audience", String(64), primary_key=True),
    Column("a1", BigInteger, nullable=False),
    Column("b1", BigInteger, nullable=False),
    Column("a2", BigInteger, nullable=False),
    Column("b2", BigInteger, nullable=False),
)

customer_order = Table(
    "customer_order",
    metadata,
    Column("audience", String(64), ForeignKey("customer_order_keys.audience", ondelete="CASCADE"),
           primary_key=True),
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("customer_id", Integer, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False,
           index=True),
)
