"""Online matching: one new record against the persons it shares a blocking key with.

The batch path scores pairs in DuckDB through Splink; one record at a time cannot pay
Splink's set-up (a few hundred milliseconds). This scorer evaluates the same comparison
levels (gateway/linkage/comparisons.py, mirrored level by level; a test checks it against
Splink on generated pairs) under the same trained parameters, in Python, on the handful of
candidate records the blind-indexed keys find.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rapidfuzz.distance import DamerauLevenshtein, JaroWinkler, Levenshtein
from sqlalchemy import Connection, select

from gateway.linkage.cluster import DEFAULT_VETO, TraitScorer, swapped, traits_of_row
from gateway.linkage.keys import digests
from gateway.linkage.model import COMPARISON_NAMES, TrainedModel
from gateway.linkage.prepare import prepare_row
from gateway.linkage.records import load_records
from gateway.linkage.tables import linkage_keys
from gateway.privacy.datakeys import DataKeys
from gateway.privacy.vault import Vault

Row = Mapping[str, Any]
# Persons opened per match: the right one shares the most keys with the record; the rest
# only cost decryption.
MAX_CANDIDATES = 20
# One record joins an existing person online only on positive evidence (a Bayes factor above
# the prior's odds): unlike the batch, nothing else in the run can correct a weak guess.
ONLINE_THRESHOLD = 0.0


def _s(row: Row, column: str) -> str:
    value = row.get(column)
    return value if isinstance(value, str) else ""


def _jw(a: str, b: str) -> float:
    return float(JaroWinkler.similarity(a, b))


def _first(l: Row, r: Row) -> int:
    a, b = _s(l, "fn"), _s(r, "fn")
    if not a or not b:
        return 0
    if a == b:
        return 1
    if _s(l, "fn_formal") == _s(r, "fn_formal"):
        return 2
    jw = _jw(a, b)
    if jw >= 0.92:
        return 3
    if swapped(a, _s(l, "ln"), b, _s(r, "ln")):
        return 4
    if jw >= 0.80:
        return 5
    if (len(a) == 1 or len(b) == 1) and a[0] == b[0]:
        return 6
    return 7


def _last(l: Row, r: Row) -> int:
    a, b = _s(l, "ln"), _s(r, "ln")
    if not a or not b:
        return 0
    if a == b:
        return 1
    if _s(l, "ln_sk") == _s(r, "ln_sk"):
        return 2
    jw = _jw(a, b)
    if jw >= 0.92:
        return 3
    if swapped(_s(l, "fn"), a, _s(r, "fn"), b):
        return 4
    return 5 if jw >= 0.80 else 6


def _dob(l: Row, r: Row) -> int:
    a, b = _s(l, "dob"), _s(r, "dob")
    if not a or not b:
        return 0
    if a == b:
        return 1
    if DamerauLevenshtein.distance(a, b) <= 1:
        return 2
    if a[:4] == b[:4] and a[4:6] == b[6:8] and a[6:8] == b[4:6]:
        return 3
    return 4 if Levenshtein.distance(a, b) <= 2 else 5


def _email(l: Row, r: Row) -> int:
    a, b = _s(l, "email"), _s(r, "email")
    if not a or not b:
        return 0
    if a == b:
        return 1
    la, lb = _s(l, "email_local"), _s(r, "email_local")
    if la == lb:
        return 2
    return 3 if DamerauLevenshtein.distance(a, b) <= 1 else 4


def _phone(l: Row, r: Row) -> int:
    a, b = _s(l, "phone_tail"), _s(r, "phone_tail")
    if not a or not b:
        return 0
    if a == b:
        return 1
    return 2 if DamerauLevenshtein.distance(a, b) <= 1 else 3


def _address(l: Row, r: Row) -> int:
    a, b = _s(l, "street"), _s(r, "street")
    if not a or not b:
        return 0
    same_number = _s(l, "hn") == _s(r, "hn")
    if a == b and same_number:
        return 1
    jw = _jw(a, b)
    if jw >= 0.88 and same_number and _s(l, "hn"):
        return 2
    if a == b:
        return 3
    return 4 if jw >= 0.88 else 5


def _exact_jw(column: str) -> Callable[[Row, Row], int]:
    def level(l: Row, r: Row) -> int:
        a, b = _s(l, column), _s(r, column)
        if not a or not b:
            return 0
        if a == b:
            return 1
        return 2 if _jw(a, b) >= 0.88 else 3
    return level


def _exact_typo(column: str) -> Callable[[Row, Row], int]:
    def level(l: Row, r: Row) -> int:
        a, b = _s(l, column), _s(r, column)
        if not a or not b:
            return 0
        if a == b:
            return 1
        return 2 if DamerauLevenshtein.distance(a, b) <= 1 else 3
    return level


def _exact(column: str) -> Callable[[Row, Row], int]:
    def level(l: Row, r: Row) -> int:
        a, b = _s(l, column), _s(r, column)
        if not a or not b:
            return 0
        return 1 if a == b else 2
    return level


LEVELS: dict[str, Callable[[Row, Row], int]] = {
    "first_name": _first, "last_name": _last, "birth_date": _dob, "email": _email, "phone": _phone,
    "address": _address, "unit": _exact_jw("unit"), "postcode": _exact_typo("postcode"),
    "city": _exact_jw("city"), "region": _exact("region"), "loyalty_card": _exact("card"),
    "sex": _exact("sex"),
}


class PairScorer:
    """Match weights of record pairs under a trained model, without term frequencies."""

    def __init__(self, model: TrainedModel) -> None:
        settings = model.settings
        prior = float(settings.get("probability_two_random_records_match") or 1e-4)
        self.prior = math.log2(prior / (1 - prior))
        self.weights: dict[str, list[float]] = {}
        for comparison in settings.get("comparisons", []):
            levels = []
            for level in comparison["comparison_levels"]:
                m, u = level.get("m_probability"), level.get("u_probability")
                levels.append(0.0 if level.get("is_null_level") or not m or not u else math.log2(m / u))
            self.weights[comparison["output_column_name"]] = levels
        # The clustering's veto under the same model, built once (not per match).
        self.traits = TraitScorer(settings)

    def levels(self, l: Row, r: Row) -> dict[str, int]:
        """The level index of each comparison (0: null), as comparisons.py orders them."""
        return {name: LEVELS[name](l, r) for name in COMPARISON_NAMES}

    def weight(self, l: Row, r: Row) -> tuple[float, dict[str, int]]:
        """The pair's match weight (log2 Bayes factor, prior included) and its levels."""
        levels = self.levels(l, r)
        total = self.prior + sum(self.weights[name][i] for name, i in levels.items() if name in self.weights)
        return total, levels


@dataclass(frozen=True)
class OnlineMatch:
    """The person a record belongs to (or None: a new person), how surely, and why."""

    customer_id: int | None
    match_weight: float | None
    levels: dict[str, int]
    candidates: int


def candidates(conn: Connection, vault: Vault, row: Row, limit: int = MAX_CANDIDATES) -> list[int]:
    """The persons sharing at least one blind-indexed key with `row`, most keys first.

    The lookup names each key's kind with its digest, so it walks the (kind, digest) index
    instead of scanning every key of every person.
    """
    found = digests(vault, row)
    if not found:
        return []
    lk = linkage_keys.c
    kinds = sorted({k for k, _ in found})
    counts: dict[int, int] = {}
    query = select(lk.customer_id).where(lk.kind.in_(kinds), lk.digest.in_([d for _, d in found]))
    for cid in conn.execute(query).scalars():
        counts[int(cid)] = counts.get(int(cid), 0) + 1
    return [c for c, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]]


def match_one(conn: Connection, vault: Vault, model: TrainedModel, values: Mapping[str, str], *,
              scorer: PairScorer | None = None, exclude: Sequence[int] = (),
              threshold: float = ONLINE_THRESHOLD, veto: float = DEFAULT_VETO) -> OnlineMatch:
    """Match one record (canonical values) against the stored persons; stores nothing."""
    scorer = scorer or PairScorer(model)
    row = prepare_row(values)
    people = [c for c in candidates(conn, vault, row) if c not in set(exclude)]
    if not people:
        return OnlineMatch(None, None, {}, 0)
    records = load_records(conn, vault, people, DataKeys(conn, vault))
    # Stored birth dates were written as ISO dates at ingestion: no day/month guess needed.
    rows = [prepare_row(r.values, day_first=True) for r in records]
    traits = [traits_of_row(other) for other in rows]
    mine = traits_of_row(row)
    best: dict[int, tuple[float, dict[str, int]]] = {}
    for record, other in zip(records, rows, strict=True):
        weight, levels = scorer.weight(row, other)
        if record.customer_id not in best or weight > best[record.customer_id][0]:
            best[record.customer_id] = (weight, levels)
    by_person: dict[int, list[int]] = {}
    for i, record in enumerate(records):
        by_person.setdefault(record.customer_id, []).append(i)
    for cid, (weight, levels) in sorted(best.items(), key=lambda kv: -kv[1][0]):
        if weight < threshold:
            break
        if any(scorer.traits.weight(mine, traits[i]) < -veto for i in by_person[cid]):
            continue
        return OnlineMatch(cid, weight, levels, len(people))
    return OnlineMatch(None, None, {}, len(people))
