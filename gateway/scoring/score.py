"""Scoring every customer who may be profiled with the active models, and reading the
scores back with their explanations.

Scores are computed from the facts the compute job stored (gateway/segmentation/compute.py),
so `segments compute` runs first. A customer who may not be profiled is never scored, and
loses every score on the next run of either job.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, select

from gateway.consent.purposes import Purpose
from gateway.profile.tables import customers
from gateway.scoring.features import FactColumns, columns_from_rows, raw_features
from gateway.scoring.model import Factor, LinearModel, explain
from gateway.scoring.tables import customer_scores, score_models
from gateway.scoring.train import MODELS
from gateway.segmentation import aggregate
from gateway.segmentation.compute import may_profile_all, purge
from gateway.segmentation.tables import customer_attributes
from gateway.store.bulk import bulk_cache, insert, upsert

WRITE_BATCH = 50_000
_CACHE: dict[str, LinearModel] = {}


@dataclass(frozen=True)
class ActiveModel:
    """The active version of one model."""

    name: str
    version: int
    model: LinearModel


def load_model(artifact: bytes, digest: str) -> LinearModel:
    """The model of a stored artifact (checked against its hash once per process)."""
    found = _CACHE.get(digest)
    if found is None:
        if len(_CACHE) > 64:
            _CACHE.clear()
        found = _CACHE[digest] = LinearModel.from_bytes(artifact, digest)
    return found


def active_models(conn: Connection) -> list[ActiveModel]:
    """The active version of each model, by name."""
    m = score_models.c
    rows = conn.execute(select(m.name, m.version, m.artifact, m.artifact_sha256)
                        .where(m.active.is_(True)).order_by(m.name)).all()
    return [ActiveModel(r.name, r.version, load_model(r.artifact, r.artifact_sha256)) for r in rows]


def _fact_select(conn: Connection) -> Any:
    a = customer_attributes.c
    return select(a.customer_id, a.purchases, a.spent_eur_cents / 100.0, a.last_purchase_ts,
                  aggregate.epoch(conn, customers.c.created_at), a.email_opens, a.email_clicks,
                  a.web_visits, a.last_email_ts, a.last_web_ts).join(
        customers, customers.c.id == a.customer_id)


def stored_facts(conn: Connection, ids: Sequence[int]) -> dict[int, FactColumns]:
    """The stored facts of each of `ids` that has any (one-row columns each)."""
    rows = conn.execute(_fact_select(conn).where(customer_attributes.c.customer_id.in_(list(ids))))
    return {r[0]: columns_from_rows([tuple(r[1:])]) for r in rows}


@dataclass(frozen=True)
class ScoreReport:
    scored: int
    models: tuple[str, ...]
    removed: int


def score_all(engine: Engine, profiling: Purpose, now: datetime,
              progress: Callable[[int], None] | None = None) -> ScoreReport:
    """Score every customer who may be profiled and has computed facts; purge the others.

    Streamed: the facts are read, scored and written a batch at a time, so memory does not
    grow with the number of customers. The active models' scores are replaced as a whole,
    in one transaction: a customer without facts keeps no score of them.
    """
    with engine.begin() as conn:
        removed = purge(conn, profiling, now)
    with engine.connect() as conn:
        models = active_models(conn)
    if not models:
        return ScoreReport(0, (), removed)
    columns = ("customer_id", "model", "version", "value", "scored_at")
    stmt = _fact_select_for(engine).where(may_profile_all(profiling, now)).order_by(
        customer_attributes.c.customer_id)
    scored = 0
    names = [m.name for m in models]
    s = customer_scores.c
    # PostgreSQL: an upsert goes through a temporary table and a conflict lookup per row;
    # deleting first and COPYing straight into the table costs half. SQLite: an upsert that
    # leaves a value as it was does not touch the (model, value) index, which a delete and
    # insert rewrites; the rows this run did not write are deleted after. Same end state.
    fresh = engine.dialect.name == "postgresql"
    with engine.connect() as reading, engine.begin() as writing, bulk_cache(writing):
        if fresh:
            writing.execute(delete(customer_scores).where(s.model.in_(names)))
        result = reading.execute(stmt)
        cursor: Any = result.cursor
        try:
            while batch := cursor.fetchmany(WRITE_BATCH):
                ids = [r[0] for r in batch]
                raw = raw_features(columns_from_rows([tuple(r[1:]) for r in batch]), now.timestamp())
                out: list[tuple[Any, ...]] = []
                for m in models:
                    out.extend(zip(ids, [m.name] * len(ids), [m.version] * len(ids),
                                   m.model.predict(raw).tolist(), [now] * len(ids), strict=True))
                if fresh:
                    insert(writing, customer_scores, columns, out)
                else:
                    upsert(writing, customer_scores, columns, out, ("customer_id", "model"))
                scored += len(ids)
                if progress is not None:
                    progress(len(ids))
        finally:
            result.close()
        if not fresh:
            writing.execute(delete(customer_scores).where(s.model.in_(names), s.scored_at != now))
    return ScoreReport(scored, tuple(m.name for m in models), removed)


def _fact_select_for(engine: Engine) -> Any:
    with engine.connect() as conn:
        return _fact_select(conn)


@dataclass(frozen=True)
class Score:
    """One score of one customer, with the reasons behind it."""

    model: str
    version: int
    value: float
    scored_at: datetime
    explanation: list[Factor]


def scores_of(conn: Connection, ids: Sequence[int]) -> dict[int, list[Score]]:
    """The scores of each of `ids`, each explained from the facts it was computed from."""
    if not ids:
        return {}
    s, m = customer_scores.c, score_models.c
    rows = conn.execute(select(s.customer_id, s.model, s.version, s.value, s.scored_at, m.artifact,
                               m.artifact_sha256)
                        .join(score_models, (m.name == s.model) & (m.version == s.version))
                        .where(s.customer_id.in_(list(ids))).order_by(s.customer_id, s.model)).all()
    facts = stored_facts(conn, ids)
    out: dict[int, list[Score]] = {}
    for r in rows:
        model = load_model(r.artifact, r.artifact_sha256)
        found = facts.get(r.customer_id)
        why = MODELS[r.model].description if r.model in MODELS else f"the {r.model} score"
        explanation = (explain(model, raw_features(found, r.scored_at.timestamp())[0], why)
                       if found is not None else [])
        out.setdefault(r.customer_id, []).append(
            Score(r.model, r.version, float(r.value), r.scored_at, explanation))
    return out
