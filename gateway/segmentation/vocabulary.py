"""The fields a segment rule may name: their type, their values, where they are stored, and
the field of the customer catalogue (gateway/profile/fields.py) that decides who may use them.

A rule field is readable exactly where its catalogue field is: a rule is checked through
the same compiled plan as the read path (`PolicyEngine.plan(role, purpose, CUSTOMER_FIELDS)`),
so a segment cannot use, count or preview what the caller could not read field by field.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import ColumnElement
from sqlalchemy.sql.elements import ColumnElement as _CE

from gateway.profile.fields import FIELDS_BY_NAME
from gateway.profile.tables import customers
from gateway.segmentation.tables import customer_attributes

# How values compare: text (=, !=, in), numbers (every comparison), days since a moment
# (numbers, compared through the timestamp so no date arithmetic runs per row).
TEXT, INT, NUMBER, DAYS = "text", "int", "number", "days"

LIFECYCLE_STAGES = ("prospect", "new", "active", "at_risk", "lapsed", "won_back")
RFM_CELLS = (
    "champions", "loyal", "potential_loyalist", "new_customer", "promising", "need_attention",
    "about_to_sleep", "at_risk", "cannot_lose", "hibernating", "lost",
)
LOYALTY_TIERS = ("bronze", "silver", "gold", "platinum")
CHANNELS = ("email", "sms", "push", "phone", "post")
DEVICES = ("mobile", "desktop", "tablet")


class Sources:
    """The tables a compiled rule reads, joined to `customers` on the customer id."""

    def __init__(self) -> None:
        self.attributes = False  # the rule reads customer_attributes

    def customers(self, column: str) -> _CE[object]:
        return customers.c[column]

    def attribute(self, column: str) -> _CE[object]:
        self.attributes = True
        return customer_attributes.c[column]


Column = Callable[[Sources], "ColumnElement[object]"]


@dataclass(frozen=True)
class RuleField:
    """One name of the rule language."""

    name: str
    catalog: str  # the catalogue field whose plan decides it
    kind: str  # TEXT, INT, NUMBER, DAYS
    column: Column
    description: str
    values: tuple[str, ...] | None = None  # the only values a TEXT field takes, if known
    scale: float = 1.0  # stored = value * scale (amounts in cents)


def _c(column: str) -> Column:
    return lambda s: s.customers(column)


def _a(column: str) -> Column:
    return lambda s: s.attribute(column)


RULE_FIELDS: tuple[RuleField, ...] = (
    RuleField("lifecycle", "lifecycleStage", TEXT, _c("lifecycle_stage"),
              "life-cycle stage", LIFECYCLE_STAGES),
    RuleField("rfm.segment", "rfmSegment", TEXT, _c("rfm_segment"), "named RFM cell", RFM_CELLS),
    RuleField("rfm.recency", "rfmRecency", INT, _c("rfm_recency"),
              "days since the last order, at the last compute run"),
    RuleField("rfm.frequency", "rfmFrequency", INT, _c("rfm_frequency"), "frequency quintile 1-5"),
    RuleField("rfm.monetary", "rfmMonetary", INT, _c("rfm_monetary"), "monetary quintile 1-5"),
    RuleField("region", "region", TEXT, _c("region"), "region"),
    RuleField("city", "city", TEXT, _c("city"), "city"),
    RuleField("country", "country", TEXT, _c("country"), "country (ISO code)"),
    RuleField("postcode", "postcode", TEXT, _c("postcode"), "postcode"),
    RuleField("language", "language", TEXT, _c("language"), "preferred language"),
    RuleField("preferred_channel", "preferredChannel", TEXT, _c("preferred_channel"),
              "declared preferred channel", CHANNELS),
    RuleField("loyalty.tier", "loyaltyTier", TEXT, _c("loyalty_tier"), "loyalty tier", LOYALTY_TIERS),
    RuleField("loyalty.points", "loyaltyPoints", INT, _c("loyalty_points"), "loyalty points"),
    RuleField("orders.count", "orderCount", INT, _c("order_count"), "orders placed"),
    RuleField("orders.total_spent", "totalSpent", NUMBER, _c("total_spent_cents"),
              "amount spent, in the customer's currency", scale=100.0),
    RuleField("orders.days_since_last", "lastOrderAt", DAYS, _c("last_order_at"),
              "days since the last order"),
    RuleField("last_seen_days", "lastSeenAt", DAYS, _c("last_seen_at"),
              "days since the customer was last seen"),
)

BY_NAME: dict[str, RuleField] = {f.name: f for f in RULE_FIELDS}


def rule_field(name: str) -> RuleField | None:
    """The rule field called `name`, or None."""
    return BY_NAME.get(name)


def _check_catalogue() -> None:
    # A rule field without a catalogue field would be decided by nothing: refuse to load.
    for f in RULE_FIELDS:
        if f.catalog not in FIELDS_BY_NAME:  # pragma: no cover - a programming error
            raise RuntimeError(f"rule field {f.name} names no catalogue field ({f.catalog})")


_check_catalogue()
