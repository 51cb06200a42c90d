"""GraphQL types of activation: destinations, campaigns, runs, outbox, results, triggers."""

from __future__ import annotations

import datetime
from typing import Annotated

import strawberry

from gateway.api.consent_types import MutationError
from gateway.api.directives import in_category


@strawberry.type(description="Where messages go (configured by the operator; secrets never shown).")
class Destination:
    name: str
    kind: str = strawberry.field(description="webhook or file")
    channel: str = strawberry.field(description="email, sms, push or ads_audience")
    purpose: str
    fields: list[str] = strawberry.field(description="The fields it may receive (its field plan).")
    disabled: bool


@strawberry.type(description="A variant of a campaign: its share and its template.")
class CampaignArm:
    name: str
    weight: int
    template: str


@strawberry.type(description="How many messages are in one status, or excluded for one reason.")
class Count:
    key: str
    count: int


@strawberry.type(description="A campaign: an audience sent to a destination for a purpose.")
class Campaign:
    id: strawberry.ID
    name: str
    destination: str
    purpose: str
    template: str
    audience: str = strawberry.field(description="segment or list")
    segment_id: str | None
    schedule_at: datetime.datetime | None
    holdout: float = strawberry.field(description="The share held out as the control group.")
    arms: list[CampaignArm]
    status: str = strawberry.field(description="draft, scheduled, planned or cancelled")
    created_at: datetime.datetime
    planned_at: datetime.datetime | None
    outbox: list[Count] = strawberry.field(description="Its messages by status.")
    reasons: list[Count] = strawberry.field(description="Why messages did not leave, by code.")


@strawberry.type(description="A dry run or a plan: who would receive, who is excluded and why.")
class CampaignRun:
    campaign: Campaign
    kind: str = strawberry.field(description="dry_run or plan")
    audience: int
    eligible: int
    excluded: list[Count] = strawberry.field(
        description="CONSENT_REQUIRED, OBJECTED, RESTRICTED, CHANNEL_OPTED_OUT, FREQUENCY_CAPPED, "
        "SUPPRESSED, NO_CONTACT: counts only")
    enqueued: int
    already_planned: int
    missing: int = strawberry.field(description="Members without a customer any more (erased).")


@strawberry.type(description="One message or recipient notice in the outbox (no personal value).")
class OutboxMessage:
    id: strawberry.ID = strawberry.field(description="The id the destination received.")
    kind: str = strawberry.field(description="message or notice")
    destination: str
    campaign_id: strawberry.ID | None
    rule: str | None
    step: int | None
    template: str | None
    arm: str | None = in_category("derived", description="The customer's arm of the test.")
    status: str = strawberry.field(
        description="pending, sending, sent, excluded, held_out, cancelled or dead")
    reason: str | None = in_category("preferences", description="Why it did not leave: a code.")
    attempts: int
    planned_at: datetime.datetime
    sent_at: datetime.datetime | None
    last_error: str | None


@strawberry.type(description="One arm's results: counts, conversion rate, uplift with its 95% interval.")
class ArmResult:
    arm: str
    assigned: int
    sent: int
    opens: int
    clicks: int
    conversions: int
    conversion_rate: float | None
    uplift: float | None = strawberry.field(
        description="Conversion rate minus the control's (or the first arm's).")
    uplift_low: float | None
    uplift_high: float | None


@strawberry.type(description="One step of a trigger rule.")
class TriggerStep:
    after_seconds: int
    template: str
    unless: list[str]


@strawberry.type(description="An event-triggered rule of policies/activation.yaml.")
class TriggerRule:
    name: str
    event: str
    conditions: list[str]
    destination: str
    purpose: str
    limit_count: int | None
    limit_period_days: int | None
    steps: list[TriggerStep]


@strawberry.type(description="A destination that received the customer (the outbox is the record).")
class Recipient:
    destination: str = in_category("interactions")
    channel: str = in_category("interactions")
    purpose: str = in_category("interactions")
    messages: int = in_category("interactions")
    first_sent_at: datetime.datetime | None = in_category("interactions")
    last_sent_at: datetime.datetime | None = in_category("interactions")


@strawberry.type(description="A notice sent to a recipient on the customer's behalf (Art. 19).")
class RecipientNotice:
    destination: str = in_category("preferences")
    type: str = in_category("preferences", description="suppression, restriction, rectification or deletion")
    reason: str | None = in_category("preferences")
    status: str = in_category("preferences")
    sent_at: datetime.datetime | None = in_category("preferences")


@strawberry.type(description="Who received a customer, and what they were told since.")
class CustomerRecipients:
    recipients: list[Recipient]
    notices: list[RecipientNotice]


@strawberry.input(description="A variant of a campaign.")
class ArmInput:
    name: str
    weight: int = 1
    template: str


@strawberry.input(description="A campaign for the purpose declared in X-Purpose.")
class CreateCampaignInput:
    name: str
    destination: str
    template: str
    segment_id: str | None = None
    segment_version: int | None = None
    customer_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="An explicit audience: this app's customer ids.")
    schedule_at: datetime.datetime | None = None
    holdout: float = 0.0
    arms: list[ArmInput] | None = None
    conversion_days: int = 7


@strawberry.input(description="An event from a source system.")
class RecordEventInput:
    kind: str
    source: str
    customer_id: strawberry.ID | None = strawberry.field(
        default=None, description="This app's id of the customer (or give messageId).")
    message_id: strawberry.ID | None = strawberry.field(
        default=None, description="The id of the message an open or click answers.")
    occurred_at: datetime.datetime | None = None
    attributes: strawberry.scalars.JSON | None = strawberry.field(
        default=None, description="Codes and numbers the rules test (no free text).")
    source_event_id: str | None = strawberry.field(
        default=None, description="The source's own id: the event is recorded once.")


@strawberry.input(description="An entry of the suppression list.")
class AddSuppressionInput:
    scope: str = strawberry.field(description="customer, email or phone")
    reason: str = strawberry.field(description="hard_bounce, complaint, legal_hold or manual")
    customer_id: strawberry.ID | None = None
    address: str | None = strawberry.field(default=None, description="Stored as its blind index only.")
    channel: str | None = None
    expires_at: datetime.datetime | None = None


@strawberry.type
class CampaignSuccess:
    campaign: Campaign


@strawberry.type
class CampaignRunSuccess:
    run: CampaignRun


@strawberry.type(description="The rules an event fired and the steps each enqueued.")
class TriggerCount:
    rule: str
    steps: int


@strawberry.type
class RecordEventSuccess:
    event_id: strawberry.ID
    duplicate: bool
    triggered: list[TriggerCount]


@strawberry.type
class AddSuppressionSuccess:
    id: strawberry.ID


CampaignResult = Annotated[CampaignSuccess | MutationError, strawberry.union("CampaignResult")]
CampaignRunResult = Annotated[CampaignRunSuccess | MutationError,
                              strawberry.union("CampaignRunResult")]
RecordEventResult = Annotated[RecordEventSuccess | MutationError,
                              strawberry.union("RecordEventResult")]
AddSuppressionResult = Annotated[AddSuppressionSuccess | MutationError,
                                 strawberry.union("AddSuppressionResult")]
