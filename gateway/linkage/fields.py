"""The canonical fields of a source record: what a mapping maps source columns to."""

from __future__ import annotations

# The person's attributes a source may hold, in the order `linkage resolve` documents.
CANONICAL = (
    "first_name", "middle_name", "last_name", "birth_date", "sex", "email", "phone",
    "house_number", "street", "unit", "po_box", "city", "postcode", "region", "country",
    "loyalty_card",
)
CANONICAL_SET = frozenset(CANONICAL)
# What `linkage resolve` reads besides the attributes.
ID_COLUMN = "record_id"
SOURCE_COLUMN = "source"
MAX_LENGTH = 200
