"""`consent-gateway linkage resolve`: every record gets a cluster, nothing is stored."""

from __future__ import annotations

import csv
from pathlib import Path

from click.testing import CliRunner

from gateway.cli import main
from gateway.linkage.metrics import pairwise
from gateway.linkage.synth import generate

COLUMNS = ["record_id", "source", "first_name", "middle_name", "last_name", "birth_date", "sex",
           "email", "phone", "house_number", "street", "unit", "city", "postcode", "region",
           "country", "loyalty_card"]


def _write(path: Path, rows: list[dict[str, str]], columns: list[str]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def test_resolve_writes_a_cluster_for_every_record_and_stores_nothing(tmp_path: Path) -> None:
    # given: generated records with an extra column to ignore, and one without a birth date column
    records, truth, _ = generate(600, seed=4)
    for r in records:
        r["notes"] = "ignored"
    source = tmp_path / "in.csv"
    _write(source, records, [*COLUMNS, "notes"])
    out = tmp_path / "clusters.csv"
    env = {"GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path}/never.db"}
    # when
    result = CliRunner(env=env).invoke(main, ["linkage", "resolve", str(source), "--out", str(out)])
    # then
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["record_id"] for r in rows] == [r["record_id"] for r in records]
    assert pairwise([r["cluster_id"] for r in rows], truth).f1 > 0.9
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clusters.csv", "in.csv"]


def test_resolve_with_a_mapping_and_missing_columns(tmp_path: Path) -> None:
    # given: other column names, no birth date at all, dates unreadable in places
    source = tmp_path / "in.csv"
    rows = [{"id": "a", "Vorname": "Anna", "Name": "Smith", "Mail": "anna@example.com"},
            {"id": "b", "Vorname": "ANNA", "Name": "Smith", "Mail": "Anna@Example.com"},
            {"id": "c", "Vorname": "Boris", "Name": "Petrov", "Mail": ""}]
    _write(source, rows, ["id", "Vorname", "Name", "Mail"])
    mapping = tmp_path / "m.yaml"
    mapping.write_text("key: id\ncolumns:\n  Vorname: first_name\n  Name: last_name\n  Mail: email\n",
                       encoding="utf-8")
    out = tmp_path / "clusters.csv"
    # when
    result = CliRunner().invoke(main, ["linkage", "resolve", str(source), "--mapping", str(mapping),
                                       "--out", str(out)])
    # then
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8") as handle:
        got = {r["record_id"]: r["cluster_id"] for r in csv.DictReader(handle)}
    assert set(got) == {"a", "b", "c"}
    assert got["a"] == got["b"] != got["c"]


def test_resolve_refuses_a_bad_mapping_with_its_problems(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    _write(source, [{"record_id": "1"}], ["record_id"])
    mapping = tmp_path / "m.yaml"
    mapping.write_text("columns:\n  x: nope\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["linkage", "resolve", str(source), "--mapping", str(mapping),
                                       "--out", str(tmp_path / "o.csv")])
    assert result.exit_code == 2
    assert "columns.x (line 2).field: unknown canonical field" in result.output
    assert not (tmp_path / "o.csv").exists()
