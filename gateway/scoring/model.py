"""A propensity model: scikit-learn to fit it, a plain artifact to use it.

The fitted pipeline (standard scaling, then logistic regression) is stored as JSON: the
scaler's means and scales, the coefficients and the intercept, with the SHA-256 of those
bytes. Scoring and explaining need nothing else, so no pickle is ever loaded, and an
artifact whose hash does not match is refused.

Explanations (GDPR Art. 22): for a linear model on standardised inputs, each feature's
contribution to a customer's log-odds, relative to the average customer of the training
data, is `coefficient * (input - mean) / scale`. The contributions of all features add up
to the customer's log-odds minus the average's: an exact account, not an approximation.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.calibration import calibration_curve
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from gateway.scoring.features import BY_NAME, NAMES, model_inputs

F = npt.NDArray[np.float64]
TOP_FACTORS = 3


class ArtifactError(ValueError):
    """An artifact that does not match its hash or its feature list."""


@dataclass(frozen=True)
class LinearModel:
    """A fitted model: inputs standardised with (mean, scale), then a logistic regression."""

    name: str
    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    raw_mean: tuple[float, ...]  # the average customer in the features' own units (for words)

    def to_bytes(self) -> bytes:
        return json.dumps({
            "name": self.name, "features": list(self.features), "mean": list(self.mean),
            "scale": list(self.scale), "coef": list(self.coef), "intercept": self.intercept,
            "raw_mean": list(self.raw_mean),
        }, sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, data: bytes, sha256: str) -> LinearModel:
        """The model in `data`, if it hashes to `sha256` and uses the known features."""
        if hashlib.sha256(data).hexdigest() != sha256:
            raise ArtifactError("the artifact does not match its SHA-256")
        raw = json.loads(data)
        if tuple(raw["features"]) != NAMES:
            raise ArtifactError("the artifact was fitted on other features; train again")
        return cls(raw["name"], tuple(raw["features"]), tuple(raw["mean"]), tuple(raw["scale"]),
                   tuple(raw["coef"]), float(raw["intercept"]), tuple(raw["raw_mean"]))

    def _z(self, raw: F) -> F:
        z: F = (model_inputs(raw) - np.array(self.mean)) / np.array(self.scale)
        return z

    def contributions(self, raw: F) -> F:
        """Each feature's contribution to each customer's log-odds (rows x features)."""
        out: F = self._z(raw) * np.array(self.coef)
        return out

    def predict(self, raw: F) -> F:
        """The probability of each customer (rows of raw features)."""
        logit = self.contributions(raw).sum(axis=1) + self.intercept
        p: F = 1.0 / (1.0 + np.exp(-logit))
        return p


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fit(name: str, raw: F, labels: npt.NDArray[np.int64], seed: int = 7) -> LinearModel:
    """Fit the pipeline on raw features and 0/1 labels."""
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, random_state=seed))
    pipeline.fit(model_inputs(raw), labels)
    scaler, logistic = pipeline[0], pipeline[1]
    scale = np.where(scaler.scale_ == 0, 1.0, scaler.scale_)
    return LinearModel(
        name=name, features=NAMES, mean=tuple(float(v) for v in scaler.mean_),
        scale=tuple(float(v) for v in scale), coef=tuple(float(v) for v in logistic.coef_[0]),
        intercept=float(logistic.intercept_[0]),
        raw_mean=tuple(float(v) for v in raw.mean(axis=0)),
    )


def metrics(model: LinearModel, raw: F, labels: npt.NDArray[np.int64]) -> dict[str, Any]:
    """AUC, Brier score, a 10-bin calibration table and the lift of the top decile."""
    p = model.predict(raw)
    base = float(labels.mean()) if labels.size else 0.0
    out: dict[str, Any] = {"customers": int(labels.size), "positive_rate": base}
    if labels.size == 0 or labels.min() == labels.max():
        out.update(auc=None, brier=None, calibration=[], lift_top_decile=None)
        return out
    true_frac, mean_pred = calibration_curve(labels, p, n_bins=10, strategy="quantile")
    top = np.argsort(-p)[: max(1, labels.size // 10)]
    out.update(
        auc=float(roc_auc_score(labels, p)), brier=float(brier_score_loss(labels, p)),
        calibration=[[float(a), float(b)] for a, b in zip(mean_pred, true_frac, strict=True)],
        lift_top_decile=float(labels[top].mean() / base) if base else None,
    )
    return out


@dataclass(frozen=True)
class Factor:
    """One reason behind a value, for the person it is about."""

    feature: str
    value: float
    typical: float
    contribution: float  # to the log-odds; positive raises the score
    text: str


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 10 or value == int(value) else f"{value:.1f}"


def explain(model: LinearModel, raw_row: F, what: str, top: int = TOP_FACTORS) -> list[Factor]:
    """The features that moved this customer's score most, in plain words."""
    contrib = model.contributions(raw_row.reshape(1, -1))[0]
    order = np.argsort(-np.abs(contrib))[:top]
    out = []
    for j in order:
        f = BY_NAME[model.features[j]]
        value, typical = float(raw_row[j]), float(model.raw_mean[j])
        effect = "raises" if contrib[j] > 0 else "lowers"
        out.append(Factor(
            f.name, value, typical, float(contrib[j]),
            f"{f.label.capitalize()}: {_number(value)} (a typical customer: {_number(typical)}). "
            f"This {effect} {what}.",
        ))
    return out
