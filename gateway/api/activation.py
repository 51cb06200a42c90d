"""Root fields of activation: check the policy, call gateway/activation, shape.

Who may do what is policy: `campaign` (plan, run, read), `destination` (read), `outbox`
(read), `activation_result` (read), `activation_event` (write), `suppression` (read, write),
`recipients` (read). Marketing works on the campaigns of the purpose it declares; a
compliance officer (compliance_audit) sees them all; analytics reads results only. The
request's own audit entry records what was done (counts per reason, never values).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import strawberry
from sqlalchemy import select
from strawberry.types import Info

from gateway.activation import campaigns as service
from gateway.activation import outbox as box
from gateway.activation.destinations import get_destination, list_destinations
from gateway.activation.events import EventInput, record_event
from gateway.activation.experiments import results
from gateway.activation.service import Activation, Actor
from gateway.activation.suppression import SuppressionInput, add_suppression
from gateway.activation.views import message_page, recipients_of
from gateway.api.activation_types import (
    AddSuppressionInput,
    AddSuppressionResult,
    AddSuppressionSuccess,
    ArmResult,
    Campaign,
    CampaignArm,
    CampaignResult,
    CampaignRun,
    CampaignRunResult,
    CampaignRunSuccess,
    CampaignSuccess,
    Count,
    CreateCampaignInput,
    CustomerRecipients,
    Destination,
    OutboxMessage,
    Recipient,
    RecipientNotice,
    RecordEventInput,
    RecordEventResult,
    RecordEventSuccess,
    TriggerCount,
    TriggerRule,
    TriggerStep,
)
from gateway.api.consent_types import MutationError
from gateway.api.context import RequestContext
from gateway.errors import ServiceError
from gateway.policy.codes import Code
from gateway.privacy.pseudonyms import InvalidPseudonym

Ctx = Info[RequestContext, Any]
T = TypeVar("T")
OFFICER_PURPOSE = "compliance_audit"
MAX_PAGE = 200


def _activation(ctx: RequestContext) -> Activation:
    found = ctx.services.activation
    if found is None:
        raise ServiceError(Code.INTERNAL, "activation is not configured in this process")
    return found


def _require(ctx: RequestContext, obj: str, action: str) -> str:
    """The declared purpose, when the policy allows `action` on `obj` for it."""
    declared = ctx.purpose_header
    if not declared:
        raise ServiceError(Code.PURPOSE_REQUIRED, "declare the purpose in the X-Purpose header")
    if ctx.services.purposes.get(declared) is None:
        raise ServiceError(Code.PURPOSE_UNKNOWN, "unknown purpose in X-Purpose")
    if not ctx.services.policy.decide(ctx.caller.role, declared, obj, action).allowed:
        raise ServiceError(Code.POLICY_DENIED, f"this app may not {action} {obj} for this purpose")
    return declared


def _actor(ctx: RequestContext) -> Actor:
    c = ctx.caller
    return Actor(c.name, c.role, ctx.audit.purpose, "app", request_audited=True)


def _begin(ctx: RequestContext, operation: str, action: str) -> None:
    ctx.begin(operation)
    ctx.audit.action = f"activation.{action}"


def _attempt(ctx: RequestContext, work: Callable[[], T]) -> T | MutationError:
    try:
        return work()
    except ServiceError as exc:
        ctx.audit.extra["refused"] = exc.code.value  # a code only: never the input's values
        return MutationError(code=exc.code.value, field=exc.field, message=exc.message)


def _customer(ctx: RequestContext, token: str, field: str = "customerId") -> int:
    try:
        return ctx.services.pseudonyms.for_app(ctx.caller.app_id).resolve_customer(token)
    except InvalidPseudonym as exc:
        raise ServiceError(Code.NOT_FOUND, "no customer with this id", field) from exc


def _visible(ctx: RequestContext, declared: str, ref: str) -> service.Campaign:
    """The campaign if this caller may see it: its purpose's, or all for an officer/analytics."""
    found = service.get_campaign(ctx.conn, ref)
    if declared not in (OFFICER_PURPOSE, "analytics") and found.purpose != declared:
        raise ServiceError(Code.NOT_FOUND, "no campaign with this id", "campaignId")
    return found


def _counts(values: dict[str, int]) -> list[Count]:
    return [Count(key=k, count=v) for k, v in sorted(values.items())]


def _shape(ctx: RequestContext, found: service.Campaign) -> Campaign:
    destination = get_destination(ctx.conn, destination_id=found.destination_id)
    return Campaign(
        id=strawberry.ID(found.ref), name=found.name, destination=destination.name,
        purpose=found.purpose, template=found.template, audience=found.audience_kind,
        segment_id=found.segment_id, schedule_at=found.schedule_at, holdout=found.holdout,
        arms=[CampaignArm(name=a.name, weight=a.weight, template=a.template) for a in found.arms],
        status=found.status, created_at=found.created_at, planned_at=found.planned_at,
        outbox=_counts(box.status_counts(ctx.conn, campaign_id=found.id)),
        reasons=_counts(box.reason_counts(ctx.conn, found.id)),
    )


def _run(ctx: RequestContext, result: service.RunResult) -> CampaignRun:
    ctx.audit.extra.update({"campaign": result.campaign.ref, **result.counts()})
    return CampaignRun(
        campaign=_shape(ctx, result.campaign), kind=result.kind, audience=result.audience,
        eligible=result.eligible, excluded=_counts(result.excluded), enqueued=result.enqueued,
        already_planned=result.already_planned, missing=result.missing,
    )


@strawberry.type
class ActivationQuery:
    @strawberry.field(description="The destinations messages may go to.")
    def destinations(self, info: Ctx) -> list[Destination]:
        ctx = info.context
        _begin(ctx, "destinations", "read")
        _require(ctx, "destination", "read")
        return [Destination(name=d.name, kind=d.kind, channel=d.channel, purpose=d.purpose,
                            fields=list(d.fields), disabled=d.disabled)
                for d in list_destinations(ctx.conn)]

    @strawberry.field(description="Campaigns of the declared purpose (all of them for an officer).")
    def campaigns(self, info: Ctx, first: int = 50) -> list[Campaign]:
        ctx = info.context
        _begin(ctx, "campaigns", "read")
        declared = _require(ctx, "campaign", "read")
        scope = None if declared == OFFICER_PURPOSE else {declared}
        found = service.list_campaigns(ctx.conn, purposes=scope, limit=max(1, min(first, MAX_PAGE)))
        return [_shape(ctx, c) for c in found]

    @strawberry.field(description="One campaign with its outbox by status and reason.")
    def campaign(self, info: Ctx, id: strawberry.ID) -> Campaign:
        ctx = info.context
        _begin(ctx, "campaign", "read")
        declared = _require(ctx, "campaign", "read")
        return _shape(ctx, _visible(ctx, declared, str(id)))

    @strawberry.field(description="Per arm: sends, opens, clicks, conversions, uplift and interval.")
    def campaign_results(self, info: Ctx, id: strawberry.ID) -> list[ArmResult]:
        ctx = info.context
        _begin(ctx, "campaignResults", "read")
        declared = _require(ctx, "activation_result", "read")
        found = _visible(ctx, declared, str(id))
        return [ArmResult(**vars(r)) for r in results(ctx.conn, found)]

    @strawberry.field(description="Messages of a campaign (or of a customer), newest first.")
    def outbox_messages(self, info: Ctx, campaign_id: strawberry.ID | None = None,
                        customer_id: strawberry.ID | None = None, status: str | None = None,
                        first: int = 50) -> list[OutboxMessage]:
        ctx = info.context
        _begin(ctx, "outboxMessages", "read")
        declared = _require(ctx, "outbox", "read")
        if status is not None and status not in box.STATUSES:
            raise ServiceError(Code.INVALID_INPUT, f"status is one of {', '.join(box.STATUSES)}", "status")
        campaign = _visible(ctx, declared, str(campaign_id)) if campaign_id is not None else None
        internal = _customer(ctx, str(customer_id)) if customer_id is not None else None
        if internal is not None:
            ctx.audit.subjects.append((internal, Code.ALLOWED.value))
        purposes = None if declared == OFFICER_PURPOSE else {declared}
        rows = message_page(ctx.conn, _activation(ctx), campaign_id=campaign.id if campaign else None,
                            customer_id=internal, status=status, purposes=purposes,
                            limit=max(1, min(first, MAX_PAGE)))
        return [OutboxMessage(**{**r, "id": strawberry.ID(r["id"]), "campaign_id": (
            strawberry.ID(r["campaign_id"]) if r["campaign_id"] else None)}) for r in rows]

    @strawberry.field(description="The event-triggered rules (policies/activation.yaml).")
    def triggers(self, info: Ctx) -> list[TriggerRule]:
        ctx = info.context
        _begin(ctx, "triggers", "read")
        declared = _require(ctx, "campaign", "read")
        rules = _activation(ctx).rules.rules.values()
        return [
            TriggerRule(
                name=r.name, event=r.event, destination=r.destination, purpose=r.purpose,
                conditions=[f"{c.attribute} {c.op} {c.value}" for c in r.conditions],
                limit_count=r.limit[0] if r.limit else None,
                limit_period_days=r.limit[1] if r.limit else None,
                steps=[TriggerStep(after_seconds=int(s.after.total_seconds()), template=s.template,
                                   unless=list(s.unless)) for s in r.steps],
            )
            for r in rules if declared == OFFICER_PURPOSE or r.purpose == declared
        ]

    @strawberry.field(description="Officers: the destinations that received a customer, and the "
                      "notices sent to them since (Art. 19).")
    def customer_recipients(self, info: Ctx, customer_id: strawberry.ID) -> CustomerRecipients:
        ctx = info.context
        _begin(ctx, "customerRecipients", "read")
        _require(ctx, "recipients", "read")
        internal = _customer(ctx, str(customer_id))
        ctx.audit.subjects.append((internal, Code.ALLOWED.value))
        found = recipients_of(ctx.conn, internal)
        return CustomerRecipients(
            recipients=[Recipient(**r) for r in found["recipients"]],
            notices=[RecipientNotice(**n) for n in found["notices"]],
        )


@strawberry.type
class ActivationMutation:
    @strawberry.mutation(description="Create a campaign for the declared purpose.")
    def create_campaign(self, info: Ctx, input: CreateCampaignInput) -> CampaignResult:
        ctx = info.context
        _begin(ctx, "createCampaign", "campaign")

        def work() -> CampaignSuccess:
            declared = _require(ctx, "campaign", "plan")
            ids = (tuple(_customer(ctx, str(i), "customerIds") for i in input.customer_ids)
                   if input.customer_ids is not None else None)
            given = service.CampaignInput(
                name=input.name, destination=input.destination, purpose=declared,
                template=input.template, segment_id=input.segment_id,
                segment_version=input.segment_version, customer_ids=ids,
                schedule_at=input.schedule_at, holdout=input.holdout,
                arms=tuple(service.Arm(a.name, a.weight, a.template) for a in input.arms or ()),
                conversion_days=input.conversion_days,
            )
            found = service.create_campaign(ctx.conn, _activation(ctx), _actor(ctx), given)
            ctx.audit.extra["campaign"] = found.ref
            return CampaignSuccess(campaign=_shape(ctx, found))

        return _attempt(ctx, work)

    @strawberry.mutation(description="Who would receive the campaign now, excluded by reason; sends nothing.")
    def dry_run_campaign(self, info: Ctx, id: strawberry.ID) -> CampaignRunResult:
        ctx = info.context
        _begin(ctx, "dryRunCampaign", "dry_run")

        def work() -> CampaignRunSuccess:
            declared = _require(ctx, "campaign", "plan")
            _visible(ctx, declared, str(id))
            return CampaignRunSuccess(run=_run(ctx, service.dry_run(
                ctx.conn, _activation(ctx), _actor(ctx), str(id))))

        return _attempt(ctx, work)

    @strawberry.mutation(description="Plan the campaign now: a message per allowed customer (idempotent).")
    def run_campaign(self, info: Ctx, id: strawberry.ID) -> CampaignRunResult:
        ctx = info.context
        _begin(ctx, "runCampaign", "run")

        def work() -> CampaignRunSuccess:
            declared = _require(ctx, "campaign", "run")
            _visible(ctx, declared, str(id))
            return CampaignRunSuccess(run=_run(ctx, service.plan_campaign(
                ctx.conn, _activation(ctx), _actor(ctx), str(id))))

        return _attempt(ctx, work)

    @strawberry.mutation(description="Cancel the campaign and its messages not yet sent.")
    def cancel_campaign(self, info: Ctx, id: strawberry.ID) -> CampaignResult:
        ctx = info.context
        _begin(ctx, "cancelCampaign", "cancel")

        def work() -> CampaignSuccess:
            declared = _require(ctx, "campaign", "run")
            _visible(ctx, declared, str(id))
            found = service.cancel_campaign(ctx.conn, _activation(ctx), _actor(ctx), str(id))
            return CampaignSuccess(campaign=_shape(ctx, found))

        return _attempt(ctx, work)

    @strawberry.mutation(description="Record an event from a source system; fires trigger rules.")
    def record_event(self, info: Ctx, input: RecordEventInput) -> RecordEventResult:
        ctx = info.context
        _begin(ctx, "recordEvent", "event")

        def work() -> RecordEventSuccess:
            _require(ctx, "activation_event", "write")
            attributes: Any = input.attributes if input.attributes is not None else {}
            if not isinstance(attributes, dict):
                raise ServiceError(Code.INVALID_INPUT, "attributes is a JSON object", "attributes")
            given = EventInput(
                kind=input.kind, source=input.source,
                customer_id=_customer(ctx, str(input.customer_id)) if input.customer_id else None,
                message=str(input.message_id) if input.message_id else None,
                occurred_at=input.occurred_at, attributes=attributes,
                source_event_id=input.source_event_id,
            )
            done = record_event(ctx.conn, _activation(ctx), _actor(ctx), given)
            customer = _event_customer(ctx, done.event_id)
            ctx.audit.subjects.append((customer, Code.ALLOWED.value))
            ctx.audit.extra.update({"kind": input.kind, "triggered": done.triggered})
            return RecordEventSuccess(
                event_id=strawberry.ID(str(done.event_id)), duplicate=done.duplicate,
                triggered=[TriggerCount(rule=k, steps=v) for k, v in sorted(done.triggered.items())])

        return _attempt(ctx, work)

    @strawberry.mutation(description="Add an entry to the suppression list (it always wins).")
    def add_suppression(self, info: Ctx, input: AddSuppressionInput) -> AddSuppressionResult:
        ctx = info.context
        _begin(ctx, "addSuppression", "suppress")

        def work() -> AddSuppressionSuccess:
            _require(ctx, "suppression", "write")
            internal = _customer(ctx, str(input.customer_id)) if input.customer_id else None
            given = SuppressionInput(scope=input.scope, reason=input.reason, customer_id=internal,
                                     address=input.address, channel=input.channel,
                                     expires_at=input.expires_at)
            new_id = add_suppression(ctx.conn, _activation(ctx), _actor(ctx), given)
            if internal is not None:
                ctx.audit.subjects.append((internal, Code.ALLOWED.value))
            ctx.audit.extra.update({"scope": input.scope, "reason": input.reason})
            return AddSuppressionSuccess(id=strawberry.ID(str(new_id)))

        return _attempt(ctx, work)


def _event_customer(ctx: RequestContext, event_id: int) -> int:
    from gateway.activation.tables import activation_events

    e = activation_events.c
    return int(ctx.conn.execute(select(e.customer_id).where(e.id == event_id)).scalar_one())
