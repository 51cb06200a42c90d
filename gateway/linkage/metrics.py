"""Scores of a clustering against the truth: pairwise and B-cubed precision, recall, F1."""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Scores:
    """Precision, recall and F1 of one kind (pairwise or B-cubed)."""

    precision: float
    recall: float

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def _pairs(counter: Counter[Hashable]) -> int:
    return sum(n * (n - 1) // 2 for n in counter.values())


def pairwise(predicted: Sequence[Hashable], truth: Sequence[Hashable]) -> Scores:
    """Over all record pairs: a pair is predicted when both share a cluster, true when both
    share an entity."""
    both = _pairs(Counter(zip(predicted, truth, strict=True)))
    found, real = _pairs(Counter(predicted)), _pairs(Counter(truth))
    return Scores(both / found if found else 1.0, both / real if real else 1.0)


def bcubed(predicted: Sequence[Hashable], truth: Sequence[Hashable]) -> Scores:
    """Per record: the share of its cluster that is its entity (precision) and of its entity
    that is in its cluster (recall), averaged over records."""
    joint = Counter(zip(predicted, truth, strict=True))
    cluster_size, entity_size = Counter(predicted), Counter(truth)
    n = len(predicted)
    if n == 0:
        return Scores(1.0, 1.0)
    precision = sum(c * c / cluster_size[p] for (p, _), c in joint.items()) / n
    recall = sum(c * c / entity_size[t] for (_, t), c in joint.items()) / n
    return Scores(precision, recall)
