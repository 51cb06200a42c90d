"""A campaign's audience through the gate, in bulk: counts per reason, and the enqueue.

Both run as one SQL statement over the audience's SQL form (a segment's rule, or the stored
list, over `customers`). Each group of facts is decided by `gateway.activation.gate.reason`; the enqueue
inserts exactly the customers for whom `gate.allowed_condition` (derived from that same
function) holds, with `ON CONFLICT DO NOTHING` on the campaign-and-customer key.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Integer, String, case, cast, func, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import False_, True_

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
    joined = _joins(conn)
    found = audience_facts(source, purpose, destination.channel, now,
                           present(conn, destination.channel, now), joined=joined)
    # PostgreSQL groups on the facts themselves (booleans: it then expects a handful of groups
    # and aggregates in memory, in parallel workers when it has them); SQLite on the facts
    # packed into one integer (bit i: fact i), as it sorts to group and one key sorts faster
    # than seven. Each group is unpacked and decided by `reason` here.
    # A fact that is constant here (false(): nobody has that kind of entry, or the purpose
    # has no such flag) is not grouped on (PostgreSQL refuses a constant in GROUP BY).
    fixed = {i: _constant(fact) for i, fact in enumerate(found.exprs)}
    varying = [i for i, value in fixed.items() if value is None]
    keys: list[Any]
    if joined:
        keys = [found.exprs[i].label(f"f{i}") for i in varying]
    else:
        keys = [sum((case((found.exprs[i], 1 << i), else_=0) for i in varying),
                    literal(0, Integer)).label("facts")]
    grouped = (select(*keys, func.count().label("n")).select_from(found.source)
               .where(condition).group_by(*keys))
    excluded: Counter[str] = Counter()
    matched = 0
    for row in conn.execute(grouped, {"now_epoch": epoch(now)}):
        got = dict(zip(varying, tuple(row)[:-1], strict=True)) if joined else {
            i: int(row.facts) >> i & 1 for i in varying}
        values = tuple(got[i] if fixed[i] is None else fixed[i] for i in range(len(fixed)))
        code = reason(purpose, facts_of(values))
        matched += int(row.n)
        if code is None:
            result.eligible += int(row.n)
        else:
            excluded[code.value] += int(row.n)
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


def _constant(fact: Any) -> bool | None:
    """The value of a fact that is a constant (`true()` / `false()`), else None."""
    if isinstance(fact, True_):
        return True
    if isinstance(fact, False_):
        return False
    return None
