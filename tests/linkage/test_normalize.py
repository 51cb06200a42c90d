"""Normalisers: transliteration, nicknames, dates in any format, phones, emails, addresses."""

from __future__ import annotations

import pandas as pd
import pytest

from gateway.linkage import normalize as n
from gateway.linkage.prepare import MATCH_COLUMNS, frame_of, prepare_row
from gateway.linkage.synth import generate


@pytest.mark.parametrize("variants", [
    ("Юрий", "Yuri", "Iurii", "Jurij", "Yuriy"),
    ("Александр", "Aleksandr", "Alexander"),
    ("Наталья", "Natalya", "Nataliia", "Natalia"),
    ("Хрущёв", "Khrushchev", "Hrushchev"),
    ("Müller", "Mueller", "Muller"),
])
def test_transliteration_variants_share_a_skeleton(variants: tuple[str, ...]) -> None:
    # given / when
    skeletons = {n.skeleton(n.fold_name(v)) for v in variants}
    # then
    assert len(skeletons) == 1


def test_nicknames_resolve_to_the_formal_name_and_strangers_do_not() -> None:
    # given / when / then
    assert n.formal_name(n.fold_name("Bob")) == n.formal_name(n.fold_name("Robert"))
    assert n.formal_name(n.fold_name("Саша")) == n.formal_name(n.fold_name("Aleksandr"))
    assert n.formal_name(n.fold_name("Bob")) != n.formal_name(n.fold_name("William"))


@pytest.mark.parametrize("text,day_first,expected", [
    ("1980-03-07", True, "19800307"), ("19800307", True, "19800307"),
    ("07.03.1980", True, "19800307"), ("7/3/80", True, "19800307"),
    ("03/07/1980", False, "19800307"), ("12/31/1999", True, "19991231"),
    ("March 7, 1980", True, "19800307"), ("7 Mar 1980", True, "19800307"),
    ("1980-02-31", True, "19800231"),  # impossible, but its digits still compare
    ("not a date", True, ""), ("", True, ""), ("13/13/2020", True, ""),
])
def test_dates_in_any_common_format(text: str, day_first: bool, expected: str) -> None:
    assert n.date_digits(text, day_first) == expected


def test_day_first_is_detected_from_the_column() -> None:
    assert n.detect_day_first(["03/07/1980", "25/12/1990"]) is True
    assert n.detect_day_first(["03/07/1980", "12/25/1990"]) is False


@pytest.mark.parametrize("raw,country,expected", [
    ("07700 900123", "GB", "+447700900123"), ("+44 7700 900123", None, "+447700900123"),
    ("8 (912) 345-67-89", "RU", "+79123456789"), ("0049 151 12345678", None, "+4915112345678"),
    ("12", "GB", ""),
])
def test_phones_become_e164(raw: str, country: str | None, expected: str) -> None:
    assert n.phone(raw, country) == expected


def test_email_canonical_form() -> None:
    assert n.email(" John.Smith+news@GMail.com ") == "johnsmith@gmail.com"
    assert n.email("Anna@Example.org") == "anna@example.org"
    assert n.email("not-an-address") == ""


def test_street_abbreviations_and_numbers() -> None:
    assert n.fold_street("12 Baker St.") == n.fold_street("Baker Street")
    assert n.house_number("12a") == "12a"
    assert n.postcode("sw1a 1aa") == "SW1A1AA"


def test_an_impossible_birth_date_compares_as_missing() -> None:
    # given: a form's placeholder for a skipped field, and a real date
    records = [{"birth_date": "31/02/1980"}, {"birth_date": "29/02/1980"}]
    # when
    frame = frame_of(records)
    # then
    assert frame["dob"].tolist() == [None, "19800229"]


def test_one_row_is_prepared_exactly_as_its_row_of_the_frame() -> None:
    # given: generated records with every kind of noise
    records = generate(800, seed=8)[0]
    # when
    rows = frame_of(records, day_first=True).to_dict("records")
    # then
    for record, row in zip(records, rows, strict=True):
        mine = prepare_row(record, day_first=True)
        assert {c: mine[c] for c in MATCH_COLUMNS} == {c: (None if pd.isna(row[c]) else row[c]) for c in MATCH_COLUMNS}
