"""What the demo customers did: orders, interactions, the systems that know them."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from gateway.demo.people import misspell

NextId = Callable[[str], int]

# How many orders a customer placed: 0..15, most 0-3, a few 10+.
ORDER_COUNT_WEIGHTS = (25, 18, 14, 11, 8, 6, 4.5, 3.5, 2.5, 2, 1.6, 1.2, 0.9, 0.7, 0.6, 0.5)
# Days since the last order, as (from, to, weight): active, cooling, lapsing, gone.
RECENCY_BANDS = ((0, 60, 45), (60, 180, 22), (180, 365, 16), (365, 900, 17))
ORDER_CHANNELS = ("web", "store", "app")
ORDER_CHANNEL_WEIGHTS = (50, 30, 20)
ITEM_WEIGHTS = (30, 24, 16, 10, 8, 5, 4, 3)  # 1..8 items
FROM_EUR = {"EUR": 1.0, "GBP": 0.86, "RUB": 95.0}
NOT_SPENT = frozenset({"cancelled", "returned"})
DEVICES = ("mobile", "desktop", "tablet")
DEVICE_WEIGHTS = (55, 35, 10)
CAMPAIGNS = (
    "winter-sale", "valentines", "spring-sale", "spring-sale", "new-arrivals", "summer-sale",
    "summer-sale", "back-to-school", "autumn-collection", "autumn-collection", "black-friday",
    "christmas-gifts",
)  # by month
SOURCES = ("crm", "web", "email", "loyalty", "orders", "call_center")
OPTIONAL_SOURCES = (("crm", 0.7), ("web", 0.6), ("email", 0.6), ("call_center", 0.25))
SOURCE_FIELDS: dict[str, tuple[str, ...]] = {
    "crm": ("first_name", "last_name", "email", "phone", "street", "city", "postcode",
            "country", "birth_date"),
    "web": ("email", "first_name", "language", "city", "interests"),
    "email": ("email", "first_name", "language"),
    "loyalty": ("loyalty_card", "first_name", "last_name", "phone", "birth_date",
                "loyalty_tier", "loyalty_points"),
    "orders": ("first_name", "last_name", "email", "phone", "street", "city", "postcode",
               "country"),
    "call_center": ("first_name", "last_name", "phone"),
}
INTERACTION_SOURCE = {"email_open": "email", "email_click": "email", "web_visit": "web",
                      "call": "call_center"}


@dataclass(frozen=True)
class PlannedOrder:
    """An order before it gets its id and number."""

    ordered_at: datetime
    status: str
    channel: str
    item_count: int
    total_cents: int


@dataclass(frozen=True)
class PlannedInteraction:
    """An interaction before it gets its id."""

    kind: str
    channel: str
    device: str | None
    campaign: str | None
    occurred_at: datetime


def between(rng: random.Random, lo: datetime, hi: datetime) -> datetime:
    """A moment in [lo, hi], to the second; `lo` when the window is empty."""
    span = int((hi - lo).total_seconds())
    return lo + timedelta(seconds=rng.randint(0, span)) if span > 0 else lo


def plan_orders(
    rng: random.Random, created_at: datetime, now: datetime, currency: str
) -> list[PlannedOrder]:
    """0-15 orders, oldest first, all after `created_at` and within three years of the last."""
    n = rng.choices(range(len(ORDER_COUNT_WEIGHTS)), weights=ORDER_COUNT_WEIGHTS)[0]
    if n == 0:
        return []
    lo, hi, _ = rng.choices(RECENCY_BANDS, weights=[b[2] for b in RECENCY_BANDS])[0]
    last = now - timedelta(seconds=rng.randint(lo * 86_400, hi * 86_400))
    if last < created_at:
        last = between(rng, created_at, now)
    start = max(created_at, last - timedelta(days=3 * 365))
    moments = sorted([last] + [between(rng, start, last) for _ in range(n - 1)])
    planned = []
    for at in moments:
        items = rng.choices(range(1, 9), weights=ITEM_WEIGHTS)[0]
        euros = sum(rng.lognormvariate(3.1, 0.6) for _ in range(items))
        cents = round(euros * FROM_EUR[currency] * 100)
        if currency == "RUB":
            cents = round(cents, -2)  # whole roubles
        r = rng.random()
        status = "cancelled" if r < 0.08 else "returned" if r < 0.15 else "delivered"
        if status == "delivered" and now - at < timedelta(days=5):
            status = "shipped"
        channel = rng.choices(ORDER_CHANNELS, weights=ORDER_CHANNEL_WEIGHTS)[0]
        planned.append(PlannedOrder(at, status, channel, items, max(cents, 100)))
    return planned


def _score(value: float, thresholds: tuple[float, ...]) -> int:
    """1 + how many thresholds `value` reaches: a fixed-cut quintile-like score 1-5."""
    return 1 + sum(value >= t for t in thresholds)


def derive(
    rng: random.Random, orders: list[PlannedOrder], currency: str, has_card: bool, now: datetime
) -> dict[str, Any]:
    """Order aggregates and loyalty status, consistent with `orders`.

    `order_count` counts every order; `total_spent_cents` sums those neither cancelled nor
    returned; `last_order_at` is the latest `ordered_at`. The derived columns (lifecycle
    stage, RFM) are left empty: `consent-gateway segments compute` is their source, and
    fills them only for customers who may be profiled (`demo seed` runs it).
    """
    spent = sum(o.total_cents for o in orders if o.status not in NOT_SPENT)
    euros = spent / 100 / FROM_EUR[currency]
    points = int(euros) + rng.randint(0, 300) if has_card else None
    tier = None
    if points is not None:
        tier = ("bronze", "silver", "gold", "platinum")[_score(points, (250, 600, 1000)) - 1]
    return {
        "order_count": len(orders), "total_spent_cents": spent, "loyalty_points": points,
        "loyalty_tier": tier, "last_order_at": orders[-1].ordered_at if orders else None,
        "lifecycle_stage": None, "rfm_segment": None, "rfm_recency": None,
        "rfm_frequency": None, "rfm_monetary": None,
    }


def choose_sources(rng: random.Random, has_card: bool, has_orders: bool) -> list[str]:
    """1-5 systems that know the customer; loyalty iff a card, orders iff any order."""
    chosen = [s for s, p in OPTIONAL_SOURCES if rng.random() < p]
    required = (["loyalty"] if has_card else []) + (["orders"] if has_orders else [])
    while chosen and len(chosen) + len(required) > 5:
        chosen.pop(rng.randrange(len(chosen)))
    if not chosen and not required:
        chosen = [rng.choice(("crm", "web", "email"))]
    if not {"crm", "web", "email", "orders"} & {*chosen, *required}:
        chosen.append("crm")  # every demo person gave an email address somewhere
    return [s for s in SOURCES if s in chosen or s in required]


def plan_interactions(
    rng: random.Random, sources: list[str], created_at: datetime, now: datetime
) -> list[PlannedInteraction]:
    """0-30 interactions in the last two years, only through systems that know the customer."""
    pairs = (("email", "email"), ("web", "web"), ("call", "call_center"))
    kinds = [kind for kind, source in pairs if source in sources]
    if not kinds:
        return []
    weights = [{"email": 5, "web": 4, "call": 1}[k] for k in kinds]
    wanted = min(30, int(rng.expovariate(1 / 9)))
    lo = max(created_at, now - timedelta(days=730))
    usual = rng.choices(DEVICES, weights=DEVICE_WEIGHTS)[0]
    planned: list[PlannedInteraction] = []
    while len(planned) < wanted:
        kind = rng.choices(kinds, weights=weights)[0]
        at = between(rng, lo, now)
        device = usual if rng.random() < 0.7 else rng.choice(DEVICES)
        if kind == "call":
            planned.append(PlannedInteraction("call", "phone", None, None, at))
        elif kind == "web":
            planned.append(PlannedInteraction("web_visit", "web", device, None, at))
        else:
            campaign = f"{CAMPAIGNS[at.month - 1]}-{at.year}"
            planned.append(PlannedInteraction("email_open", "email", device, campaign, at))
            if rng.random() < 0.3 and len(planned) < wanted:
                click = min(now, at + timedelta(seconds=rng.randint(20, 3600)))
                planned.append(PlannedInteraction("email_click", "email", device, campaign, click))
    return sorted(planned, key=lambda p: p.occurred_at)


def _source_id(rng: random.Random, source: str, customer: dict[str, Any]) -> str:
    cid = int(customer["id"])
    if source == "web":
        return f"{rng.getrandbits(64):016x}{cid:08x}"  # cookie-like, unique by its tail
    if source == "loyalty":
        return str(customer["loyalty_card"])
    prefix = {"crm": "CRM", "email": "ESP", "orders": "SHOP", "call_center": "CC"}[source]
    return f"{prefix}-{cid:06d}"


def _attributes(customer: dict[str, Any], source: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in SOURCE_FIELDS[source]:
        value = customer.get(key)
        if value is not None:
            out[key] = value.isoformat() if isinstance(value, date) else value
    return out


def build_sources(
    rng: random.Random,
    customer: dict[str, Any],
    sources: list[str],
    orders: list[PlannedOrder],
    interactions: list[PlannedInteraction],
    now: datetime,
    next_id: NextId,
) -> dict[str, dict[str, Any]]:
    """One `source_records` row per source, with what it knows and when it saw the customer."""
    created: datetime = customer["created_at"]
    seen: dict[str, list[datetime]] = {s: [] for s in sources}
    for o in orders:
        for s in ("orders", "loyalty"):
            seen.get(s, []).append(o.ordered_at)
    for i in interactions:
        seen[INTERACTION_SOURCE[i.kind]].append(i.occurred_at)
    records: dict[str, dict[str, Any]] = {}
    for source in sources:
        moments = seen[source]
        if source == "crm":
            first = created
        else:
            first = min(moments) if moments else between(rng, created, now)
        last = max(moments) if moments else between(rng, first, now)
        attributes = _attributes(customer, source)
        if rng.random() < 0.05:
            misspell(rng, attributes, str(customer["country"]))
        records[source] = {
            "id": next_id("source_records"), "customer_id": customer["id"], "source": source,
            "source_id": _source_id(rng, source, customer), "attributes": attributes,
            "first_seen_at": min(first, last), "last_seen_at": last, "link_method": "seed",
            "link_confidence": 1.0,
        }
    return records
