"""Clustering does not chain households: shared emails, phones and addresses stay shared."""

from __future__ import annotations

from collections import defaultdict

import pandas as pd
import pytest

from gateway.linkage.cluster import TraitScorer, cluster, connected_components, traits_of
from gateway.linkage.metrics import bcubed, pairwise
from gateway.linkage.prepare import frame_of
from gateway.linkage.resolve import Resolution, resolve_frame
from gateway.linkage.synth import generate

FAMILY = [
    # mother, her email-platform record (family email), daughter, father, the twins
    {"first_name": "Anna", "last_name": "Smith", "birth_date": "1970-05-01", "email": "smiths@example.com"},
    {"first_name": "Anna", "email": "smiths@example.com"},
    {"first_name": "Lucy", "last_name": "Smith", "birth_date": "2001-02-03", "email": "smiths@example.com",
     "phone": "+447700900001"},
    {"first_name": "John", "last_name": "Smith", "birth_date": "1968-09-09", "phone": "+447700900001"},
    {"first_name": "Tom", "last_name": "Smith", "birth_date": "2005-06-07", "street": "1 High St"},
    {"first_name": "Tim", "last_name": "Smith", "birth_date": "2005-06-07", "street": "1 High St"},
]


def test_a_family_linked_by_shared_identifiers_stays_four_people() -> None:
    # given: strong edges through the family email, the home phone and the address
    frame = frame_of(FAMILY)
    edges = pd.DataFrame({"unique_id_l": [0, 1, 2, 4], "unique_id_r": [1, 2, 3, 5],
                          "match_weight": [20.0, 15.0, 12.0, 18.0]})
    # when
    ours = cluster(len(frame), edges, traits_of(frame), TraitScorer({}))
    plain = connected_components(len(frame), edges)
    # then: connected components chain mother, daughter and father into one "person"
    assert plain[0] == plain[1] == plain[2] == plain[3] and plain[4] == plain[5]
    # ... while the mother keeps her own record, and everyone else stays apart
    assert ours[0] == ours[1]
    assert len({ours[0], ours[2], ours[3], ours[4], ours[5]}) == 5


@pytest.fixture(scope="module")
def households() -> tuple[Resolution, list[int], dict[int, int]]:
    records, truth, persons = generate(1500, seed=21)
    household = {p.id: id(p.household) for p in persons}
    return resolve_frame(frame_of(records)), truth, household


def _mixed(labels: list[int], truth: list[int], household: dict[int, int]) -> tuple[int, int]:
    """(clusters holding two people of one household, clusters holding any two people)."""
    people: dict[int, set[int]] = defaultdict(set)
    for label, person in zip(labels, truth, strict=True):
        people[label].add(person)
    mixed = [p for p in people.values() if len(p) > 1]
    same_house = [p for p in mixed if len({household[x] for x in p}) < len(p)]
    return len(same_house), len(mixed)


def test_generated_households_are_not_chained(households: tuple[Resolution, list[int], dict[int, int]]) -> None:
    # given
    result, truth, household = households
    plain = connected_components(len(result.frame), result.pairs)
    # when
    ours_mixed, _ = _mixed(result.labels.tolist(), truth, household)
    plain_mixed, _ = _mixed(plain.tolist(), truth, household)
    # then: the control chains dozens of households; ours a few, through records that name
    # no one (an email-platform record with only the family address)
    assert plain_mixed > 40
    assert ours_mixed * 4 <= plain_mixed
    assert pairwise(result.labels.tolist(), truth).precision > 0.95
    assert pairwise(plain.tolist(), truth).precision < 0.6


def test_quality_on_generated_records(households: tuple[Resolution, list[int], dict[int, int]]) -> None:
    # given
    result, truth, _ = households
    # when
    pair, cube = pairwise(result.labels.tolist(), truth), bcubed(result.labels.tolist(), truth)
    # then
    assert pair.f1 > 0.93 and cube.f1 > 0.95
