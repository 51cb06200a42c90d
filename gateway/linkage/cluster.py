"""Clustering that does not chain households.

Plain connected components over every edge above a threshold merge a family into one
person: the mother's record links to the daughter's through their shared email, the
daughter's to the father's through the home phone. Here edges are taken strongest first
(`match_weight` descending) and two clusters merge only when no record of one contradicts
a record of the other on what identifies a person rather than a household: first name,
birth date and sex. "Contradicts" is measured with the trained model itself: the negative
partial match weights of those comparisons (the same levels as the SQL, see `TraitScorer`)
must not sum below `-veto`. So a child (other first name, other birth date) never joins a
parent through the family email, a twin (other first name) never joins the other twin,
while a record with one typo'd or replaced value, which the model learned to expect from
the data, still joins its person.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from rapidfuzz.distance import DamerauLevenshtein, JaroWinkler, Levenshtein

# An edge joins two clusters only at or above this weight (log2 Bayes factor, prior included;
# every scored pair down to -2 is a candidate: the vetoes, not the threshold, keep people apart).
DEFAULT_THRESHOLD = -2.0
# Two records whose personal traits weigh below -VETO together are two people.
DEFAULT_VETO = 5.0
# A record without personal traits joins its best cluster only this many bits ahead of the next.
DEFAULT_MARGIN = 5.0
TRAIT_COMPARISONS = ("first_name", "birth_date", "sex")
FIRST_NAME_ELSE = 7
# m(first name: else) at or above which the model's own weight decides instead of a veto.
REPLACED_FIRST_NAMES = 0.06
BIRTH_DATE_ELSE = 5
# The same for birth dates. Higher than for first names: EM on a large sample learns part of
# the strangers who share a common name as matches, which lifts m(birth date: else) to about
# 0.06 at 300,000 records although the generator never replaces a birth date; there the
# model's own weight (about -4 bits) no longer reached the veto and namesakes born decades
# apart became one person (pairwise precision 0.83 at 300,000 records, 0.68 at 1,000,000).
# But FEBRL replaces birth dates in true matches with the same m (0.046-0.065), and there the
# strict rule cost recall (FEBRL3 pairwise F1 0.989 -> 0.966, FEBRL4 0.996 -> 0.978). So the
# strict rule gives way for the two records of the edge being merged when that edge alone
# weighs STRONG_EDGE bits or more (the rest of their record agrees: same address,
# postcode...): a namesake reached through a third record has no such edge.
REPLACED_BIRTH_DATES = 0.15
STRONG_EDGE = 10.0


@dataclass(frozen=True, slots=True)
class Traits:
    """What tells two people of one household apart (folded, may be empty)."""

    fn: str
    formal: str
    ln: str
    dob: str
    sex: str


def swapped(fn_l: str, ln_l: str, fn_r: str, ln_r: str) -> bool:
    """First and last name swapped, both ways (the other pair may be misspelt or missing),
    as the SQL in comparisons.py ("" is missing)."""
    return bool((fn_l and fn_l == ln_r and (not ln_l or not fn_r or JaroWinkler.similarity(ln_l, fn_r) >= 0.80))
                or (ln_l and ln_l == fn_r and (not fn_l or not ln_r or JaroWinkler.similarity(fn_l, ln_r) >= 0.80)))


def first_name_level(a: Traits, b: Traits) -> int:
    """The index of the first_name comparison level (0: null), as the SQL in comparisons.py."""
    if not a.fn or not b.fn:
        return 0
    if a.fn == b.fn:
        return 1
    if a.formal == b.formal:
        return 2
    jw = JaroWinkler.similarity(a.fn, b.fn)
    if jw >= 0.92:
        return 3
    if swapped(a.fn, a.ln, b.fn, b.ln):
        return 4
    if jw >= 0.80:
        return 5
    if (len(a.fn) == 1 or len(b.fn) == 1) and a.fn[0] == b.fn[0]:
        return 6
    return 7


def birth_date_level(a: str, b: str) -> int:
    """The index of the birth_date comparison level (0: null)."""
    if not a or not b:
        return 0
    if a == b:
        return 1
    if DamerauLevenshtein.distance(a, b) <= 1:
        return 2
    if a[:4] == b[:4] and a[4:6] == b[6:8] and a[6:8] == b[4:6]:
        return 3
    if Levenshtein.distance(a, b) <= 2:
        return 4
    return 5


def sex_level(a: str, b: str) -> int:
    """The index of the sex comparison level (0: null)."""
    if not a or not b:
        return 0
    return 1 if a == b else 2


class TraitScorer:
    """The trained model's partial weights of first name, birth date and sex for a pair."""

    def __init__(self, model_settings: dict[str, Any]) -> None:
        weights: dict[str, list[float]] = {}
        m_first_else = m_birth_else = 0.0
        for comparison in model_settings.get("comparisons", []):
            name = comparison.get("output_column_name")
            if name not in TRAIT_COMPARISONS:
                continue
            levels = []
            if name == "first_name":
                m_first_else = float(comparison["comparison_levels"][-1].get("m_probability") or 0.0)
            if name == "birth_date":
                m_birth_else = float(comparison["comparison_levels"][-1].get("m_probability") or 0.0)
            for level in comparison["comparison_levels"]:
                m, u = level.get("m_probability"), level.get("u_probability")
                levels.append(0.0 if level.get("is_null_level") or not m or not u
                              else math.log2(m / u))
            weights[name] = levels
        # Untrained: a neutral model (only impossible combinations are vetoed by the levels).
        self._fn = weights.get("first_name", [0.0] * 8)
        self._dob = weights.get("birth_date", [0.0] * 6)
        self._sex = weights.get("sex", [0.0] * 3)
        # Unless the data itself shows that true matches often carry an unrelated first name
        # (value-replacement noise, as in FEBRL), a different first name vetoes outright.
        self.strict_first_name = m_first_else < REPLACED_FIRST_NAMES
        # Two unrelated birth dates (not a typo, transposition or day/month swap) are two
        # people: parent and child, or namesakes.
        self.strict_birth_date = bool(weights.get("birth_date")) and m_birth_else < REPLACED_BIRTH_DATES
        self.weight = lru_cache(maxsize=500_000)(self._weight)
        # Two records that agree on (or lack) each trait weigh 0 here: nothing to veto.
        self.agreement_is_neutral = all(w[1] >= 0 for w in (self._fn, self._dob, self._sex))

    def lenient(self, a: Traits, b: Traits) -> float:
        """`weight` without the strict birth-date rule (the model's own weights only)."""
        strict, self.strict_birth_date = self.strict_birth_date, False
        try:
            return self._weight(a, b)
        finally:
            self.strict_birth_date = strict

    def _weight(self, a: Traits, b: Traits) -> float:
        # Only disagreements count: a shared first name does not make up for a birth date
        # twenty years apart (father and son of the same name).
        first = first_name_level(a, b)
        if first == FIRST_NAME_ELSE and self.strict_first_name:
            # Two different first names are two people: twins share everything else
            # (surname, birth date, address, often the phone).
            return -math.inf
        birth = birth_date_level(a.dob, b.dob)
        if birth == BIRTH_DATE_ELSE and self.strict_birth_date:
            return -math.inf
        parts = (self._fn[first], self._dob[birth],
                 self._sex[sex_level(a.sex, b.sex)])
        return sum(p for p in parts if p < 0)


def traits_of(frame: pd.DataFrame) -> list[Traits]:
    """The traits of each row of a prepared frame, by `unique_id` order."""
    cols = [frame[c].fillna("").astype(str).tolist() for c in ("fn", "fn_formal", "ln", "dob", "sex")]
    return [Traits(*row) for row in zip(*cols, strict=True)]


def traits_of_row(row: Mapping[str, Any]) -> Traits:
    """The traits of one prepared row (`gateway.linkage.prepare.prepare_row`)."""
    return Traits(*(str(row.get(c) or "") for c in ("fn", "fn_formal", "ln", "dob", "sex")))


def _components(size: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """The connected component of each record over the edges (scipy, no Python loop)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(size, size))
    return np.asarray(connected_components(graph, directed=False)[1], dtype=np.int64)


def _plain_components(component: np.ndarray, traits: list[Traits]) -> np.ndarray:
    """Per component: True when its records cannot contradict one another (each of first
    name, birth date and sex has at most one value in it) and each names someone (no
    blank record). The greedy merge would join all of such a component's edges, so it is
    one cluster without walking them."""
    columns: dict[str, np.ndarray] = {"c": component}
    for name in ("fn", "dob", "sex"):
        codes = pd.factorize(pd.Series([getattr(t, name) or None for t in traits], dtype=object))[0]
        columns[name] = np.where(codes < 0, np.nan, codes)
    frame = pd.DataFrame(columns)
    distinct = frame.groupby("c")[["fn", "dob", "sex"]].nunique().max(axis=1).to_numpy()
    blank = frame[["fn", "dob", "sex"]].isna().all(axis=1)
    has_blank = blank.groupby(frame["c"]).any().to_numpy()
    return np.asarray((distinct <= 1) & ~has_blank, dtype=bool)


@dataclass
class _Cluster:
    members: list[int]
    traits: set[int] = field(default_factory=set)  # ids of distinct Traits


def cluster(size: int, edges: pd.DataFrame, traits: list[Traits], scorer: TraitScorer, *,
            threshold: float = DEFAULT_THRESHOLD, veto: float = DEFAULT_VETO,
            margin: float = DEFAULT_MARGIN, groups: Sequence[int] | None = None) -> np.ndarray:
    """A cluster number per record (0..size-1): constrained greedy merging of `edges`
    (`unique_id_l`, `unique_id_r`, `match_weight`) at or above `threshold`.

    `groups` (optional, per record: an existing person's id, or -1) starts records of one
    person in one cluster, and never merges two existing persons (that is a steward's merge).
    """
    if len(edges) == 0 and not groups:
        return np.arange(size, dtype=np.int64)
    strong = edges[edges["match_weight"] >= threshold] if len(edges) else edges
    order = np.argsort(-strong["match_weight"].to_numpy(), kind="stable")
    left = strong["unique_id_l"].to_numpy().astype(np.int64)[order]
    right = strong["unique_id_r"].to_numpy().astype(np.int64)[order]
    weights = strong["match_weight"].to_numpy()[order]
    # Components whose records cannot contradict one another are clusters as they are; the
    # greedy merge below walks only the edges of the others (the same outcome, far fewer steps).
    plain: np.ndarray | None = None
    component = np.zeros(size, dtype=np.int64)
    if not groups and len(left) and scorer.agreement_is_neutral:
        component = _components(size, left, right)
        plain = _plain_components(component, traits)
        walk = ~plain[component[left]]
        left, right, weights = left[walk], right[walk], weights[walk]
    # Plain lists and ints: indexing numpy arrays one element at a time costs more than the
    # work (a million records make a few million such steps).
    parent = list(range(size))
    clusters: dict[int, _Cluster] = {}
    owner: dict[int, int] = {}
    # Each distinct Traits gets a small int; vetoes are cached per pair of ids.
    ids: dict[Traits, int] = {}
    trait_id = [ids.setdefault(t, len(ids)) for t in traits]
    distinct = list(ids)
    vetoed: dict[int, bool] = {}
    span = len(distinct)

    def contradicts(x: int, y: int) -> bool:
        if x == y:
            return False
        key = x * span + y if x < y else y * span + x
        found = vetoed.get(key)
        if found is None:
            found = vetoed[key] = scorer.weight(distinct[x], distinct[y]) < -veto
        return found

    def find(i: int) -> int:
        root = i
        while parent[root] != root:
            root = parent[root]
        while parent[i] != root:
            parent[i], i = root, parent[i]
        return root

    def group(root: int) -> _Cluster:
        found = clusters.get(root)
        if found is None:
            found = clusters[root] = _Cluster([root], {trait_id[root]})
        return found

    def join(ra: int, rb: int) -> None:
        ga, gb = group(ra), group(rb)
        if len(ga.members) < len(gb.members):
            ra, rb, ga, gb = rb, ra, gb, ga
        parent[rb] = ra
        ga.members.extend(gb.members)
        ga.traits |= gb.traits
        del clusters[rb]
        if rb in owner:
            owner[ra] = owner.pop(rb)

    if groups:
        first: dict[int, int] = {}
        for i, g in enumerate(groups):
            if g < 0:
                continue
            if g in first:
                join(find(first[g]), find(i))
            else:
                first[g] = i
                owner[i] = g

    def blocked(x: int, y: int, ends: tuple[int, int], w: float) -> bool:
        if not contradicts(x, y):
            return False
        # The strict birth-date rule gives way to a strong edge, for what one of its two
        # records contradicts.
        return not (w >= STRONG_EDGE and (x in ends or y in ends)
                    and scorer.lenient(distinct[x], distinct[y]) >= -veto)

    def merge(a: int, b: int, w: float = -math.inf) -> None:
        ra, rb = find(a), find(b)
        if ra == rb or (ra in owner and rb in owner):
            return
        ga, gb = group(ra), group(rb)
        ends = (trait_id[a], trait_id[b])
        for x in ga.traits:
            for y in gb.traits:
                if x != y and contradicts(x, y) and blocked(x, y, ends, w):
                    return
        join(ra, rb)

    # A record that says nothing about who it is (no first name, birth date or sex: an
    # order with a surname and an address) cannot be vetoed: its strongest edge would hand
    # it to whichever household member shares the address. It waits until the others are
    # clustered, then joins the cluster its edges point to only when no other cluster is
    # nearly as likely (`margin` bits); otherwise it stays a person of its own (a missed
    # link rather than a guess that merges two people's records).
    blank = [not (t.fn or t.dob or t.sex) for t in traits]
    deferred: dict[int, list[tuple[int, float]]] = {}
    for a, b, w in zip(left.tolist(), right.tolist(), weights.tolist(), strict=True):
        if blank[a] != blank[b]:
            lone, other = (a, b) if blank[a] else (b, a)
            deferred.setdefault(lone, []).append((other, w))
        elif not blank[a]:
            merge(a, b, w)
    for lone, found in deferred.items():
        support: dict[int, float] = {}
        for other, w in found:
            root = find(other)
            support[root] = max(support.get(root, -math.inf), w)
        ranked = sorted(support.items(), key=lambda kv: (-kv[1], kv[0]))
        if len(ranked) == 1 or ranked[0][1] - ranked[1][1] >= margin:
            merge(lone, ranked[0][0])
    for a, b in zip(left.tolist(), right.tolist(), strict=True):
        if blank[a] and blank[b]:
            merge(a, b)
    roots = np.fromiter((find(i) for i in range(size)), dtype=np.int64, count=size)
    if plain is not None:
        # A plain component is labelled by itself, the others by their greedy roots.
        roots = np.where(plain[component], component, component.max() + 1 + roots)
    _, labels = np.unique(roots, return_inverse=True)
    return labels.astype(np.int64)


def connected_components(size: int, edges: pd.DataFrame, *, threshold: float = DEFAULT_THRESHOLD) -> np.ndarray:
    """Plain connected components over the same edges: the chaining baseline (bench, tests)."""
    parent = np.arange(size)
    if len(edges) == 0:
        return parent.astype(np.int64)
    strong = edges[edges["match_weight"] >= threshold]

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in zip(strong["unique_id_l"].tolist(), strong["unique_id_r"].tolist(), strict=True):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[rb] = ra
    roots = np.fromiter((find(i) for i in range(size)), dtype=np.int64, count=size)
    _, labels = np.unique(roots, return_inverse=True)
    return labels.astype(np.int64)
