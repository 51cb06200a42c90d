"""`consent-gateway segments compute`: the computed attributes of every customer who may be
profiled, and none for anyone else.

One run:
1. **Gate.** Customers whose `profiling` use is not allowed now (objection, restriction, no
   basis: `subject_allows`; or its basis ran out `retention_days` after the last activity:
   `may_profile`) lose every derived value: their attributes and scores are
   deleted and the derived columns of `customers` (lifecycle_stage, rfm_*) set to NULL.
2. **Facts.** Orders and interactions are aggregated in SQL for the customers whose inputs
   changed since the last run (an order or interaction newer than what was aggregated, or
   no attributes yet); everyone else keeps the facts stored. `full=True` aggregates all.
3. **Attributes.** Quintiles, cells, stages, rates and milestones are derived for all
   profiled customers at once (they depend on the whole population and on `now`), and only
   rows whose values changed are written.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import compress
from typing import Any

import numpy as np
from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    and_,
    case,
    delete,
    func,
    not_,
    or_,
    select,
    update,
)

from gateway.consent.purposes import Purpose
from gateway.consent.state import subject_allows, subject_allows_listing
from gateway.profile.tables import customers, interactions, orders
from gateway.retention.basis import within_retention
from gateway.scoring.tables import customer_scores
from gateway.segmentation import aggregate
from gateway.segmentation.config import SegmentationConfig
from gateway.segmentation.derive import Facts, derive
from gateway.segmentation.parallel import default_workers, run_chunks
from gateway.segmentation.tables import customer_attributes
from gateway.store.bulk import aggregate_memory, bulk_cache, insert, key_in, update_by_key, upsert

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


def may_profile(profiling: Purpose, now: datetime) -> ColumnElement[bool]:
    """Who may be profiled at `now`: the subject allows it (basis, consent, objection,
    restriction) and the basis has not run out by retention (`retention_days` after the
    last activity), so a job never recreates what the retention job destroys."""
    return and_(subject_allows(customers.c.id, profiling, now), within_retention(profiling, now))


def may_profile_all(profiling: Purpose, now: datetime) -> ColumnElement[bool]:
    """`may_profile` for a pass over every customer: each flag as `id IN (set)`, one hashed
    set per statement (`subject_allows_listing`); the correlated form costs an anti-join
    probe per customer (PostgreSQL: 1.3 s against 0.35 s for the refused of 100k)."""
    return and_(subject_allows_listing(customers.c.id, profiling, now), within_retention(profiling, now))


def _ids(conn: Connection, stmt: Any) -> np.ndarray[Any, np.dtype[np.int64]]:
    """The customer ids `stmt` selects, sorted and distinct."""
    rows = aggregate.fetch(conn, stmt)
    return np.unique(np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)))


def purge(conn: Connection, profiling: Purpose, now: datetime) -> int:
    """Remove every derived value of customers who may not be profiled now; how many had some.

    The refused customers who hold derived data are found first: the refused (one pass over
    `customers`, the refused with derived columns among them) intersected with the holders
    of attributes and of scores (one pass over each table's key), so that only their rows
    are deleted by key. Deleting by key every refused customer's rows cost an index probe
    per refused customer and table (a million customers: half a million refused, 27 s a
    purge on PostgreSQL); asking the condition of each table again costs a pass over
    `customers` per table.
    """
    c = customers.c
    has_derived = or_(*(c[name].is_not(None) for name in CUSTOMER_COLUMNS))
    rows = aggregate.fetch(conn, select(c.id, case((has_derived, 1), else_=0))
                           .where(not_(may_profile_all(profiling, now))).order_by(c.id))
    refused_ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    derived = [r[0] for r in rows if r[1]]
    touched: set[int] = set()
    for table in (customer_attributes, customer_scores):
        held = np.intersect1d(refused_ids, _ids(conn, select(table.c.customer_id)), assume_unique=True)
        for start in range(0, held.size, WRITE_BATCH):
            part = held[start:start + WRITE_BATCH].tolist()
            touched.update(conn.execute(delete(table).where(key_in(conn, table.c.customer_id, part))
                                        .returning(table.c.customer_id)).scalars())
    for start in range(0, len(derived), WRITE_BATCH):
        part = derived[start:start + WRITE_BATCH]
        touched.update(conn.execute(update(customers).where(key_in(conn, c.id, part), has_derived).values(
            {name: None for name in CUSTOMER_COLUMNS}).returning(c.id)).scalars())
    return len(touched)


def _eligible(conn: Connection, profiling: Purpose, now: datetime) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    c = customers.c
    rows = aggregate.fetch(conn, select(c.id, aggregate.epoch(conn, c.created_at))
                           .where(may_profile_all(profiling, now)).order_by(c.id))
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    created = np.fromiter((float(r[1]) for r in rows), dtype=np.float64, count=len(rows))
    return ids, created


# How each stored column is held in memory: counts as int64 (0 for none), moments, hours,
# rates and scores as float64 (NaN for none), text and lists as objects (None for none).
_INTS = frozenset({"orders_seen", "interactions_seen", "purchases", "spent_eur_cents", "email_opens",
                   "email_clicks", "email_campaigns", "web_visits", "calls"})
_OBJECTS = frozenset({"preferred_device", "rfm_cell", "lifecycle", "milestones"})
STREAM = 50_000  # rows fetched at a time


class Frame:
    """Columns of facts and attributes for the profiled customers (`ids`, ascending): a
    million customers take tens of megabytes as arrays, gigabytes as tuples."""

    def __init__(self, ids: np.ndarray[Any, Any]) -> None:
        self.ids = ids
        self.cols: dict[str, np.ndarray[Any, Any]] = {}
        for name in (*FACT_COLUMNS, *DERIVED_COLUMNS):
            self.cols[name] = (np.zeros(ids.size, dtype=np.int64) if name in _INTS
                               else np.full(ids.size, None, dtype=object) if name in _OBJECTS
                               else np.full(ids.size, np.nan))
        self.present = np.zeros(ids.size, dtype=bool)  # stored attributes were loaded

    def positions(self, cids: Sequence[int] | np.ndarray[Any, Any]) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        """(positions, mask): where each of `cids` sits, and which of them are profiled."""
        wanted = np.asarray(cids, dtype=np.int64)
        at = np.clip(np.searchsorted(self.ids, wanted), 0, max(self.ids.size - 1, 0))
        ok = self.ids[at] == wanted if self.ids.size else np.zeros(wanted.size, dtype=bool)
        return at[ok], ok

    def put(self, name: str, at: np.ndarray[Any, Any], values: Sequence[Any]) -> None:
        col = self.cols[name]
        if name == "milestones":
            held = np.empty(len(values), dtype=object)  # element by element: lists stay lists
            for k, v in enumerate(values):
                held[k] = v
            col[at] = held
        elif name in _OBJECTS:
            col[at] = np.array(values, dtype=object)
        elif name in _INTS:
            # Through float64 (None becomes NaN, then 0) in C: counts and cents stay far below
            # 2**53, where float64 holds every integer exactly.
            part = np.array(values, dtype=np.float64)
            part[np.isnan(part)] = 0
            col[at] = part.astype(np.int64)
        else:
            col[at] = np.array(values, dtype=np.float64)  # None becomes NaN
    def place_matrix(self, found: np.ndarray[Any, Any], names: Sequence[str]) -> None:
        """Rows of a float64 matrix (customer id, *values of `names`; NaN for none) into
        their columns: numbers only, converted in C."""
        if not found.size:
            return
        at, ok = self.positions(found[:, 0].astype(np.int64))
        rows = found[ok]
        for k, name in enumerate(names, start=1):
            values = rows[:, k]
            if name in _INTS:
                self.cols[name][at] = np.nan_to_num(values).astype(np.int64)
            else:
                self.cols[name][at] = values

    def reset(self, at: np.ndarray[Any, Any]) -> None:
        """Forget the facts at `at` (before they are aggregated again)."""
        for name in FACT_COLUMNS:
            col = self.cols[name]
            col[at] = 0 if name in _INTS else None if name in _OBJECTS else np.nan

    def place(self, rows: Sequence[tuple[Any, ...]], names: Sequence[str]) -> None:
        """Rows of (customer id, *values of `names`) into their columns."""
        if not rows:
            return
        cols = list(zip(*rows, strict=True))
        at, ok = self.positions(cols[0])
        keep = None if ok.all() else ok.tolist()
        for name, values in zip(names, cols[1:], strict=True):
            self.put(name, at, values if keep is None else list(compress(values, keep)))


def _load_stored(conn: Connection, frame: Frame) -> None:
    """The stored facts and attributes, streamed into the frame."""
    a = customer_attributes.c
    names = (*FACT_COLUMNS, *DERIVED_COLUMNS)
    result = conn.execute(select(a.customer_id, *(a[n] for n in names)))
    cursor: Any = result.cursor
    try:
        while batch := cursor.fetchmany(STREAM):
            rows = [(*r[:-1], json.loads(r[-1]) if isinstance(r[-1], str) else r[-1]) for r in batch]
            frame.place(rows, names)
            at, _ = frame.positions([r[0] for r in rows])
            frame.present[at] = True
    finally:
        result.close()


def _changed(conn: Connection, config: SegmentationConfig, frame: Frame) -> np.ndarray[Any, Any]:
    """Positions to aggregate again: without stored facts, or with newer orders / interactions."""
    if not frame.present.any():
        return np.arange(frame.ids.size)
    seen_orders = int(frame.cols["orders_seen"].max())
    seen_interactions = int(frame.cols["interactions_seen"].max())
    # `orders_seen` is the newest purchase aggregated: a newer order not a purchase (cancelled)
    # changes nothing the job computes.
    newer = set(conn.execute(select(orders.c.customer_id).where(
        orders.c.id > seen_orders, orders.c.status.not_in(config.not_purchases)).distinct()).scalars())
    newer |= set(conn.execute(select(interactions.c.customer_id)
                              .where(interactions.c.id > seen_interactions).distinct()).scalars())
    again = ~frame.present | np.isin(frame.ids, np.fromiter(newer, dtype=np.int64, count=len(newer)))
    return np.flatnonzero(again)


_ORDER_NAMES = ("purchases", "spent_eur_cents", "first_purchase_ts", "last_purchase_ts",
                "prev_purchase_ts", "orders_seen")
_INTERACTION_NAMES = ("email_opens", "email_clicks", "email_campaigns", "web_visits", "calls",
                      "last_email_ts", "last_web_ts", "last_call_ts", "preferred_device",
                      "interactions_seen")


def _chunk_facts(config: SegmentationConfig, full: bool) -> Callable[[Connection, np.ndarray[Any, Any]], Any]:
    """What one chunk of customer ids aggregates: the order, interaction and hour matrices."""
    def work(conn: Connection, part: np.ndarray[Any, Any]) -> tuple[Any, Any, Any]:
        lo, hi = int(part[0]), int(part[-1])
        # A full run reads id ranges (a scan); an incremental one, exactly the changed ids.
        ids = None if full else part.tolist()
        found = aggregate.interaction_matrix(conn, ids, lo, hi)
        hours = found[:, [0, 13]] if aggregate.hour_in_pass(conn) else aggregate.hour_matrix(conn, ids, lo, hi)
        return aggregate.order_matrix(conn, config, ids, lo, hi), found, hours
    return work


def _aggregate(engine: Engine, config: SegmentationConfig, frame: Frame, todo: np.ndarray[Any, Any],
               full: bool, progress: Progress | None, workers: int) -> None:
    """Aggregate the facts of the customers at positions `todo`, a chunk at a time, on
    `workers` connections (gateway/segmentation/parallel.py); placed here, in one thread."""
    chunks = [todo[start:start + CHUNK] for start in range(0, todo.size, CHUNK)]
    for part, (orders_found, found, hours) in run_chunks(
            engine, [frame.ids[at] for at in chunks], _chunk_facts(config, full), workers):
        at = np.searchsorted(frame.ids, part)  # the chunk's ids back to their positions
        frame.reset(at)
        orders_found[:, 2] = np.round(np.nan_to_num(orders_found[:, 2]))  # euro cents, whole
        frame.place_matrix(orders_found, _ORDER_NAMES)
        frame.place_matrix(found[:, :9], _INTERACTION_NAMES[:8])
        frame.place_matrix(found[:, [0, 12]], _INTERACTION_NAMES[9:])
        where, ok = frame.positions(found[:, 0].astype(np.int64))
        frame.cols["preferred_device"][where] = aggregate.preferred_device(found[ok, 9:12])
        frame.place_matrix(hours, ("best_hour",))
        if progress is not None:
            progress(int(at.size))


def _facts(frame: Frame, created: np.ndarray[Any, Any], campaigns: np.ndarray[Any, Any]) -> Facts:
    c = frame.cols
    sent = campaigns.size - np.searchsorted(campaigns, created, side="left")
    return Facts(
        purchases=c["purchases"], spent_eur=c["spent_eur_cents"] / 100.0,
        first_at=c["first_purchase_ts"], last_at=c["last_purchase_ts"],
        prev_at=c["prev_purchase_ts"], created_at=created, email_opens=c["email_opens"],
        email_clicks=c["email_clicks"], email_campaigns=c["email_campaigns"],
        campaigns_sent=sent.astype(np.int64),
    )


def compute(engine: Engine, config: SegmentationConfig, profiling: Purpose, now: datetime, *,
            full: bool = False, progress: Progress | None = None,
            total: Callable[[int], None] | None = None, workers: int | None = None) -> ComputeReport:
    """One run of the job (see the module's docstring); each step commits on its own.
    `workers`: connections the facts are aggregated on (default: `default_workers`)."""
    with engine.begin() as conn:
        removed = purge(conn, profiling, now)
    with engine.connect() as conn, aggregate_memory(conn):
        ids, created = _eligible(conn, profiling, now)
        frame = Frame(ids)
        if not full:
            _load_stored(conn, frame)
        todo = np.arange(ids.size) if full else _changed(conn, config, frame)
        campaigns = aggregate.campaign_starts(conn)
        if total is not None:
            total(int(todo.size) + int(ids.size))
        whole = full or not frame.present.any()
    _aggregate(engine, config, frame, todo, whole, progress,
               default_workers(engine) if workers is None else workers)
    attrs = derive(_facts(frame, created, campaigns), now.timestamp(), config)
    again = np.zeros(ids.size, dtype=bool)
    again[todo] = True
    written = _write(engine, frame, attrs, again, now, progress)
    return ComputeReport(int(ids.size), int(todo.size), written, removed)


def _objects(values: list[Any]) -> np.ndarray[Any, Any]:
    held = np.empty(len(values), dtype=object)
    for k, v in enumerate(values):
        held[k] = v
    return held


def _values(col: np.ndarray[Any, Any], at: np.ndarray[Any, Any], as_int: bool = False) -> list[Any]:
    """Python values of `col` at `at`, NaN as None (moments and hours as whole numbers)."""
    part = col[at]
    if part.dtype.kind != "f":
        return list(part.tolist())
    if as_int:
        return [None if v != v else int(v) for v in part.tolist()]  # noqa: PLR0124 (NaN test)
    return [None if v != v else v for v in part.tolist()]  # noqa: PLR0124


def _same(new: np.ndarray[Any, Any], old: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    if new.dtype.kind == "f" and old.dtype.kind == "f":
        same: np.ndarray[Any, Any] = (new == old) | (np.isnan(new) & np.isnan(old))
        return same
    return np.array([a == b for a, b in zip(new.tolist(), old.tolist(), strict=True)], dtype=bool)


def _write(engine: Engine, frame: Frame, attrs: Any, again: np.ndarray[Any, Any], now: datetime,
           progress: Progress | None) -> int:
    """Write the rows whose facts were aggregated again or whose attributes changed."""
    buyer = attrs.r > 0
    new = {
        "recency_days": np.where(buyer, attrs.recency_days, np.nan),
        "r_score": np.where(buyer, attrs.r, np.nan), "f_score": np.where(buyer, attrs.f, np.nan),
        "m_score": np.where(buyer, attrs.m, np.nan), "rfm_cell": attrs.cell,
        "lifecycle": attrs.lifecycle, "email_open_rate": attrs.open_rate,
        "email_click_rate": attrs.click_rate,
        "milestones": _objects(attrs.milestones),
    }
    dirty = again.copy()
    for name, values in new.items():
        dirty |= ~_same(values, frame.cols[name])
    at_all = np.flatnonzero(dirty)
    columns = ("customer_id", "computed_at", *FACT_COLUMNS, *DERIVED_COLUMNS)
    ints = {"first_purchase_ts", "last_purchase_ts", "prev_purchase_ts", "last_email_ts",
            "last_web_ts", "last_call_ts", "best_hour", "recency_days", "r_score", "f_score", "m_score"}
    # Every profiled customer written (a full run): the table's contents are replaced, and
    # rows that are all new are inserted without a conflict to look up for each.
    replace = at_all.size == frame.ids.size
    with engine.begin() as conn, bulk_cache(conn):
        if replace:
            conn.execute(delete(customer_attributes))
        customer_rows: list[tuple[Any, ...]] = []
        for start in range(0, at_all.size, WRITE_BATCH):
            at = at_all[start:start + WRITE_BATCH]
            cids = frame.ids[at].tolist()
            facts = [_values(frame.cols[n], at, n in ints) for n in FACT_COLUMNS]
            derived = [_values(new[n], at, n in ints) for n in DERIVED_COLUMNS]
            rows = list(zip(cids, [now] * len(cids), *facts, *derived, strict=True))
            if replace:
                insert(conn, customer_attributes, columns, rows)
            else:
                upsert(conn, customer_attributes, columns, rows, ("customer_id",))
            d = dict(zip(DERIVED_COLUMNS, derived, strict=True))
            customer_rows.extend(zip(cids, d["lifecycle"], d["rfm_cell"], d["recency_days"],
                                     d["f_score"], d["m_score"], strict=True))
            if progress is not None:
                progress(len(cids))
        # One statement for all of them: on PostgreSQL, each keyed update joins its rows to
        # `customers` by a scan and a hash of the whole table (20k rows or 400k alike), so
        # one per batch scanned a million customers 23 times.
        update_by_key(conn, customers, "id", CUSTOMER_COLUMNS, customer_rows)
    if progress is not None:
        progress(int(frame.ids.size - at_all.size))
    return int(at_all.size)


def attribute_count(conn: Connection) -> int:
    """How many customers have computed attributes."""
    return int(conn.execute(select(func.count()).select_from(customer_attributes)).scalar_one())
