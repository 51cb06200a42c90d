"""`consent-gateway segments compute`: the computed attributes of every customer who may be
profiled, and none for anyone else.

One run:
1. **Gate.** Customers whose `profiling` use is not allowed now (objection, restriction, no
   basis: `subject_allows`) lose every derived value: their attributes and scores are
   deleted and the derived columns of `customers` (lifecycle_stage, rfm_*) set to NULL.
2. **Facts.** Orders and interactions are aggregated in SQL for the customers whose inputs
   changed since the last run (an order or interaction newer than what was aggregated, or
   no attributes yet); everyone else keeps the facts stored. `full=True` aggregates all.
3. **Attributes.** Quintiles, cells, stages, rates and milestones are derived for all
   profiled customers at once (they depend on the whole population and on `now`), and only
   rows whose values changed are written.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, delete, func, not_, or_, select, update

from gateway.consent.purposes import Purpose
from gateway.consent.state import subject_allows
from gateway.profile.tables import customers, interactions, orders
from gateway.scoring.tables import customer_scores
from gateway.segmentation import aggregate
from gateway.segmentation.config import SegmentationConfig
from gateway.segmentation.derive import Facts, derive
from gateway.segmentation.tables import customer_attributes
from gateway.store.bulk import update_by_key, upsert

CHUNK = 20_000  # customers aggregated per statement
WRITE_BATCH = 20_000
Progress = Callable[[int], None]

FACT_COLUMNS = (
    "orders_seen", "interactions_seen", "purchases", "spent_eur_cents", "first_purchase_ts",
    "last_purchase_ts", "prev_purchase_ts", "email_opens", "email_clicks", "email_campaigns",
    "web_visits", "calls", "last_email_ts", "last_web_ts", "last_call_ts", "preferred_device",
    "best_hour",
)
DERIVED_COLUMNS = (
    "recency_days", "r_score", "f_score", "m_score", "rfm_cell", "lifecycle", "email_open_rate",
    "email_click_rate", "milestones",
)
CUSTOMER_COLUMNS = ("lifecycle_stage", "rfm_segment", "rfm_recency", "rfm_frequency", "rfm_monetary")


@dataclass(frozen=True)
class ComputeReport:
    """What one run did."""

    profiled: int  # customers who may be profiled
    aggregated: int  # of those, whose facts were aggregated again
    written: int  # of those, whose attributes changed and were written
    removed: int  # customers whose derived data was removed (profiling not allowed)


def purge(conn: Connection, profiling: Purpose, now: datetime) -> int:
    """Remove every derived value of customers who may not be profiled now; how many had some."""
    refused = not_(subject_allows(customers.c.id, profiling, now))
    c = customers.c
    has_derived = or_(*(c[name].is_not(None) for name in CUSTOMER_COLUMNS))
    ids = set(conn.execute(select(c.id).where(refused, has_derived)).scalars())
    for table in (customer_attributes, customer_scores):
        ids |= set(conn.execute(select(table.c.customer_id).join(
            customers, customers.c.id == table.c.customer_id).where(refused)).scalars())
    for start in range(0, len(ids), WRITE_BATCH):
        part = sorted(ids)[start:start + WRITE_BATCH]
        conn.execute(delete(customer_attributes).where(customer_attributes.c.customer_id.in_(part)))
        conn.execute(delete(customer_scores).where(customer_scores.c.customer_id.in_(part)))
        conn.execute(update(customers).where(c.id.in_(part)).values(
            {name: None for name in CUSTOMER_COLUMNS}))
    return len(ids)


def _eligible(conn: Connection, profiling: Purpose, now: datetime) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    c = customers.c
    rows = conn.execute(select(c.id, aggregate.epoch(conn, c.created_at))
                        .where(subject_allows(c.id, profiling, now)).order_by(c.id)).all()
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    created = np.fromiter((float(r[1]) for r in rows), dtype=np.float64, count=len(rows))
    return ids, created


def _stored(conn: Connection) -> dict[int, tuple[Any, ...]]:
    a = customer_attributes.c
    cols = [a.customer_id, *(a[n] for n in FACT_COLUMNS), *(a[n] for n in DERIVED_COLUMNS)]
    return {row[0]: tuple(row[1:]) for row in conn.execute(select(*cols))}


def _changed(conn: Connection, stored: dict[int, tuple[Any, ...]], ids: np.ndarray[Any, Any]) -> set[int]:
    """Customers to aggregate again: without stored facts, or with newer orders / interactions."""
    missing = {int(i) for i in ids if int(i) not in stored}
    if not stored:
        return missing
    seen_orders = max(v[0] for v in stored.values())
    seen_interactions = max(v[1] for v in stored.values())
    newer = set(conn.execute(select(orders.c.customer_id).where(orders.c.id > seen_orders).distinct()).scalars())
    newer |= set(conn.execute(select(interactions.c.customer_id)
                              .where(interactions.c.id > seen_interactions).distinct()).scalars())
    return missing | (newer & {int(i) for i in ids})


def _chunks(ids: np.ndarray[Any, Any], changed: set[int], full: bool) -> Iterator[tuple[list[int] | None, int, int, list[int]]]:
    """(ids for an IN list or None, lo, hi, the chunk's ids) per chunk of the work."""
    if full:
        for start in range(0, ids.size, CHUNK):
            part = ids[start:start + CHUNK]
            yield None, int(part[0]), int(part[-1]), [int(i) for i in part]
        return
    todo = sorted(changed)
    for start in range(0, len(todo), CHUNK):
        chosen = todo[start:start + CHUNK]
        yield chosen, chosen[0], chosen[-1], chosen


def _facts_row(cid: int, chunk: aggregate.Chunk) -> tuple[Any, ...]:
    o = chunk.orders.get(cid)
    i = chunk.interactions.get(cid)
    order_part = (o[5], o[0], round(o[1] or 0), o[2], o[3], o[4]) if o else (0, 0, 0, None, None, None)
    inter_part = i[:-1] if i else (0, 0, 0, 0, 0, None, None, None, None)
    return (order_part[0], i[-1] if i else 0, *order_part[1:], *inter_part, chunk.best_hour.get(cid))


def _column(values: Sequence[Any], dtype: Any, none: Any) -> np.ndarray[Any, Any]:
    return np.array([none if v is None else v for v in values], dtype=dtype)


def _facts(rows: list[tuple[Any, ...]], created: np.ndarray[Any, Any], campaigns: np.ndarray[Any, Any]) -> Facts:
    cols: list[Sequence[Any]] = list(zip(*rows, strict=True)) if rows else [() for _ in FACT_COLUMNS]
    nan = float("nan")
    at = {n: i for i, n in enumerate(FACT_COLUMNS)}
    sent = campaigns.size - np.searchsorted(campaigns, created, side="left")
    return Facts(
        purchases=_column(cols[at["purchases"]], np.int64, 0),
        spent_eur=_column(cols[at["spent_eur_cents"]], np.float64, 0) / 100.0,
        first_at=_column(cols[at["first_purchase_ts"]], np.float64, nan),
        last_at=_column(cols[at["last_purchase_ts"]], np.float64, nan),
        prev_at=_column(cols[at["prev_purchase_ts"]], np.float64, nan),
        created_at=created,
        email_opens=_column(cols[at["email_opens"]], np.int64, 0),
        email_clicks=_column(cols[at["email_clicks"]], np.int64, 0),
        email_campaigns=_column(cols[at["email_campaigns"]], np.int64, 0),
        campaigns_sent=sent.astype(np.int64),
    )


def _none(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    return value.item() if isinstance(value, np.generic) else value


def compute(engine: Engine, config: SegmentationConfig, profiling: Purpose, now: datetime, *,
            full: bool = False, progress: Progress | None = None,
            total: Callable[[int], None] | None = None) -> ComputeReport:
    """One run of the job (see the module's docstring); each step commits on its own."""
    with engine.begin() as conn:
        removed = purge(conn, profiling, now)
    with engine.connect() as conn:
        ids, created = _eligible(conn, profiling, now)
        stored = {} if full else _stored(conn)
        changed = {int(i) for i in ids} if full else _changed(conn, stored, ids)
        campaigns = aggregate.campaign_starts(conn)
        if total is not None:
            total(len(changed) + ids.size)
        fresh: dict[int, tuple[Any, ...]] = {}
        for in_list, lo, hi, part in _chunks(ids, changed, full or not stored):
            chunk = aggregate.chunk_facts(conn, config, in_list, lo, hi)
            for cid in part:
                fresh[cid] = _facts_row(cid, chunk)
            if progress is not None:
                progress(len(part))
    rows = [fresh[int(c)] if int(c) in fresh else stored[int(c)][:len(FACT_COLUMNS)] for c in ids]
    attrs = derive(_facts(rows, created, campaigns), now.timestamp(), config)
    written = _write(engine, ids, rows, attrs, stored, fresh, now, progress)
    return ComputeReport(int(ids.size), len(fresh), written, removed)


def _write(engine: Engine, ids: np.ndarray[Any, Any], rows: list[tuple[Any, ...]], attrs: Any,
           stored: dict[int, tuple[Any, ...]], fresh: dict[int, tuple[Any, ...]], now: datetime,
           progress: Progress | None) -> int:
    derived_cols = (attrs.recency_days, attrs.r, attrs.f, attrs.m, attrs.cell, attrs.lifecycle,
                    attrs.open_rate, attrs.click_rate)
    attribute_rows: list[tuple[Any, ...]] = []
    customer_rows: list[tuple[Any, ...]] = []
    for k, cid_raw in enumerate(ids):
        cid = int(cid_raw)
        recency, r, f, m, cell, stage, opens, clicks = (_none(col[k]) for col in derived_cols)
        buyer = r != 0
        derived = (recency if buyer else None, r or None, f or None, m or None, cell, stage,
                   opens, clicks, attrs.milestones[k])
        old = stored.get(cid)
        if cid not in fresh and old is not None and old[len(FACT_COLUMNS):] == derived:
            continue
        attribute_rows.append((cid, now, *rows[k], *derived))
        customer_rows.append((cid, stage, cell, derived[0], derived[2], derived[3]))
    columns = ("customer_id", "computed_at", *FACT_COLUMNS, *DERIVED_COLUMNS)
    with engine.begin() as conn:
        for start in range(0, len(attribute_rows), WRITE_BATCH):
            upsert(conn, customer_attributes, columns, attribute_rows[start:start + WRITE_BATCH],
                   ("customer_id",))
            update_by_key(conn, customers, "id", CUSTOMER_COLUMNS,
                          customer_rows[start:start + WRITE_BATCH])
            if progress is not None:
                progress(len(attribute_rows[start:start + WRITE_BATCH]))
    if progress is not None:
        progress(int(ids.size) - len(attribute_rows))
    return len(attribute_rows)


def attribute_count(conn: Connection) -> int:
    """How many customers have computed attributes."""
    return int(conn.execute(select(func.count()).select_from(customer_attributes)).scalar_one())
