"""The facts of each customer, aggregated in SQL: one GROUP BY over orders, one over
interactions, one over (customer, hour) for the best hour. Moments come back as unix seconds,
computed by the database, so nothing is parsed per row in Python.
"""

from __future__ import annotations

from collections.abc import Sequence
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
    # SQLite holds 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC): the hour is characters 12-13, cheaper
    # to cut out than to parse per row.
    return cast(func.substr(column, 12, 2), Integer)


def eur_cents(config: SegmentationConfig) -> ColumnElement[Any]:
    """An order's total in euro cents, at the configured rates (unknown currencies: as is)."""
    rates = config.currency_per_eur
    divisor = case(*((orders.c.currency == code, literal(rate)) for code, rate in rates.items()),
                   else_=literal(1.0)) if rates else literal(1.0)
    return cast(orders.c.total_cents, Float) / divisor


Matrix = np.ndarray[Any, np.dtype[np.float64]]


def matrix(conn: Connection, stmt: Any, width: int) -> Matrix:
    """Every row of `stmt` (all numbers) as one float64 matrix, NULL as NaN: numpy converts
    the driver's tuples in C, where a million rows through Python objects cost seconds."""
    rows = fetch(conn, stmt)
    if not rows:
        return np.empty((0, width))
    return np.array(rows, dtype=np.float64)


def fetch(conn: Connection, stmt: Any) -> list[tuple[Any, ...]]:
    """Every row of `stmt` as plain tuples, straight from the driver's cursor: the columns
    selected here are numbers and short strings, which need no result processing, and a
    million rows through SQLAlchemy's row objects cost more than the query."""
    result = conn.execute(stmt)
    try:
        rows: Any = result.cursor.fetchall() if result.cursor is not None else []
        return list(rows)
    finally:
        result.close()


def _scope(column: ColumnElement[int], ids: Sequence[int] | None, lo: int, hi: int) -> ColumnElement[bool]:
    """Customers `lo`..`hi` (a full run) or exactly `ids` (an incremental one)."""
    if ids is not None:
        return column.in_(list(ids))
    return column.between(lo, hi)


def _order_stmt(conn: Connection, config: SegmentationConfig, ids: Sequence[int] | None,
                lo: int, hi: int, before: datetime | None) -> Any:
    o = orders.c
    # Moments are aggregated as stored and turned into unix seconds once per customer.
    at = o.ordered_at
    prev = func.lag(at).over(partition_by=o.customer_id, order_by=(o.ordered_at, o.id))
    where = [_scope(o.customer_id, ids, lo, hi), o.status.not_in(config.not_purchases)]
    if before is not None:
        where.append(o.ordered_at < before)
    inner = (
        select(o.customer_id, o.id, at.label("at"), eur_cents(config).label("eur"), prev.label("prev"))
        .where(*where)
        .subquery()
    )
    return select(
        inner.c.customer_id, func.count(), func.sum(inner.c.eur), epoch(conn, func.min(inner.c.at)),
        epoch(conn, func.max(inner.c.at)), epoch(conn, func.max(inner.c.prev)), func.max(inner.c.id),
    ).group_by(inner.c.customer_id)


def order_facts(conn: Connection, config: SegmentationConfig, ids: Sequence[int] | None,
                lo: int, hi: int, before: datetime | None = None) -> dict[int, tuple[Any, ...]]:
    """Per customer: purchases, euro cents, first, last and previous purchase (unix s), max id;
    with `before`, as they were at that moment (what a model is trained on)."""
    return {row[0]: tuple(row[1:]) for row in fetch(conn, _order_stmt(conn, config, ids, lo, hi, before))}


def order_matrix(conn: Connection, config: SegmentationConfig, ids: Sequence[int] | None,
                 lo: int, hi: int) -> Matrix:
    """`order_facts` as one float64 matrix (NaN for none): customer id, then its values."""
    return matrix(conn, _order_stmt(conn, config, ids, lo, hi, None), 7)


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.sum(case((condition, 1), else_=0))


def hour_in_pass(conn: Connection) -> bool:
    """Whether the best hour comes with the interactions' pass (`interaction_matrix`'s last
    column): PostgreSQL's `mode()` picks the most frequent hour, the earliest of equals, as
    the ranking of `best_hours` does, in the GROUP BY that already reads every interaction
    of the customer (a second pass, a GROUP BY of (customer, hour), a sort and a window
    cost about three times as much). SQLite has no `mode()`: `hour_matrix` there."""
    return conn.dialect.name == "postgresql"


def _best_hour(conn: Connection) -> ColumnElement[Any]:
    i = interactions.c
    return func.mode().within_group(_hour(conn, i.occurred_at)).filter(i.kind.in_(ENGAGEMENTS))


def _interaction_stmt(conn: Connection, ids: Sequence[int] | None, lo: int, hi: int,
                      before: datetime | None, with_hour: bool = False) -> Any:
    i = interactions.c
    at = i.occurred_at
    return select(
        i.customer_id,
        _count_if(i.kind == "email_open"), _count_if(i.kind == "email_click"),
        func.count(distinct(case((i.kind == "email_open", i.campaign)))),
        _count_if(i.kind == "web_visit"), _count_if(i.kind == "call"),
        *(epoch(conn, func.max(case((i.channel == ch, at)))) for ch in ("email", "web", "phone")),
        *(_count_if(i.device == d) for d in DEVICES),
        func.max(i.id), *([_best_hour(conn)] if with_hour else []),
    ).where(_scope(i.customer_id, ids, lo, hi),
            *([i.occurred_at < before] if before is not None else [])).group_by(i.customer_id)


def interaction_facts(conn: Connection, ids: Sequence[int] | None, lo: int,
                      hi: int, before: datetime | None = None) -> dict[int, tuple[Any, ...]]:
    """Per customer: opens, clicks, campaigns opened, visits, calls, last email / web / call
    (unix s), preferred device, newest interaction id (with `before`: as they were then)."""
    out: dict[int, tuple[Any, ...]] = {}
    for row in fetch(conn, _interaction_stmt(conn, ids, lo, hi, before)):
        devices = row[9:12]
        best = max(range(len(DEVICES)), key=lambda k: devices[k]) if any(devices) else None
        out[row[0]] = (*row[1:9], DEVICES[best] if best is not None else None, row[12])
    return out


def interaction_matrix(conn: Connection, ids: Sequence[int] | None, lo: int, hi: int) -> Matrix:
    """`interaction_facts` as one float64 matrix (NaN for none): customer id, opens, clicks,
    campaigns, visits, calls, last email / web / call, the counts per device of `DEVICES`,
    newest interaction id; where `hour_in_pass`, the best hour (as `best_hours`) last."""
    with_hour = hour_in_pass(conn)
    return matrix(conn, _interaction_stmt(conn, ids, lo, hi, None, with_hour), 14 if with_hour else 13)


def preferred_device(counts: Matrix) -> np.ndarray[Any, np.dtype[np.object_]]:
    """The device of the most interactions of each row of per-device `counts` (ties: the
    first of `DEVICES`, as `interaction_facts` picks), None for none."""
    names = np.array(DEVICES, dtype=object)
    out: np.ndarray[Any, np.dtype[np.object_]] = names[np.argmax(counts, axis=1)] if counts.size else (
        np.empty(0, dtype=object))
    out[~(counts > 0).any(axis=1)] = None
    return out


def _hours_stmt(conn: Connection, ids: Sequence[int] | None, lo: int, hi: int) -> Any:
    i = interactions.c
    hour = _hour(conn, i.occurred_at)
    counts = (select(i.customer_id.label("cid"), hour.label("hour"), func.count().label("n"))
              .where(_scope(i.customer_id, ids, lo, hi), i.kind.in_(ENGAGEMENTS))
              .group_by(i.customer_id, hour).subquery())
    rank = func.row_number().over(partition_by=counts.c.cid,
                                  order_by=(counts.c.n.desc(), counts.c.hour)).label("rank")
    ranked = select(counts.c.cid, counts.c.hour, rank).subquery()
    return select(ranked.c.cid, ranked.c.hour).where(ranked.c.rank == 1)


def best_hours(conn: Connection, ids: Sequence[int] | None, lo: int, hi: int) -> dict[int, int]:
    """Per customer: the hour of day (UTC) of most email opens, clicks and visits (ties: earliest)."""
    return {int(cid): int(h) for cid, h in fetch(conn, _hours_stmt(conn, ids, lo, hi))}


def hour_matrix(conn: Connection, ids: Sequence[int] | None, lo: int, hi: int) -> Matrix:
    """`best_hours` as a float64 matrix: customer id, hour."""
    return matrix(conn, _hours_stmt(conn, ids, lo, hi), 2)


def campaign_starts(conn: Connection) -> np.ndarray[Any, np.dtype[np.float64]]:
    """When each email campaign was first seen (unix s), sorted: the campaigns sent."""
    i = interactions.c
    at = epoch(conn, func.min(i.occurred_at))
    rows = conn.execute(select(at).where(i.kind == "email_open", i.campaign.is_not(None))
                        .group_by(i.campaign)).scalars()
    return np.sort(np.fromiter((float(r) for r in rows), dtype=np.float64))
