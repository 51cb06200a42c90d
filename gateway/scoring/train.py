"""Training the propensity models with a time split, and versioning them with their metrics.

For a model with horizon H (30 days to buy, 90 days to churn):
- the features are the customers' facts as they were at a cutoff T (orders and interactions
  strictly before T), the label what happened in [T, T + H): nothing after T is an input;
- the model is fitted at T0 = now - 2H and evaluated out of time at T1 = now - H, whose
  window ends now: the metrics (AUC, Brier score, calibration, lift of the top decile) are
  those of the stored model on customers and a period it never saw.
Only customers who may be profiled now, and who were customers at the cutoff, take part.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, Engine, func, insert, select, update

from gateway.consent.purposes import Purpose
from gateway.consent.state import subject_allows
from gateway.errors import ServiceError
from gateway.policy.codes import Code
from gateway.profile.tables import customers, orders
from gateway.scoring.features import FactColumns, columns_from_rows, raw_features
from gateway.scoring.model import LinearModel, fit, metrics, sha256
from gateway.scoring.tables import score_models
from gateway.segmentation import aggregate
from gateway.segmentation.config import SegmentationConfig

CHUNK = 20_000
I = npt.NDArray[np.int64]


@dataclass(frozen=True)
class ModelSpec:
    """What a model predicts."""

    name: str
    horizon_days: int
    description: str
    buyers_only: bool = False  # churn: only customers who had bought before the cutoff
    churn: bool = False  # the label is *no* purchase in the window


MODELS: dict[str, ModelSpec] = {
    "purchase_30d": ModelSpec("purchase_30d", 30, "the chance of a purchase in the next 30 days"),
    "churn": ModelSpec("churn", 90, "the chance of no purchase in the next 90 days",
                       buyers_only=True, churn=True),
}


@dataclass(frozen=True)
class Trained:
    """A stored model version and its metrics."""

    name: str
    version: int
    sha256: str
    metrics: dict[str, Any]


def facts_at(conn: Connection, config: SegmentationConfig, ids: Sequence[int],
             before: datetime) -> FactColumns:
    """The facts of `ids` as they were just before `before`, in the order of `ids`."""
    c = customers.c
    created: dict[int, float] = {}
    rows: list[tuple[Any, ...]] = []
    for start in range(0, len(ids), CHUNK):
        part = list(ids[start:start + CHUNK])
        o = aggregate.order_facts(conn, config, part, 0, 0, before)
        i = aggregate.interaction_facts(conn, part, 0, 0, before)
        created.update(conn.execute(select(c.id, aggregate.epoch(conn, c.created_at))
                                    .where(c.id.in_(part))).all())
        for cid in part:
            of, inf = o.get(cid), i.get(cid)
            rows.append((of[0] if of else 0, (of[1] or 0) / 100 if of else 0, of[3] if of else None,
                         created.get(cid), inf[0] if inf else 0, inf[1] if inf else 0,
                         inf[3] if inf else 0, inf[5] if inf else None, inf[6] if inf else None))
    return columns_from_rows(rows)


def _purchased(conn: Connection, config: SegmentationConfig, since: datetime,
               until: datetime) -> set[int]:
    o = orders.c
    return set(conn.execute(select(o.customer_id).where(
        o.ordered_at >= since, o.ordered_at < until, o.status.not_in(config.not_purchases)
    ).distinct()).scalars())


def dataset(conn: Connection, config: SegmentationConfig, spec: ModelSpec, profiling: Purpose,
            now: datetime, cutoff: datetime) -> tuple[npt.NDArray[np.float64], I]:
    """Features at `cutoff` and labels in the window after it, for the eligible customers."""
    c = customers.c
    ids = list(conn.execute(select(c.id).where(
        subject_allows(c.id, profiling, now), c.created_at < cutoff).order_by(c.id)).scalars())
    facts = facts_at(conn, config, ids, cutoff)
    raw = raw_features(facts, cutoff.timestamp())
    bought = _purchased(conn, config, cutoff, cutoff + timedelta(days=spec.horizon_days))
    labels = np.array([cid in bought for cid in ids], dtype=np.int64)
    if spec.churn:
        labels = 1 - labels
    if spec.buyers_only:
        keep = facts.purchases > 0
        raw, labels = raw[keep], labels[keep]
    return raw, labels


def train(engine: Engine, config: SegmentationConfig, name: str, profiling: Purpose,
          now: datetime) -> Trained:
    """Fit `name` at now - 2H, evaluate it at now - H, store it as the active version."""
    spec = MODELS.get(name)
    if spec is None:
        raise ServiceError(Code.INVALID_INPUT, f"unknown model; one of {', '.join(MODELS)}", "model")
    horizon = timedelta(days=spec.horizon_days)
    with engine.connect() as conn:
        x_train, y_train = dataset(conn, config, spec, profiling, now, now - 2 * horizon)
        x_test, y_test = dataset(conn, config, spec, profiling, now, now - horizon)
    if y_train.size < 20 or y_train.min() == y_train.max():
        raise ServiceError(Code.INVALID_INPUT, "not enough history to train this model: it needs "
                           "customers of both outcomes before the training cutoff", "model")
    model = fit(name, x_train, y_train)
    found = metrics(model, x_test, y_test)
    found["train_customers"] = int(y_train.size)
    found["train_positive_rate"] = float(y_train.mean())
    return store(engine, model, found, now - 2 * horizon, now)


def store(engine: Engine, model: LinearModel, found: dict[str, Any], cutoff: datetime,
          now: datetime) -> Trained:
    """Save `model` as the next version of its name and make it the active one."""
    data = model.to_bytes()
    digest = sha256(data)
    m = score_models.c
    with engine.begin() as conn:
        version = int(conn.execute(select(func.coalesce(func.max(m.version), 0))
                                   .where(m.name == model.name)).scalar_one()) + 1
        conn.execute(update(score_models).where(m.name == model.name).values(active=False))
        conn.execute(insert(score_models).values(
            name=model.name, version=version, trained_at=now, cutoff=cutoff,
            features=list(model.features), metrics=found, artifact=data, artifact_sha256=digest,
            active=True,
        ))
    return Trained(model.name, version, digest, found)
