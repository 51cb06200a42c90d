"""Personas: k-means clusters of the profiled customers on scaled RFM and affinity features.

Each fit is a new version with its metrics (silhouette on a sample, inertia) and an artifact
(scaler, centroids, keys) stored with its SHA-256. Persona keys are stable between versions:
the new clusters are matched to the previous version's (Hungarian assignment on the distance
between centroids, in the new scaling), and a matched cluster keeps its key, so "persona 3"
means the same kind of customer after a refit. Each persona has a readable profile: a name
from its most distinctive features and a description with the centroid's numbers.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from sqlalchemy import Connection, Engine, func, insert, select

from gateway.segmentation.config import SegmentationConfig
from gateway.segmentation.tables import customer_attributes, persona_models, personas
from gateway.store.bulk import update_by_key

F = npt.NDArray[np.float64]
FEATURES = ("r_score", "f_score", "m_score", "email_open_rate", "email_click_rate",
            "web_visits_log", "mobile")
# (words when high, words when low) for each feature's distinctiveness
WORDS = {
    "r_score": ("recent buyers", "long-gone buyers"),
    "f_score": ("frequent buyers", "one-off buyers"),
    "m_score": ("big spenders", "small spenders"),
    "email_open_rate": ("email readers", "email-silent"),
    "email_click_rate": ("email clickers", "non-clickers"),
    "web_visits_log": ("web regulars", "rarely online"),
    "mobile": ("mobile-first", "desktop users"),
}


@dataclass(frozen=True)
class PersonaModel:
    """A fitted persona model, as stored."""

    version: int
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    centroids: tuple[tuple[float, ...], ...]  # in the features' own units
    keys: tuple[int, ...]  # the stable key of each centroid

    def to_bytes(self) -> bytes:
        return json.dumps({"version": self.version, "features": list(FEATURES), "mean": list(self.mean),
                           "scale": list(self.scale), "centroids": [list(c) for c in self.centroids],
                           "keys": list(self.keys)}, sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, data: bytes, sha256: str) -> PersonaModel:
        if hashlib.sha256(data).hexdigest() != sha256:
            raise ValueError("the persona artifact does not match its SHA-256")
        raw = json.loads(data)
        return cls(raw["version"], tuple(raw["mean"]), tuple(raw["scale"]),
                   tuple(tuple(c) for c in raw["centroids"]), tuple(raw["keys"]))

    def assign(self, x: F) -> npt.NDArray[np.int64]:
        """The stable persona key of each row of features."""
        mean, scale = np.array(self.mean), np.array(self.scale)
        z = (x - mean) / scale
        c = (np.array(self.centroids) - mean) / scale
        nearest = ((z[:, None, :] - c[None, :, :]) ** 2).sum(axis=2).argmin(axis=1)
        keys: npt.NDArray[np.int64] = np.array(self.keys, dtype=np.int64)[nearest]
        return keys


@dataclass(frozen=True)
class FitReport:
    version: int
    customers: int
    silhouette: float | None
    personas: list[dict[str, Any]]


def features(conn: Connection) -> tuple[npt.NDArray[np.int64], F]:
    """(customer ids, feature rows) of every customer with computed attributes."""
    a = customer_attributes.c
    rows = conn.execute(select(a.customer_id, a.r_score, a.f_score, a.m_score, a.email_open_rate,
                               a.email_click_rate, a.web_visits, a.preferred_device)
                        .order_by(a.customer_id)).all()
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    x = np.array([[r[1] or 0, r[2] or 0, r[3] or 0, r[4] or 0.0, r[5] or 0.0, np.log1p(r[6] or 0),
                   1.0 if r[7] == "mobile" else 0.0] for r in rows], dtype=np.float64).reshape(-1, len(FEATURES))
    return ids, x


def _previous(conn: Connection) -> PersonaModel | None:
    m = persona_models.c
    row = conn.execute(select(m.artifact, m.artifact_sha256).order_by(m.version.desc()).limit(1)).first()
    return PersonaModel.from_bytes(row.artifact, row.artifact_sha256) if row is not None else None


def stable_keys(previous: PersonaModel | None, centroids: F, mean: F, scale: F) -> list[int]:
    """Keys for the new centroids: the matched previous cluster's, else new ones."""
    if previous is None:
        return list(range(1, len(centroids) + 1))
    old = (np.array(previous.centroids) - mean) / scale
    new = (centroids - mean) / scale
    cost = ((new[:, None, :] - old[None, :, :]) ** 2).sum(axis=2)
    rows, cols = linear_sum_assignment(cost)
    keys = [0] * len(centroids)
    for r, c in zip(rows, cols, strict=True):
        keys[r] = previous.keys[c]
    fresh = max(previous.keys) + 1
    for i, k in enumerate(keys):
        if k == 0:
            keys[i], fresh = fresh, fresh + 1
    return keys


def describe(centroid: F, mean: F, scale: F, size: int) -> tuple[str, str]:
    """A name from the two most distinctive features, and the centroid in words and numbers."""
    z = (centroid - mean) / scale
    top = np.argsort(-np.abs(z))[:2]
    words = [WORDS[FEATURES[j]][0 if z[j] > 0 else 1] for j in top]
    name = ", ".join(words).capitalize() if words else "Customers"
    r, f, m, opens, clicks, web, mobile = np.clip(centroid, 0.0, None)
    text = (f"Recency {r:.1f}, frequency {f:.1f}, monetary {m:.1f} (quintiles, 0: no purchase); "
            f"opens {opens:.0%} of the campaigns sent, clicks {clicks:.0%} of the emails opened; "
            f"about {np.expm1(web):.0f} web visits; {mobile:.0%} mostly on mobile. {size} customers.")
    return name, text


def fit_personas(engine: Engine, config: SegmentationConfig, now: datetime) -> FitReport:
    """Fit a new persona version on the profiled customers, store it, assign everyone."""
    with engine.connect() as conn:
        ids, x = features(conn)
        previous = _previous(conn)
        version = int(conn.execute(select(func.coalesce(func.max(persona_models.c.version), 0))).scalar_one()) + 1
    k = min(config.persona_k, max(1, ids.size))
    if ids.size < 2 * k:
        raise ValueError(f"too few profiled customers ({ids.size}) for {k} personas; run "
                         "`consent-gateway segments compute` first")
    rng = np.random.default_rng(config.persona_seed)
    sample = x[rng.choice(ids.size, min(ids.size, config.persona_sample), replace=False)]
    mean, scale = sample.mean(axis=0), sample.std(axis=0)
    scale = np.where(scale == 0, 1.0, scale)
    km = KMeans(n_clusters=k, n_init=10, random_state=config.persona_seed).fit((sample - mean) / scale)
    centroids = km.cluster_centers_ * scale + mean
    keys = stable_keys(previous, centroids, mean, scale)
    model = PersonaModel(version, tuple(mean.tolist()), tuple(scale.tolist()),
                         tuple(tuple(c) for c in centroids.tolist()), tuple(keys))
    assigned = model.assign(x)
    sil_n = min(config.silhouette_sample, sample.shape[0])
    silhouette = (float(silhouette_score((sample - mean) / scale, km.labels_, sample_size=sil_n,
                                         random_state=config.persona_seed))
                  if len(set(km.labels_.tolist())) > 1 else None)
    profiles = []
    for key, centroid in zip(keys, centroids, strict=True):
        size = int((assigned == key).sum())
        name, text = describe(centroid, mean, scale, size)
        profiles.append({"key": key, "name": name, "description": text, "size": size,
                         "centroid": dict(zip(FEATURES, (float(v) for v in centroid), strict=True))})
    data = model.to_bytes()
    with engine.begin() as conn:
        conn.execute(insert(persona_models).values(
            version=version, trained_at=now, customers=int(ids.size), features=list(FEATURES),
            metrics={"silhouette": silhouette, "inertia": float(km.inertia_), "k": k,
                     "sample": int(sample.shape[0])},
            artifact=data, artifact_sha256=hashlib.sha256(data).hexdigest()))
        conn.execute(insert(personas), [{"version": version, **{k2: p[k2] for k2 in (
            "key", "name", "description", "centroid", "size")}} for p in profiles])
        _write(conn, ids.tolist(), assigned.tolist(), version)
    return FitReport(version, int(ids.size), silhouette, profiles)


def _write(conn: Connection, ids: Sequence[int], keys: Sequence[int], version: int) -> None:
    rows = [(cid, key, version) for cid, key in zip(ids, keys, strict=True)]
    for start in range(0, len(rows), 50_000):
        update_by_key(conn, customer_attributes, "customer_id", ("persona_key", "persona_version"),
                      rows[start:start + 50_000])


def assign_latest(engine: Engine) -> int:
    """Assign every customer with attributes to the latest persona model (after a compute
    run); how many were assigned (0 without a model)."""
    with engine.connect() as conn:
        model = _previous(conn)
        if model is None:
            return 0
        ids, x = features(conn)
    if ids.size == 0:
        return 0
    with engine.begin() as conn:
        _write(conn, ids.tolist(), model.assign(x).tolist(), model.version)
    return int(ids.size)
