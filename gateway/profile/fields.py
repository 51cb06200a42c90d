"""The personal-data fields of the customer profile, each with its one data category.

This catalog is the single source for the `@category` directives of the GraphQL schema and
for the policy plans compiled per (role, purpose): a field missing here has no category and
is denied everywhere.
"""

from __future__ import annotations

from gateway.policy.engine import FieldSpec

# The written rules under which a derived value is decided by its own category alone: it
# reveals a band of its inputs, never a date, an amount or a count.
_SCORE = "a 1-5 score on fixed cuts: one of five bands, not the count or amount behind it"
_BAND = "one of a few named stages or cells over configured thresholds, not the dates or amounts behind it"

CUSTOMER_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("firstName", "identity"),
    FieldSpec("lastName", "identity"),
    FieldSpec("birthDate", "identity"),
    FieldSpec("loyaltyCardNumber", "identity", identifier="card"),
    FieldSpec("email", "contact", identifier="email"),
    FieldSpec("phone", "contact", identifier="phone"),
    FieldSpec("street", "contact", identifier="address"),
    FieldSpec("city", "location"),
    FieldSpec("postcode", "location"),
    FieldSpec("region", "location"),
    FieldSpec("country", "location"),
    FieldSpec("latitude", "location"),
    FieldSpec("longitude", "location"),
    FieldSpec("language", "preferences"),
    FieldSpec("interests", "preferences"),
    FieldSpec("preferredChannel", "preferences"),
    FieldSpec("consents", "preferences"),
    FieldSpec("channels", "preferences"),
    FieldSpec("customerSince", "transactions"),
    FieldSpec("loyaltyTier", "transactions"),
    FieldSpec("loyaltyPoints", "transactions"),
    FieldSpec("orderCount", "transactions"),
    FieldSpec("totalSpent", "transactions"),
    FieldSpec("lastOrderAt", "transactions"),
    FieldSpec("orders", "transactions"),
    FieldSpec("lastSeenAt", "interactions"),
    FieldSpec("interactions", "interactions"),
    # Derived values: decided by what they reveal (DESIGN.md rule 7). An exact value carries
    # the categories it is computed from; a band is coarse by construction, and says why.
    FieldSpec("lifecycleStage", "derived", coarse=_BAND),
    FieldSpec("rfmSegment", "derived", coarse=_BAND),
    FieldSpec("rfmRecency", "derived", lineage=("transactions",)),  # days since the last order
    FieldSpec("rfmFrequency", "derived", coarse=_SCORE),
    FieldSpec("rfmMonetary", "derived", coarse=_SCORE),
    FieldSpec("sources", "identity"),
)

FIELDS_BY_NAME = {f.name: f for f in CUSTOMER_FIELDS}

# Fields computed by profiling (a `derived` category anywhere in their lineage): served only
# for customers whose profiling is allowed (gateway/profile/service.py).
DERIVED = frozenset(f.name for f in CUSTOMER_FIELDS if "derived" in f.categories)

# Scalar fields read straight from a `customers` column.
COLUMNS: dict[str, str] = {
    "firstName": "first_name",
    "lastName": "last_name",
    "birthDate": "birth_date",
    "loyaltyCardNumber": "loyalty_card",
    "email": "email",
    "phone": "phone",
    "street": "street",
    "city": "city",
    "postcode": "postcode",
    "region": "region",
    "country": "country",
    "latitude": "latitude",
    "longitude": "longitude",
    "language": "language",
    "interests": "interests",
    "preferredChannel": "preferred_channel",
    "customerSince": "created_at",
    "loyaltyTier": "loyalty_tier",
    "loyaltyPoints": "loyalty_points",
    "orderCount": "order_count",
    "totalSpent": "total_spent_cents",
    "lastOrderAt": "last_order_at",
    "lastSeenAt": "last_seen_at",
    "lifecycleStage": "lifecycle_stage",
    "rfmSegment": "rfm_segment",
    "rfmRecency": "rfm_recency",
    "rfmFrequency": "rfm_frequency",
    "rfmMonetary": "rfm_monetary",
}

# Fields that hold lists of related records, loaded in one batch per page.
NESTED = frozenset({"orders", "interactions", "consents", "channels", "sources"})
