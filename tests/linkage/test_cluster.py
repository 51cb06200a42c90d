"""Clustering does not chain households: shared emails, phones and addresses stay shared."""

from __future__ import annotations

from collections import defaultdict

import pandas as pd
import pytest

from gateway.linkage.cluster import (
    Traits,
    TraitScorer,
    cluster,
    connected_components,
    first_name_level,
    traits_of,
)
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


HOUSEHOLD = [
    # the mother (two records), the father (two records), and an order that names no one:
    # surname and the family address only
    {"first_name": "Karen", "last_name": "Sharp", "birth_date": "1954-12-05", "street": "250 Foster Circle",
     "postcode": "G14 4ZR", "email": "ksharp103@example.com"},
    {"first_name": "Karen", "last_name": "Sharp", "email": "ksharp103@example.com", "postcode": "G14 4ZR"},
    {"first_name": "Mark", "last_name": "Sharp", "birth_date": "1951-02-11", "street": "250 Foster Circle",
     "postcode": "G14 4ZR"},
    {"first_name": "Mark", "last_name": "Sharp", "birth_date": "1951-02-11", "phone": "+447700900002"},
    {"last_name": "Sharp", "street": "250 Foster Circle", "postcode": "G14 4ZR"},
]


def test_a_record_naming_no_one_is_not_handed_to_one_household_member_by_a_guess() -> None:
    # given: the nameless order is as close to the mother as to the father
    frame = frame_of(HOUSEHOLD)
    edges = pd.DataFrame({"unique_id_l": [0, 2, 4, 4], "unique_id_r": [1, 3, 0, 2],
                          "match_weight": [20.0, 18.0, 16.0, 15.5]})
    # when
    labels = cluster(len(frame), edges, traits_of(frame), TraitScorer({}))
    # then: mother and father are two people, and the order joins neither
    assert labels[0] == labels[1] and labels[2] == labels[3] and labels[0] != labels[2]
    assert labels[4] not in (labels[0], labels[2])


def test_a_record_naming_no_one_joins_the_person_its_own_identifiers_point_to() -> None:
    # given: the order also carries the mother's own email: far ahead of the father
    frame = frame_of(HOUSEHOLD)
    edges = pd.DataFrame({"unique_id_l": [0, 2, 4, 4], "unique_id_r": [1, 3, 0, 2],
                          "match_weight": [20.0, 18.0, 30.0, 15.5]})
    # when
    labels = cluster(len(frame), edges, traits_of(frame), TraitScorer({}))
    # then
    assert labels[4] == labels[0] != labels[2]


def test_twins_and_their_household_stay_apart_while_nicknames_and_transliterations_link() -> None:
    # given: twins sharing surname, birth date, address and home phone; the brother also
    # known by his nickname and, in a Russian system, in Cyrillic and another transliteration
    common = {"birth_date": "2001-04-17", "street": "12 Lenina St", "postcode": "190000",
              "phone": "+78125550101", "country": "RU"}
    records = [
        {"first_name": "Aleksandr", "last_name": "Ivanov", "sex": "M", **common},
        {"first_name": "Sasha", "last_name": "Ivanov", "email": "a.ivanov@example.com", **common},
        {"first_name": "Александр", "last_name": "Иванов", "sex": "M", **common},
        {"first_name": "Alexander", "last_name": "Iwanow", "email": "a.ivanov@example.com",
         "birth_date": "17.04.2001", "country": "RU"},
        {"first_name": "Mikhail", "last_name": "Ivanov", "sex": "M", **common},
        {"first_name": "Misha", "last_name": "Ivanov", **common},
        {"first_name": "Tatiana", "last_name": "Ivanova", "birth_date": "1975-01-30", "sex": "F",
         **{k: v for k, v in common.items() if k != "birth_date"}},
    ]
    # when
    labels = resolve_frame(frame_of(records)).labels.tolist()
    # then: Aleksandr's four records are one person; Mikhail (the twin) and their mother
    # are two more
    assert labels[0] == labels[1] == labels[2] == labels[3]
    assert labels[4] == labels[5]
    assert len({labels[0], labels[4], labels[6]}) == 3


def test_quality_holds_on_a_second_seed() -> None:
    # given
    records, truth, _ = generate(1500, seed=22)
    # when
    labels = resolve_frame(frame_of(records)).labels.tolist()
    # then
    pair = pairwise(labels, truth)
    assert pair.precision > 0.96 and pair.f1 > 0.94


def _levels(pairs: list[tuple[float, float]]) -> list[dict[str, object]]:
    null: dict[str, object] = {"is_null_level": True}
    return [null] + [{"m_probability": m, "u_probability": u} for m, u in pairs]


# A model as EM learns it on a large sample: m(birth date: else) lifted to 0.06, which alone
# (about -4 bits) would not reach the veto.
LARGE_SAMPLE_MODEL = {"comparisons": [
    {"output_column_name": "first_name", "comparison_levels": _levels(
        [(0.83, 0.0009), (0.1, 0.0015), (0.01, 0.0005), (0.04, 0.0002), (0.01, 0.005), (0.008, 0.09), (0.02, 0.99)])},
    {"output_column_name": "birth_date", "comparison_levels": _levels(
        [(0.9, 0.0001), (0.02, 0.0015), (0.01, 0.00001), (0.002, 0.016), (0.06, 0.98)])},
    {"output_column_name": "sex", "comparison_levels": _levels([(0.99, 0.5), (0.01, 0.5)])},
]}
NAMESAKES = [
    {"first_name": "Nonna", "last_name": "Zakharova", "birth_date": "1955-01-05"},
    {"first_name": "Nonna", "last_name": "Zakharova", "email": "nonna.z@example.com"},
    {"first_name": "Nonna", "last_name": "Zakharova", "birth_date": "1994-01-06"},
    {"first_name": "Nonna", "last_name": "Zakharova", "birth_date": "1971-08-30", "street": "5 Tverskaya"},
]


def test_namesakes_born_decades_apart_are_not_chained_through_a_record_without_birth_date() -> None:
    # given: the nameless-date record links weakly to both namesakes
    frame = frame_of(NAMESAKES[:3])
    edges = pd.DataFrame({"unique_id_l": [0, 1], "unique_id_r": [1, 2], "match_weight": [3.0, 2.5]})
    # when
    labels = cluster(len(frame), edges, traits_of(frame), TraitScorer(LARGE_SAMPLE_MODEL))
    # then
    assert labels[0] != labels[2]


def test_a_strong_edge_still_links_a_record_whose_birth_date_was_replaced() -> None:
    # given: the same person, a replaced birth date, everything else agreeing (a strong edge)
    frame = frame_of([NAMESAKES[0], NAMESAKES[3]])
    edges = pd.DataFrame({"unique_id_l": [0], "unique_id_r": [1], "match_weight": [24.0]})
    weak = edges.assign(match_weight=[4.0])
    # when
    strong_labels = cluster(len(frame), edges, traits_of(frame), TraitScorer(LARGE_SAMPLE_MODEL))
    weak_labels = cluster(len(frame), weak, traits_of(frame), TraitScorer(LARGE_SAMPLE_MODEL))
    # then
    assert strong_labels[0] == strong_labels[1]
    assert weak_labels[0] != weak_labels[1]


def test_a_parent_written_surname_first_is_not_a_swap_of_the_childs_names() -> None:
    # given: the daughter, her father written surname first, and her own record swapped
    daughter = Traits("ines", "ines", "techer", "20010416", "f")
    father = Traits("techer", "techer", "alain", "", "")
    swapped_daughter = Traits("techer", "techer", "ines", "", "")
    # when
    father_level = first_name_level(daughter, father)
    own_level = first_name_level(daughter, swapped_daughter)
    # then: the father's first name is another first name (vetoed); the true swap is a swap
    assert father_level == 7
    assert own_level == 4


def test_a_swap_is_recognised_when_the_other_record_lacks_a_surname() -> None:
    # given: "Gundula" (no surname) and "Aumann Gundula" (surname written first)
    alone = Traits("gundula", "gundula", "", "19530408", "")
    swapped_record = Traits("aumann", "aumann", "gundula", "", "")
    # when
    level = first_name_level(alone, swapped_record)
    # then
    assert level == 4
