"""The fields a segment rule may name: their type, their values, where they are stored, and
the field of the customer catalogue (gateway/profile/fields.py) that decides who may use them.

A rule field is readable exactly where its catalogue field is: a rule is checked through
the same compiled plan as the read path (`PolicyEngine.plan(role, purpose, CUSTOMER_FIELDS)`),
so a segment cannot use, count or preview what the caller could not read field by field.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.sql.elements import ColumnElement as _CE

from gateway.profile.fields import FIELDS_BY_NAME
from gateway.profile.tables import customers
from gateway.scoring.tables import customer_scores
from gateway.segmentation.tables import customer_attributes

# How values compare: text (=, !=, in), numbers (every comparison), days since a moment
# (numbers, compared through the timestamp so no date arithmetic runs per row; DAYS_TS for
# moments stored as unix seconds).
TEXT, INT, NUMBER, DAYS, DAYS_TS = "text", "int", "number", "days", "days_ts"

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
        self.scores: dict[str, Any] = {}  # model -> alias of customer_scores

    def customers(self, column: str) -> _CE[object]:
        return customers.c[column]

    def attribute(self, column: str) -> _CE[object]:
        self.attributes = True
        return customer_attributes.c[column]

    def score(self, model: str) -> _CE[object]:
        found = self.scores.get(model)
        if found is None:
            found = self.scores[model] = customer_scores.alias(f"score_{model}")
        value: _CE[object] = found.c.value
        return value


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


def _engagements(s: Sources) -> ColumnElement[object]:
    value: ColumnElement[object] = s.attribute("email_opens") + s.attribute("email_clicks")
    return value


def _score(model: str) -> Column:
    return lambda s: s.score(model)


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
    # computed attributes (customer_attributes): channel and device affinity
    RuleField("channel_affinity.email.open_rate", "channelAffinity", NUMBER, _a("email_open_rate"),
              "distinct campaigns opened / campaigns sent since joining, 0-1"),
    RuleField("channel_affinity.email.click_rate", "channelAffinity", NUMBER, _a("email_click_rate"),
              "email clicks per open, 0-1"),
    RuleField("channel_affinity.email.engagements", "channelAffinity", INT, _engagements,
              "email opens and clicks"),
    RuleField("channel_affinity.email.last_engagement_days", "channelAffinity", DAYS_TS,
              _a("last_email_ts"), "days since the last email open or click"),
    RuleField("channel_affinity.web.visits", "channelAffinity", INT, _a("web_visits"), "web visits"),
    RuleField("channel_affinity.web.last_engagement_days", "channelAffinity", DAYS_TS,
              _a("last_web_ts"), "days since the last web visit"),
    RuleField("channel_affinity.phone.calls", "channelAffinity", INT, _a("calls"), "calls"),
    RuleField("channel_affinity.phone.last_engagement_days", "channelAffinity", DAYS_TS,
              _a("last_call_ts"), "days since the last call"),
    RuleField("preferred_device", "channelAffinity", TEXT, _a("preferred_device"),
              "the device of most engagements", DEVICES),
    RuleField("best_hour", "channelAffinity", INT, _a("best_hour"), "hour of most engagements (UTC)"),
    RuleField("persona", "persona", INT, _a("persona_key"), "persona key (stable across versions)"),
    # scores (customer_scores), by model
    RuleField("score.purchase_30d", "scores", NUMBER, _score("purchase_30d"),
              "chance of a purchase in the next 30 days, 0-1"),
    RuleField("score.churn", "scores", NUMBER, _score("churn"), "chance of no purchase in 90 days, 0-1"),
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
