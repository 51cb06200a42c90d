"""Campaigns: an audience, a destination, a purpose, a template (or arms), a schedule.

Creating one validates everything and writes nothing on bad input. A dry run counts who
would receive and who is excluded by which reason, sending nothing. A plan (a run) enqueues
a message for each customer the gate lets through now; the gate decides again when each
message leaves (gateway/activation/worker.py). A plan is idempotent per campaign and
customer: a re-run enqueues only customers not yet planned.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from gateway.activation.audience import (
    Audience,
    ListAudience,
    find_segment,
    require_segment_use,
    segment_audience,
)
from gateway.activation.destinations import Destination, get_destination
from gateway.activation.outbox import cancel_pending
from gateway.activation.planning import count_reasons, enqueue
from gateway.activation.service import Activation, Actor
from gateway.activation.tables import activation_audience, activation_campaigns, activation_runs
from gateway.consent.purposes import Purposes
from gateway.errors import ServiceError
from gateway.policy.codes import Code
from gateway.profile.tables import customers

MAX_LIST = 100_000
MAX_ARMS = 8


@dataclass(frozen=True)
class Arm:
    """A variant of a campaign: its share of the non-held-out customers and its template."""

    name: str
    weight: int
    template: str


@dataclass(frozen=True)
class CampaignInput:
    """A campaign as a caller states it: a segment or an explicit list of customer ids."""

    name: str
    destination: str
    purpose: str
    template: str
    segment_id: str | None = None
    segment_version: int | None = None
    customer_ids: tuple[int, ...] | None = None
    schedule_at: datetime | None = None
    holdout: float = 0.0
    arms: tuple[Arm, ...] = ()
    conversion_days: int = 7


@dataclass(frozen=True)
class Campaign:
    """A stored campaign."""

    id: int
    ref: str
    name: str
    destination_id: int
    purpose: str
    template: str
    audience_kind: str
    segment_id: str | None
    segment_version: int | None
    schedule_at: datetime | None
    holdout: float
    arms: tuple[Arm, ...]
    salt: str
    conversion_days: int
    status: str
    created_at: datetime
    planned_at: datetime | None

    def audience(self, purposes: Purposes) -> Audience:
        """The members' source (a segment is taken under the profiling purpose)."""
        if self.audience_kind == "segment":
            assert self.segment_id is not None
            return segment_audience(purposes, self.segment_id, self.segment_version)
        return ListAudience(self.id)


@dataclass
class RunResult:
    """What a dry run or a plan found: counts per reason, codes and numbers only."""

    campaign: Campaign
    kind: str
    audience: int = 0
    eligible: int = 0
    excluded: dict[str, int] = field(default_factory=dict)
    enqueued: int = 0
    already_planned: int = 0
    missing: int = 0  # members without a customer row (erased since the segment was built)

    def counts(self) -> dict[str, Any]:
        """The audit entry's and the run row's detail."""
        return {"audience": self.audience, "eligible": self.eligible, "excluded": self.excluded,
                "enqueued": self.enqueued, "already_planned": self.already_planned,
                "missing": self.missing}


def _invalid(message: str, field_name: str) -> ServiceError:
    return ServiceError(Code.INVALID_INPUT, message, field_name)


def check_template(activation: Activation, destination: Destination, template: str,
                   field_name: str = "template") -> None:
    """The template exists and the destination may receive every field it fills in."""
    found = activation.rules.templates.get(template)
    if found is None:
        raise _invalid(f"unknown template {template}", field_name)
    missing = [f for f in found.fields if f not in destination.allowed_fields(activation)]
    if missing:
        raise _invalid(f"template {template} needs {', '.join(missing)}, which the destination "
                       f"does not receive", field_name)


def _arms(activation: Activation, destination: Destination, given: CampaignInput) -> tuple[Arm, ...]:
    arms = given.arms or (Arm("A", 1, given.template),)
    if len(arms) > MAX_ARMS:
        raise _invalid(f"at most {MAX_ARMS} arms", "arms")
    names = [a.name for a in arms]
    if len(set(names)) != len(names) or "control" in names:
        raise _invalid("arm names are unique and `control` is the held-out group", "arms")
    for i, arm in enumerate(arms):
        if not arm.name or len(arm.name) > 32 or not 1 <= arm.weight <= 1000:
            raise _invalid("an arm has a name (up to 32 characters) and a weight of 1-1000",
                           f"arms[{i}]")
        check_template(activation, destination, arm.template, f"arms[{i}].template")
    return tuple(arms)


def check_use(conn: Connection, activation: Activation, actor: Actor, destination: Destination,
              purpose: str, audience: Audience) -> None:
    """The caller and the destination may both use what the audience reveals, for `purpose`.

    Sending a segment tells the destination who matches its rule, and a dry run's counts
    tell the caller how many do: every field the rule reads (and all it reveals) must be
    usable by both, decided now (the segment's current version or the policy may have
    changed since the campaign was created).
    """
    require_segment_use(conn, activation.policy, (actor.role, destination.role),
                        activation.purposes.by_name[purpose], audience)


def _check_audience(conn: Connection, activation: Activation, actor: Actor,
                    destination: Destination, given: CampaignInput) -> None:
    if (given.segment_id is None) == (given.customer_ids is None):
        raise _invalid("give either a segment or a list of customers", "segmentId")
    if given.segment_id is not None:
        find_segment(conn, given.segment_id, given.segment_version)  # NOT_FOUND first
        check_use(conn, activation, actor, destination, given.purpose,
                  segment_audience(activation.purposes, given.segment_id, given.segment_version))
        return
    ids = given.customer_ids or ()
    if not ids or len(ids) > MAX_LIST:
        raise _invalid(f"a list audience holds 1-{MAX_LIST} customers", "customerIds")
    found: set[int] = set()
    wanted = sorted(set(ids))
    for start in range(0, len(wanted), 5000):
        chunk = wanted[start:start + 5000]
        found.update(conn.execute(select(customers.c.id).where(customers.c.id.in_(chunk))).scalars())
    if len(found) != len(wanted):
        raise ServiceError(Code.NOT_FOUND, "no customer with this id", "customerIds")


def create_campaign(conn: Connection, activation: Activation, actor: Actor,
                    given: CampaignInput) -> Campaign:
    """Validate and store a campaign (draft, or scheduled when it has a time)."""
    if not given.name.strip() or len(given.name) > 100:
        raise _invalid("a name of 1-100 characters", "name")
    destination = get_destination(conn, name=given.destination)
    if destination.disabled:
        raise _invalid("the destination is disabled", "destination")
    if activation.purposes.get(given.purpose) is None:
        raise ServiceError(Code.PURPOSE_UNKNOWN, "unknown purpose", "purpose")
    if given.purpose != destination.purpose:
        raise _invalid(f"the destination serves {destination.purpose}, not {given.purpose}", "purpose")
    check_template(activation, destination, given.template)
    arms = _arms(activation, destination, given)
    if not 0.0 <= given.holdout <= 0.5:
        raise _invalid("the held-out share is between 0 and 0.5", "holdout")
    if not 1 <= given.conversion_days <= 90:
        raise _invalid("the conversion window is 1-90 days", "conversionDays")
    _check_audience(conn, activation, actor, destination, given)
    now = activation.clock.now()
    ref = str(uuid.uuid4())
    new_id = int(conn.execute(insert(activation_campaigns).values(
        ref=ref, name=given.name.strip(), destination_id=destination.id, purpose=given.purpose,
        template=given.template, audience_kind="segment" if given.segment_id else "list",
        segment_id=given.segment_id, segment_version=given.segment_version,
        schedule_at=given.schedule_at, holdout=given.holdout,
        arms=[{"name": a.name, "weight": a.weight, "template": a.template} for a in arms],
        salt=secrets.token_hex(16), conversion_days=given.conversion_days,
        status="scheduled" if given.schedule_at else "draft", created_at=now,
        created_by=actor.name,
    ).returning(activation_campaigns.c.id)).scalar_one())
    if given.customer_ids is not None:
        rows = [{"campaign_id": new_id, "customer_id": c} for c in sorted(set(given.customer_ids))]
        for start in range(0, len(rows), 5000):
            conn.execute(insert(activation_audience), rows[start:start + 5000])
    activation.audit(conn, "campaign", actor, detail={
        "campaign": ref, "destination": destination.name, "template": given.template,
        "arms": [a.name for a in arms], "holdout": given.holdout,
        "audience": "segment" if given.segment_id else "list"})
    return get_campaign(conn, ref)


def _shape(row: Any) -> Campaign:
    return Campaign(
        id=int(row.id), ref=row.ref, name=row.name, destination_id=int(row.destination_id),
        purpose=row.purpose, template=row.template, audience_kind=row.audience_kind,
        segment_id=row.segment_id, segment_version=row.segment_version,
        schedule_at=row.schedule_at, holdout=float(row.holdout),
        arms=tuple(Arm(a["name"], int(a["weight"]), a["template"]) for a in row.arms),
        salt=row.salt, conversion_days=int(row.conversion_days), status=row.status,
        created_at=row.created_at, planned_at=row.planned_at,
    )


def get_campaign(conn: Connection, ref: str) -> Campaign:
    """A campaign by its public id; NOT_FOUND when there is none."""
    row = conn.execute(select(activation_campaigns).where(activation_campaigns.c.ref == ref)).first()
    if row is None:
        raise ServiceError(Code.NOT_FOUND, "no campaign with this id", "campaignId")
    return _shape(row)


def get_campaign_by_id(conn: Connection, campaign_id: int) -> Campaign:
    """A campaign by its internal id."""
    row = conn.execute(select(activation_campaigns)
                       .where(activation_campaigns.c.id == campaign_id)).one()
    return _shape(row)


def list_campaigns(conn: Connection, *, purposes: Iterable[str] | None = None,
                   limit: int = 100) -> list[Campaign]:
    """Campaigns, newest first, of `purposes` (None: all)."""
    c = activation_campaigns.c
    stmt = select(activation_campaigns).order_by(c.id.desc()).limit(limit)
    if purposes is not None:
        stmt = stmt.where(c.purpose.in_(sorted(purposes)))
    return [_shape(r) for r in conn.execute(stmt)]


def _record(conn: Connection, activation: Activation, actor: Actor, result: RunResult,
            started: datetime) -> None:
    detail = {"campaign": result.campaign.ref, **result.counts()}
    seq = activation.audit(conn, "dry_run" if result.kind == "dry_run" else "run", actor,
                           detail=detail)
    conn.execute(insert(activation_runs).values(
        campaign_id=result.campaign.id, kind=result.kind, started_at=started,
        finished_at=activation.clock.now(), counts=result.counts(), actor=actor.name,
        audit_seq=seq or None))


def dry_run(conn: Connection, activation: Activation, actor: Actor, ref: str) -> RunResult:
    """Who would receive the campaign now, and who is excluded by which reason; sends nothing."""
    campaign = get_campaign(conn, ref)
    destination = get_destination(conn, destination_id=campaign.destination_id)
    check_use(conn, activation, actor, destination, campaign.purpose,
              campaign.audience(activation.purposes))
    started = activation.clock.now()
    result = RunResult(campaign, "dry_run")
    count_reasons(conn, activation, campaign, destination, result, started)
    _record(conn, activation, actor, result, started)
    return result


def plan_campaign(conn: Connection, activation: Activation, actor: Actor, ref: str) -> RunResult:
    """Enqueue the campaign's messages for everyone the gate lets through now (idempotent)."""
    campaign = get_campaign(conn, ref)
    if campaign.status == "cancelled":
        raise ServiceError(Code.INVALID_INPUT, "the campaign was cancelled", "campaignId")
    destination = get_destination(conn, destination_id=campaign.destination_id)
    if destination.disabled:
        raise ServiceError(Code.INVALID_INPUT, "the destination is disabled", "destination")
    check_use(conn, activation, actor, destination, campaign.purpose,
              campaign.audience(activation.purposes))
    started = activation.clock.now()
    result = RunResult(campaign, "plan")
    count_reasons(conn, activation, campaign, destination, result, started)
    enqueue(conn, activation, campaign, destination, result, started)
    conn.execute(update(activation_campaigns).where(activation_campaigns.c.id == campaign.id)
                 .values(status="planned", planned_at=campaign.planned_at or started))
    _record(conn, activation, actor, result, started)
    result.campaign = get_campaign(conn, ref)
    return result


def cancel_campaign(conn: Connection, activation: Activation, actor: Actor, ref: str) -> Campaign:
    """Cancel a campaign: its messages not yet sent are cancelled too."""
    campaign = get_campaign(conn, ref)
    conn.execute(update(activation_campaigns).where(activation_campaigns.c.id == campaign.id)
                 .values(status="cancelled"))
    cancelled = cancel_pending(conn, campaign_id=campaign.id)
    activation.audit(conn, "cancel", actor, detail={"campaign": ref, "cancelled": cancelled})
    return get_campaign(conn, ref)


def due_campaigns(conn: Connection, now: datetime) -> list[str]:
    """Refs of scheduled campaigns whose time has come."""
    c = activation_campaigns.c
    return list(conn.execute(select(c.ref).where(c.status == "scheduled", c.schedule_at <= now)
                             .order_by(c.schedule_at)).scalars())
