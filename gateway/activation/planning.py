"""A campaign's audience through the gate, in bulk: counts per reason, and the enqueue.

Both run as one SQL statement over the audience's SQL form (a segment's rule, or the stored
list, over `customers`). The counts come per combination of facts (gateway/activation/
tally.py), each decided by `gateway.activation.gate.reason`; the enqueue
inserts exactly the customers for whom `gate.allowed_condition` (derived from that same
function) holds, with `ON CONFLICT DO NOTHING` on the campaign-and-customer key.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Integer, String, cast, func, literal, select
from sqlalchemy.dialects import postgresql, sqlite

from gateway.activation.destinations import Destination
from gateway.activation.gate import (
    allowed_condition,
    audience_facts,
    epoch,
    facts_of,
    present,
    reason,
)
from gateway.activation.service import Activation
from gateway.activation.tables import activation_messages
from gateway.activation.tally import tally
from gateway.profile.tables import customers
from gateway.store.types import UTCDateTime

if TYPE_CHECKING:
    from gateway.activation.campaigns import Campaign, RunResult

def count_reasons(conn: Connection, activation: Activation, campaign: Campaign,
                  destination: Destination, result: RunResult, now: datetime) -> None:
    """Fill `result` with the audience size, the eligible and the excluded per reason."""
    purpose = activation.purposes.by_name[campaign.purpose]
    audience = campaign.audience(activation.purposes)
    source, condition = audience.sql(conn, now)
    counts = tally(conn, source, condition, purpose, destination.channel, now,
                   present(conn, destination.channel, now))
    # Each combination of facts the audience has is decided by `reason` (the gate itself).
    excluded: Counter[str] = Counter()
    matched = 0
    for values, n in counts.items():
        code = reason(purpose, facts_of(values))
        matched += n
        if code is None:
            result.eligible += n
        else:
            excluded[code.value] += n
    stored = audience.stored(conn)
    result.audience = matched if stored is None else stored
    result.missing = result.audience - matched
    result.excluded = dict(sorted(excluded.items()))


def enqueue(conn: Connection, activation: Activation, campaign: Campaign,
            destination: Destination, result: RunResult, now: datetime) -> None:
    """Insert a pending message for each allowed member not yet planned; count both."""
    purpose = activation.purposes.by_name[campaign.purpose]
    source, condition = campaign.audience(activation.purposes).sql(conn, now)
    found = audience_facts(source, purpose, destination.channel, now,
                           present(conn, destination.channel, now), joined=_joins(conn))
    dedupe = literal(f"c{campaign.id}:", String) + cast(customers.c.id, String)
    when = literal(now, UTCDateTime)
    names = ["kind", "dedupe", "destination_id", "campaign_id", "customer_id", "channel",
             "purpose", "template", "status", "not_before", "next_attempt_at", "attempts",
             "planned_at"]
    builder: Any = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    m = activation_messages.c
    planned = select(func.count()).select_from(activation_messages).where(
        m.campaign_id == campaign.id)
    before = int(conn.execute(planned).scalar_one())
    rows = select(
        literal("message", String), dedupe, literal(destination.id, Integer),
        literal(campaign.id, Integer), customers.c.id, literal(destination.channel, String),
        literal(campaign.purpose, String), literal(campaign.template, String),
        literal("pending", String), when, when, literal(0, Integer), when,
    ).select_from(found.source).where(condition, allowed_condition(purpose, found.exprs))
    conn.execute(builder(activation_messages).from_select(names, rows).on_conflict_do_nothing(
        index_elements=["dedupe"]), {"now_epoch": epoch(now)})
    # Counted, not taken from rowcount: PostgreSQL's driver reports none for INSERT ... SELECT
    # ... ON CONFLICT DO NOTHING through SQLAlchemy.
    result.enqueued = int(conn.execute(planned).scalar_one()) - before
    result.already_planned = max(result.eligible - result.enqueued, 0)


def _joins(conn: Connection) -> bool:
    """Whether the facts are outer joins (PostgreSQL) or `IN (set)` (SQLite): see gate.py."""
    return conn.dialect.name == "postgresql"
