"""Events from source systems, and the trigger rules they fire.

An event is a kind (purchase, cart_abandoned, email_click, ...), a customer (by the calling
app's pseudonym, or through the id of a message an open or click answers), a time, and a
few attributes that rules test (codes and numbers: never free text). Recording it stores
it and, in the same transaction, enqueues every step of every rule it fires as an outbox
message due at the event's time plus the step's delay. Whether each step is still wanted
(its `unless` events, the rule's limit, the customer's choices and caps) is decided when it
is due, at the gate, like any message.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from gateway.activation.decide import resolve_token
from gateway.activation.destinations import get_destination
from gateway.activation.rules import EVENT_KINDS
from gateway.activation.service import Activation, Actor
from gateway.activation.tables import activation_events, activation_messages
from gateway.errors import ServiceError
from gateway.policy.codes import Code
from gateway.profile.tables import customers

MAX_ATTRIBUTES = 20
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_CODE = re.compile(r"^[A-Za-z0-9_.:-]{0,64}$")


@dataclass(frozen=True)
class EventInput:
    """An event as a source system states it."""

    kind: str
    source: str
    customer_id: int | None = None
    message: str | None = None  # the public id of the message an open or click answers
    occurred_at: datetime | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    source_event_id: str | None = None


@dataclass(frozen=True)
class Recorded:
    """The stored event and the trigger steps it enqueued."""

    event_id: int
    duplicate: bool
    triggered: dict[str, int]  # rule -> steps enqueued


def _invalid(message: str, field_name: str) -> ServiceError:
    return ServiceError(Code.INVALID_INPUT, message, field_name)


def _check_attributes(attributes: dict[str, Any]) -> dict[str, Any]:
    if len(attributes) > MAX_ATTRIBUTES:
        raise _invalid(f"at most {MAX_ATTRIBUTES} attributes", "attributes")
    for key, value in attributes.items():
        if not isinstance(key, str) or not _KEY.match(key):
            raise _invalid("attribute names are lower-case words", "attributes")
        if isinstance(value, bool) or value is None or isinstance(value, (int, float)):
            continue
        # Codes only: a free text (a name, an address, a message) has no place here.
        if not isinstance(value, str) or not _CODE.match(value):
            raise _invalid(f"attribute {key}: numbers, true/false or codes without spaces",
                           "attributes")
    return dict(attributes)


def _subject(conn: Connection, activation: Activation, given: EventInput) -> tuple[int, int | None, int | None]:
    """(customer id, campaign id, message id) of the event."""
    if (given.customer_id is None) == (given.message is None):
        raise _invalid("name the customer or the message the event answers", "customerId")
    if given.message is not None:
        message_id = resolve_token(activation, conn, given.message)
        m = activation_messages.c
        row = conn.execute(select(m.customer_id, m.campaign_id).where(m.id == message_id)).first() \
            if message_id is not None else None
        if row is None or row.customer_id is None:
            raise ServiceError(Code.NOT_FOUND, "no message with this id", "messageId")
        return int(row.customer_id), row.campaign_id, message_id
    found = conn.execute(select(customers.c.id).where(customers.c.id == given.customer_id)).first()
    if found is None:
        raise ServiceError(Code.NOT_FOUND, "no customer with this id", "customerId")
    return int(found.id), None, None


def record_event(conn: Connection, activation: Activation, actor: Actor,
                 given: EventInput) -> Recorded:
    """Validate and store an event; enqueue the trigger steps it fires (same transaction)."""
    if given.kind not in EVENT_KINDS:
        raise _invalid(f"kind must be one of {', '.join(EVENT_KINDS)}", "kind")
    if not given.source or not _CODE.match(given.source) or len(given.source) > 32:
        raise _invalid("source is a short code naming the system", "source")
    attributes = _check_attributes(given.attributes)
    now = activation.clock.now()
    occurred = given.occurred_at or now
    if occurred.tzinfo is None:
        raise _invalid("a time with its offset", "occurredAt")
    if occurred > now:
        raise _invalid("an event cannot lie in the future", "occurredAt")
    customer_id, campaign_id, message_id = _subject(conn, activation, given)
    dedupe = None
    if given.source_event_id:
        dedupe = hashlib.sha256(f"{given.source}:{given.source_event_id}".encode()).hexdigest()
        e = activation_events.c
        seen = conn.execute(select(e.id).where(e.dedupe == dedupe)).first()
        if seen is not None:
            return Recorded(int(seen.id), True, {})
    event_id = int(conn.execute(insert(activation_events).values(
        customer_id=customer_id, kind=given.kind, occurred_at=occurred, recorded_at=now,
        source=given.source, campaign_id=campaign_id, message_id=message_id,
        attributes=attributes, dedupe=dedupe,
    ).returning(activation_events.c.id)).scalar_one())
    triggered = _fire(conn, activation, event_id, customer_id, given.kind, occurred, attributes)
    activation.audit(conn, "event", actor, subjects=[customer_id], detail={
        "kind": given.kind, "source": given.source, "triggered": triggered})
    return Recorded(event_id, False, triggered)


def _fire(conn: Connection, activation: Activation, event_id: int, customer_id: int, kind: str,
          occurred: datetime, attributes: dict[str, Any]) -> dict[str, int]:
    """Enqueue the steps of every rule the event fires."""
    builder: Any = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    now = activation.clock.now()
    triggered: dict[str, int] = {}
    for rule in activation.rules.for_event(kind):
        if not rule.matches(kind, attributes):
            continue
        try:
            destination = get_destination(conn, name=rule.destination)
        except ServiceError:
            continue  # `activation triggers check` reports a rule without its destination
        if destination.disabled or destination.purpose != rule.purpose:
            continue
        if not activation.policy.decide_all(destination.role, rule.purpose, EVENT_KINDS[kind]).allowed:
            continue
        count = 0
        for index, step in enumerate(rule.steps):
            due = max(occurred + step.after, now)
            stmt = builder(activation_messages).values(
                kind="message", dedupe=f"t{event_id}:{rule.name}:{index}",
                destination_id=destination.id, rule=rule.name, step=index, event_id=event_id,
                customer_id=customer_id, channel=destination.channel, purpose=rule.purpose,
                template=step.template, status="pending", not_before=due, next_attempt_at=due,
                attempts=0, planned_at=now,
            ).on_conflict_do_nothing(index_elements=["dedupe"]).returning(activation_messages.c.id)
            count += len(conn.execute(stmt).all())  # rowcount: none on PostgreSQL here
        triggered[rule.name] = count
    return triggered
