"""The facts of each customer, aggregated in SQL: one GROUP BY over orders, one over
interactions, one over (customer, hour) for the best hour. Moments come back as unix seconds,
computed by the database, so nothing is parsed per row in Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Float,
    Integer,
    case,
    cast,
    distinct,
    extract,
    func,
    literal,
    select,
)

from gateway.profile.tables import interactions, orders
from gateway.segmentation.config import SegmentationConfig

DEVICES = ("mobile", "desktop", "tablet")
ENGAGEMENTS = ("email_open", "email_click", "web_visit")  # moments the customer chose


def epoch(conn: Connection, column: ColumnElement[Any]) -> ColumnElement[int]:
    """`column` (a UTC timestamp) as whole unix seconds, computed by the database."""
    if conn.dialect.name == "postgresql":
        return cast(func.floor(extract("epoch", column)), BigInteger)
    return cast(func.strftime("%s", column), BigInteger)


def _hour(conn: Connection, column: ColumnElement[Any]) -> ColumnElement[int]:
    if conn.dialect.name == "postgresql":
        return cast(extract("hour", func.timezone("UTC", column)), Integer)
    return cast(func.strftime("%H", column), Integer)


def eur_cents(config: SegmentationConfig) -> ColumnElement[Any]:
    """An order's total in euro cents, at the configured rates (unknown currencies: as is)."""
    rates = config.currency_per_eur
    divisor = case(*((orders.c.currency == code, literal(rate)) for code, rate in rates.items()),
                   else_=literal(1.0)) if rates else literal(1.0)
    return cast(orders.c.total_cents, Float) / divisor


@dataclass
class Chunk:
    """The facts of the customers of one chunk, by customer id (absent: no rows)."""

    orders: dict[int, tuple[Any, ...]] = field(default_factory=dict)
    interactions: dict[int, tuple[Any, ...]] = field(default_factory=dict)
    best_hour: dict[int, int] = field(default_factory=dict)


def _scope(column: ColumnElement[int], ids: Sequence[int] | None, lo: int, hi: int) -> ColumnElement[bool]:
    """Customers `lo`..`hi` (a full run) or exactly `ids` (an incremental one)."""
    if ids is not None:
        return column.in_(list(ids))
    return column.between(lo, hi)


def order_facts(conn: Connection, config: SegmentationConfig, ids: Sequence[int] | None,
                lo: int, hi: int, before: datetime | None = None) -> dict[int, tuple[Any, ...]]:
    """Per customer: purchases, euro cents, first, last and previous purchase (unix s), max id;
    with `before`, as they were at that moment (what a model is trained on)."""
    o = orders.c
    at = epoch(conn, o.ordered_at)
    prev = func.lag(at).over(partition_by=o.customer_id, order_by=(o.ordered_at, o.id))
    where = [_scope(o.customer_id, ids, lo, hi), o.status.not_in(config.not_purchases)]
    if before is not None:
        where.append(o.ordered_at < before)
    inner = (
        select(o.customer_id, o.id, at.label("at"), eur_cents(config).label("eur"), prev.label("prev"))
        .where(*where)
        .subquery()
    )
    stmt = select(
        inner.c.customer_id, func.count(), func.sum(inner.c.eur), func.min(inner.c.at),
        func.max(inner.c.at), func.max(inner.c.prev), func.max(inner.c.id),
    ).group_by(inner.c.customer_id)
    return {row[0]: tuple(row[1:]) for row in conn.execute(stmt)}


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.sum(case((condition, 1), else_=0))


def interaction_facts(conn: Connection, ids: Sequence[int] | None, lo: int,
                      hi: int, before: datetime | None = None) -> dict[int, tuple[Any, ...]]:
    """Per customer: opens, clicks, campaigns opened, visits, calls, last email / web / call
    (unix s), preferred device, newest interaction id (with `before`: as they were then)."""
    i = interactions.c
    at = epoch(conn, i.occurred_at)
    stmt = select(
        i.customer_id,
        _count_if(i.kind == "email_open"), _count_if(i.kind == "email_click"),
        func.count(distinct(case((i.kind == "email_open", i.campaign)))),
        _count_if(i.kind == "web_visit"), _count_if(i.kind == "call"),
        func.max(case((i.channel == "email", at))), func.max(case((i.channel == "web", at))),
        func.max(case((i.channel == "phone", at))),
        *(_count_if(i.device == d) for d in DEVICES),
        func.max(i.id),
    ).where(_scope(i.customer_id, ids, lo, hi),
            *([i.occurred_at < before] if before is not None else [])).group_by(i.customer_id)
    out: dict[int, tuple[Any, ...]] = {}
    for row in conn.execute(stmt):
        devices = row[9:12]
        best = max(range(len(DEVICES)), key=lambda k: devices[k]) if any(devices) else None
        out[row[0]] = (*row[1:9], DEVICES[best] if best is not None else None, row[12])
    return out


def best_hours(conn: Connection, ids: Sequence[int] | None, lo: int, hi: int) -> dict[int, int]:
    """Per customer: the hour of day (UTC) of most email opens, clicks and visits (ties: earliest)."""
    i = interactions.c
    hour = _hour(conn, i.occurred_at).label("hour")
    stmt = (select(i.customer_id, hour, func.count()).where(
        _scope(i.customer_id, ids, lo, hi), i.kind.in_(ENGAGEMENTS))
        .group_by(i.customer_id, hour))
    best: dict[int, tuple[int, int]] = {}
    for cid, h, n in conn.execute(stmt):
        seen = best.get(cid)
        if seen is None or n > seen[1] or (n == seen[1] and h < seen[0]):
            best[cid] = (int(h), int(n))
    return {cid: h for cid, (h, _) in best.items()}


def chunk_facts(conn: Connection, config: SegmentationConfig, ids: Sequence[int] | None,
                lo: int, hi: int) -> Chunk:
    """Every fact of the customers of one chunk."""
    return Chunk(order_facts(conn, config, ids, lo, hi), interaction_facts(conn, ids, lo, hi),
                 best_hours(conn, ids, lo, hi))


def campaign_starts(conn: Connection) -> np.ndarray[Any, np.dtype[np.float64]]:
    """When each email campaign was first seen (unix s), sorted: the campaigns sent."""
    i = interactions.c
    at = epoch(conn, func.min(i.occurred_at))
    rows = conn.execute(select(at).where(i.kind == "email_open", i.campaign.is_not(None))
                        .group_by(i.campaign)).scalars()
    return np.sort(np.fromiter((float(r) for r in rows), dtype=np.float64))
