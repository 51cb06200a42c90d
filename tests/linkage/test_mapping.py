"""Mapping files: every problem reported at its place; a valid one maps and normalises."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from gateway.linkage.mapping import MappingError, apply, apply_frame, load_mapping, parse_mapping

BAD = """source: CRM!
bogus: 1
columns:
  Vorname: frist_name
  Name: {field: last_name, normalise: [trim, shout]}
  Mail: email
  Mail2: email
identity_resolution: maybe
"""


def test_bad_mapping_lists_every_problem_with_its_place() -> None:
    # given / when
    with pytest.raises(MappingError) as caught:
        parse_mapping(BAD)
    problems = caught.value.problems
    # then: one problem per mistake, each naming its key and YAML line
    assert any(p.startswith("bogus (line 2): unknown key") for p in problems)
    assert any(p.startswith("source (line 1):") for p in problems)
    assert any(p.startswith("identity_resolution (line 8):") for p in problems)
    assert any(p.startswith("columns.Vorname (line 4).field: unknown canonical field") for p in problems)
    assert any(p.startswith("columns.Name (line 5).normalise: unknown shout") for p in problems)
    assert any(p.startswith("columns.Mail2 (line 7).field: email is already mapped") for p in problems)
    assert len(problems) == 6


@pytest.mark.parametrize("text,message", [
    ("just text", "must be a mapping"),
    ("columns: [", "not valid YAML"),
    ("source: crm\n", "columns: must map"),
])
def test_malformed_documents(text: str, message: str) -> None:
    with pytest.raises(MappingError) as caught:
        parse_mapping(text)
    assert message in str(caught.value)


def test_valid_mapping_maps_and_normalises(tmp_path: Path) -> None:
    # given
    path = tmp_path / "crm.yaml"
    path.write_text("source: crm\nkey: Kundennr\ncountry: DE\ncolumns:\n"
                    "  Vorname: {field: first_name, normalise: [title]}\n"
                    "  Mail: email\n  Tel: phone\n", encoding="utf-8")
    # when
    mapping = load_mapping(path)
    row = apply(mapping, {"Vorname": "  anna  ", "Mail": " Anna@Example.ORG", "Tel": "", "Other": "x"})
    frame = apply_frame(mapping, pd.DataFrame({"Vorname": ["anna", "bob"], "Mail": ["A@B.CO", ""]}))
    # then
    assert (mapping.source, mapping.key, mapping.country) == ("crm", "Kundennr", "DE")
    assert row == {"first_name": "Anna", "email": "anna@example.org"}
    assert frame["first_name"].tolist() == ["Anna", "Bob"]
    assert frame["email"].tolist() == ["a@b.co", None]


def test_unreadable_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(MappingError) as caught:
        load_mapping(tmp_path / "missing.yaml")
    assert "cannot be read" in str(caught.value)
