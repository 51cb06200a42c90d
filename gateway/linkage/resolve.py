"""One batch run: records in, a cluster per record out, exactly the production matching.

Used by `consent-gateway linkage resolve` (storing nothing), by ingestion (which then
stores the clusters as persons) and by the benchmark.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gateway.linkage.cluster import DEFAULT_THRESHOLD, DEFAULT_VETO, TraitScorer, cluster, traits_of
from gateway.linkage.model import TrainedModel, predict, train
from gateway.linkage.prepare import frame_of


@dataclass(frozen=True)
class Resolution:
    """The outcome of a run: the prepared frame, the scored pairs and a label per record."""

    frame: pd.DataFrame
    pairs: pd.DataFrame
    labels: np.ndarray
    model: TrainedModel


def resolve_frame(frame: pd.DataFrame, *, model: TrainedModel | None = None,
                  threshold: float = DEFAULT_THRESHOLD, veto: float = DEFAULT_VETO, threads: int | None = None) -> Resolution:
    """Train (unless `model` is given), score and cluster a prepared frame."""
    if len(frame) < 2:
        return Resolution(frame, pd.DataFrame(), np.arange(len(frame), dtype=np.int64),
                          model or TrainedModel({}, len(frame)))
    trained = model or train(frame)
    pairs = predict(frame, trained, threads=threads)
    labels = cluster(len(frame), pairs, traits_of(frame), TraitScorer(trained.settings),
                     threshold=threshold, veto=veto)
    return Resolution(frame, pairs, labels, trained)


def resolve_records(records: Sequence[dict[str, Any]] | pd.DataFrame, **options: Any) -> Resolution:
    """`resolve_frame` of raw canonical records."""
    return resolve_frame(frame_of(records), **options)
