"""The features of the propensity models, one definition for training and for scoring.

A feature is computed from a customer's facts as they were at a moment T (orders and
interactions before T): at a past cutoff when a model is trained (labels come after it: no
leakage from the future), at `now` when customers are scored (from the facts the compute job
stored). Each feature names its data category, so a score and its explanation are decided on
every category they reveal (DESIGN.md rule 7), and the words a person reads about it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

F = npt.NDArray[np.float64]
DAY = 86_400.0
CAP_DAYS = 1095.0  # "never" and "over three years ago" are the same to a model


@dataclass(frozen=True)
class Feature:
    """One model input: how it is shown to a person and which category it reveals."""

    name: str
    category: str
    label: str  # plain words, e.g. "days since your last purchase"
    log: bool = False  # the model sees log(1 + value): counts and amounts are skewed


FEATURES: tuple[Feature, ...] = (
    Feature("days_since_last_purchase", "transactions", "days since your last purchase"),
    Feature("purchases", "transactions", "purchases you made", log=True),
    Feature("spent_eur", "transactions", "euros you spent with us", log=True),
    Feature("tenure_days", "transactions", "days since you became a customer"),
    Feature("email_opens", "interactions", "emails you opened", log=True),
    Feature("email_clicks", "interactions", "links you clicked in emails", log=True),
    Feature("web_visits", "interactions", "visits to our website", log=True),
    Feature("days_since_last_email", "interactions", "days since you last opened an email"),
    Feature("days_since_last_web", "interactions", "days since you last visited our website"),
)
NAMES = tuple(f.name for f in FEATURES)
BY_NAME = {f.name: f for f in FEATURES}
CATEGORIES = tuple(dict.fromkeys(f.category for f in FEATURES))


@dataclass(frozen=True)
class FactColumns:
    """The facts features are computed from, one entry per customer (moments in unix s)."""

    purchases: F
    spent_eur: F
    last_purchase: F  # NaN: never
    created: F
    email_opens: F
    email_clicks: F
    web_visits: F
    last_email: F
    last_web: F


def _days_since(moment: F, at: float) -> F:
    days = (at - moment) / DAY
    return np.clip(np.nan_to_num(days, nan=CAP_DAYS), 0.0, CAP_DAYS)


def raw_features(facts: FactColumns, at: float) -> F:
    """The features' values in their own units (what explanations quote): rows x NAMES."""
    cols = {
        "days_since_last_purchase": _days_since(facts.last_purchase, at),
        "purchases": facts.purchases,
        "spent_eur": facts.spent_eur,
        "tenure_days": np.clip((at - facts.created) / DAY, 0.0, None),
        "email_opens": facts.email_opens,
        "email_clicks": facts.email_clicks,
        "web_visits": facts.web_visits,
        "days_since_last_email": _days_since(facts.last_email, at),
        "days_since_last_web": _days_since(facts.last_web, at),
    }
    return np.column_stack([cols[n].astype(np.float64) for n in NAMES]) if facts.purchases.size \
        else np.zeros((0, len(NAMES)))


def model_inputs(raw: F) -> F:
    """What the model sees: counts and amounts as log(1 + value)."""
    out = raw.copy()
    for j, f in enumerate(FEATURES):
        if f.log:
            out[:, j] = np.log1p(np.clip(out[:, j], 0.0, None))
    return out


def columns_from_rows(rows: list[tuple[Any, ...]]) -> FactColumns:
    """FactColumns from rows of (purchases, spent_eur, last_purchase, created, opens,
    clicks, visits, last_email, last_web), None for never."""
    nan = float("nan")
    cols = list(zip(*rows, strict=True)) if rows else [()] * 9

    def arr(i: int, none: float) -> F:
        return np.array([none if v is None else float(v) for v in cols[i]], dtype=np.float64)

    return FactColumns(arr(0, 0.0), arr(1, 0.0), arr(2, nan), arr(3, nan), arr(4, 0.0),
                       arr(5, 0.0), arr(6, 0.0), arr(7, nan), arr(8, nan))
