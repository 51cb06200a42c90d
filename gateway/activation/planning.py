"""A campaign's audience through the gate, in bulk: counts per reason, and the enqueue.

Both run as SQL over `customers` restricted to the audience: in one statement when the
audience has an SQL form (an explicit list), else chunk by chunk over the streamed ids (a
segment). Each group of facts is decided by `gateway.activation.gate.reason`; the enqueue
inserts exactly the customers for whom `gate.allowed_condition` (derived from that same
function) holds, with `ON CONFLICT DO NOTHING` on the campaign-and-customer key.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from itertools import islice
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Integer, String, cast, func, literal, select
from sqlalchemy.dialects import postgresql, sqlite

from gateway.activation.destinations import Destination
from gateway.activation.gate import (
    FACT_LABELS,
    Facts,
    allowed_condition,
    epoch,
    fact_columns,
    present,
    reason,
)
from gateway.activation.service import Activation
from gateway.activation.tables import activation_messages
from gateway.consent.state import flags_of
from gateway.profile.tables import customers
from gateway.store.types import UTCDateTime

if TYPE_CHECKING:
    from gateway.activation.campaigns import Campaign, RunResult

CHUNK = 5000


def _chunks(ids: Iterator[int], size: int = CHUNK) -> Iterator[list[int]]:
    while True:
        chunk = list(islice(ids, size))
        if not chunk:
            return
        yield chunk


def _audience_filters(conn: Connection, activation: Activation, campaign: Campaign,
                      now: datetime) -> Iterator[tuple[Any, int | None]]:
    """(condition on customers.id, number of members it stands for or None if counted apart)."""
    audience = campaign.audience()
    stmt = audience.as_select()
    if stmt is not None:
        yield customers.c.id.in_(stmt), None
        return
    for chunk in _chunks(audience.members(conn, now)):
        yield customers.c.id.in_(chunk), len(chunk)


def count_reasons(conn: Connection, activation: Activation, campaign: Campaign,
                  destination: Destination, result: RunResult, now: datetime) -> None:
    """Fill `result` with the audience size, the eligible and the excluded per reason."""
    purpose = activation.purposes.by_name[campaign.purpose]
    columns = fact_columns(purpose, destination.channel, now, present(conn, destination.channel, now))
    params = {"now_epoch": epoch(now)}
    excluded: Counter[str] = Counter()
    matched = members = 0
    audience = campaign.audience()
    for condition, size in _audience_filters(conn, activation, campaign, now):
        inner = select(*columns).select_from(customers).where(condition).subquery()
        keys = [inner.c[c.name] for c in columns]
        stmt = select(*keys, func.count().label("n")).group_by(*keys)
        for row in conn.execute(stmt, params):
            facts = Facts(flags_of(row), *(bool(getattr(row, label)) for label in FACT_LABELS))
            code = reason(purpose, facts)
            matched += int(row.n)
            if code is None:
                result.eligible += int(row.n)
            else:
                excluded[code.value] += int(row.n)
        if size is None:
            sel = audience.as_select()
            assert sel is not None
            members += int(conn.execute(select(func.count()).select_from(sel.subquery())).scalar_one())
        else:
            members += size
    result.audience = members
    result.missing = members - matched
    result.excluded = dict(sorted(excluded.items()))


def enqueue(conn: Connection, activation: Activation, campaign: Campaign,
            destination: Destination, result: RunResult, now: datetime) -> None:
    """Insert a pending message for each allowed member not yet planned; count both."""
    purpose = activation.purposes.by_name[campaign.purpose]
    allowed = allowed_condition(purpose, destination.channel, now,
                                present(conn, destination.channel, now))
    dedupe = literal(f"c{campaign.id}:", String) + cast(customers.c.id, String)
    when = literal(now, UTCDateTime)
    names = ["kind", "dedupe", "destination_id", "campaign_id", "customer_id", "channel",
             "purpose", "template", "status", "not_before", "next_attempt_at", "attempts",
             "planned_at"]
    builder: Any = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    params = {"now_epoch": epoch(now)}
    m = activation_messages.c
    planned = select(func.count()).select_from(activation_messages).where(
        m.campaign_id == campaign.id)
    before = int(conn.execute(planned).scalar_one())
    for condition, _ in _audience_filters(conn, activation, campaign, now):
        source = select(
            literal("message", String), dedupe, literal(destination.id, Integer),
            literal(campaign.id, Integer), customers.c.id, literal(destination.channel, String),
            literal(campaign.purpose, String), literal(campaign.template, String),
            literal("pending", String), when, when, literal(0, Integer), when,
        ).where(condition, allowed)
        stmt = builder(activation_messages).from_select(names, source).on_conflict_do_nothing(
            index_elements=["dedupe"])
        conn.execute(stmt, params)
    # Counted, not taken from rowcount: PostgreSQL's driver reports none for INSERT ... SELECT
    # ... ON CONFLICT DO NOTHING through SQLAlchemy.
    result.enqueued = int(conn.execute(planned).scalar_one()) - before
    result.already_planned = max(result.eligible - result.enqueued, 0)
