"""The GraphQL types of the customer profile. Personal fields carry `@category`."""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Callable
from enum import Enum
from typing import Any

import strawberry

from gateway.api import segmentation_types as seg
from gateway.api.directives import in_category, personal


@strawberry.type(description="An order, as the orders system knows it.")
class Order:
    number: str = in_category("transactions")
    ordered_at: datetime.datetime = in_category("transactions")
    status: str = in_category("transactions")
    channel: str = in_category("transactions")
    item_count: int = in_category("transactions")
    total: decimal.Decimal = in_category("transactions")
    currency: str = in_category("transactions")


@strawberry.type(description="An email open or click, a web visit or a call-center contact.")
class Interaction:
    kind: str = in_category("interactions")
    channel: str = in_category("interactions")
    device: str | None = in_category("interactions")
    campaign: str | None = in_category("interactions")
    occurred_at: datetime.datetime = in_category("interactions")


@strawberry.type(description="The customer's current consent for one purpose, from the ledger.")
class ConsentState:
    purpose: str = in_category("preferences")
    status: str = in_category("preferences", description="granted, denied, withdrawn, expired or superseded")
    notice_version: int = in_category("preferences")
    updated_at: datetime.datetime = in_category("preferences")
    expires_at: datetime.datetime | None = in_category(
        "preferences", lineage=("location",),
        description="Follows the term of the notice in the customer's jurisdiction: given only where location may be read.")


@strawberry.type(description="The customer's current choice for one contact channel, from the ledger.")
class ChannelPreference:
    channel: str = in_category("preferences", description="email, sms, push, phone or post")
    opted_in: bool = in_category("preferences")
    cap_count: int | None = in_category("preferences", description="At most this many messages per period.")
    cap_period_days: int | None = in_category("preferences", description="The length of the frequency-cap period.")
    updated_at: datetime.datetime = in_category("preferences")


@strawberry.type(description="A source system that knows this customer, and since when.")
class SourceRecord:
    source: str = in_category("identity")
    first_seen_at: datetime.datetime = in_category("identity")
    last_seen_at: datetime.datetime = in_category("identity")
    link_method: str = in_category("identity")
    link_confidence: float = in_category("identity")


@strawberry.type(description="The unified profile of one customer, as this caller may see it.")
class Customer:
    id: strawberry.ID = strawberry.field(
        description="A pseudonym made for the calling app alone; other apps cannot resolve it."
    )
    first_name: str | None = personal("firstName")
    last_name: str | None = personal("lastName")
    birth_date: datetime.date | None = personal("birthDate")
    loyalty_card_number: str | None = personal("loyaltyCardNumber")
    email: str | None = personal("email")
    phone: str | None = personal("phone")
    street: str | None = personal("street")
    city: str | None = personal("city")
    postcode: str | None = personal("postcode")
    region: str | None = personal("region")
    country: str | None = personal("country")
    latitude: float | None = personal("latitude")
    longitude: float | None = personal("longitude")
    language: str | None = personal("language")
    interests: list[str] | None = personal("interests")
    preferred_channel: str | None = personal("preferredChannel")
    consents: list[ConsentState] | None = personal("consents")
    channels: list[ChannelPreference] | None = personal("channels")
    customer_since: datetime.datetime | None = personal("customerSince")
    loyalty_tier: str | None = personal("loyaltyTier")
    loyalty_points: int | None = personal("loyaltyPoints")
    order_count: int | None = personal("orderCount")
    total_spent: decimal.Decimal | None = personal("totalSpent")
    last_order_at: datetime.datetime | None = personal("lastOrderAt")
    orders: list[Order] | None = personal("orders")
    last_seen_at: datetime.datetime | None = personal("lastSeenAt")
    interactions: list[Interaction] | None = personal("interactions")
    lifecycle_stage: str | None = personal("lifecycleStage")
    rfm_segment: str | None = personal("rfmSegment")
    rfm_recency: int | None = personal("rfmRecency")
    rfm_frequency: int | None = personal("rfmFrequency")
    rfm_monetary: int | None = personal("rfmMonetary")
    sources: list[SourceRecord] | None = personal("sources")
    channel_affinity: seg.ChannelAffinity | None = personal(
        "channelAffinity", description="Engagement per channel, preferred device, best hour.")
    loyalty_milestones: list[str] | None = personal("loyaltyMilestones")
    persona: seg.Persona | None = personal("persona")
    segments: list[seg.SegmentMembership] | None = personal(
        "segments", description="The saved segments the customer is in, among those whose "
        "every field this app may read for this purpose.")
    scores: list[seg.Score] | None = personal("scores")
    next_best_action: seg.NextBestAction | None = personal("nextBestAction")


@strawberry.type
class PageInfo:
    end_cursor: str | None
    has_next_page: bool


@strawberry.type(description="A page of customers. Searches see only customers whose choices allow the purpose.")
class CustomerConnection:
    nodes: list[Customer]
    page_info: PageInfo
    count: strawberry.Private[Callable[[], int]]

    @strawberry.field(description="How many customers match (without paging).")
    def total_count(self) -> int:
        return self.count()


@strawberry.input(description="Exact-match filters. Filtering by a field needs the right to read it (identifiers: in the clear).")
class CustomerFilter:
    email: str | None = strawberry.UNSET
    phone: str | None = strawberry.UNSET
    loyalty_card_number: str | None = strawberry.UNSET
    city: str | None = strawberry.UNSET
    postcode: str | None = strawberry.UNSET
    region: str | None = strawberry.UNSET
    country: str | None = strawberry.UNSET
    lifecycle_stage: str | None = strawberry.UNSET
    rfm_segment: str | None = strawberry.UNSET
    loyalty_tier: str | None = strawberry.UNSET
    preferred_channel: str | None = strawberry.UNSET
    language: str | None = strawberry.UNSET


@strawberry.enum
class CustomerSortField(Enum):
    # No names, emails or phones: they are stored encrypted (gateway/profile/identity.py),
    # so the database cannot order by them, and offering a sort that always fails misleads.
    CUSTOMER_SINCE = "customerSince"
    CITY = "city"
    TOTAL_SPENT = "totalSpent"
    LAST_ORDER_AT = "lastOrderAt"
    RFM_MONETARY = "rfmMonetary"
    LOYALTY_POINTS = "loyaltyPoints"
    LAST_SEEN_AT = "lastSeenAt"


@strawberry.enum
class SortDirection(Enum):
    ASC = "asc"
    DESC = "desc"


@strawberry.input
class CustomerOrder:
    field: CustomerSortField
    direction: SortDirection = SortDirection.ASC


NESTED_TYPES: dict[str, Callable[..., Any]] = {
    "orders": Order,
    "interactions": Interaction,
    "consents": ConsentState,
    "channels": ChannelPreference,
    "sources": SourceRecord,
    "channelAffinity": seg.channel_affinity,
    "persona": seg.Persona,
    "segments": seg.membership,
    "scores": seg.score,
    "nextBestAction": seg.next_best_action,
}
# Nested fields that hold one object, not a list (their loaders answer a one-item list).
SINGLE = frozenset({"channelAffinity", "persona", "nextBestAction"})
