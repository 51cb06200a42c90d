"""The personal-data fields of the customer profile, each with its one data category.

This catalog is the single source for the `@category` directives of the GraphQL schema and
for the policy plans compiled per (role, purpose): a field missing here has no category and
is denied everywhere.
"""

from __future__ import annotations

from gateway.policy.engine import FieldSpec

# GraphQL name -> (column or None for nested lists, spec)
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
    FieldSpec("lifecycleStage", "derived"),
    FieldSpec("rfmSegment", "derived"),
    FieldSpec("rfmRecency", "derived"),
    FieldSpec("rfmFrequency", "derived"),
    FieldSpec("rfmMonetary", "derived"),
    FieldSpec("sources", "identity"),
)

FIELDS_BY_NAME = {f.name: f for f in CUSTOMER_FIELDS}

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
