"""The import's fast row checks accept exactly what the reference checks accept, with the
same values, and refuse with the same code, field and message."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gateway.consent.bulk import read_rows, validate_row
from gateway.consent.bulk_check import RowChecker
from gateway.consent.purposes import Purposes
from gateway.errors import ServiceError

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
GOOD: dict[str, Any] = {"customer_id": "7", "purpose": "marketing_email", "notice_version": "2",
                        "action": "grant", "occurred_at": "2026-05-01T10:00:00+02:00",
                        "source_channel": None, "evidence": "form-9", "expires_at": None}
VARIANTS: list[dict[str, Any]] = [
    {},
    {"customer_id": " 12 "}, {"customer_id": "1_000"}, {"customer_id": "x"}, {"customer_id": None},
    {"customer_id": 5}, {"customer_id": True}, {"customer_id": 5.0},
    {"notice_version": 2}, {"notice_version": 2.0}, {"notice_version": True}, {"notice_version": "9"},
    {"notice_version": ["2"]}, {"purpose": "analytics"}, {"purpose": "nope"}, {"purpose": None},
    {"purpose": ["marketing_email"]}, {"action": "revoke"}, {"action": "withdraw"},
    {"source_channel": "import"}, {"source_channel": "fax"}, {"source_channel": "portal"},
    {"occurred_at": None}, {"occurred_at": ""}, {"occurred_at": "yesterday"},
    {"occurred_at": "2026-05-01T10:00:00"}, {"occurred_at": " 2026-05-01T10:00:00Z "},
    {"occurred_at": (NOW + timedelta(minutes=4)).isoformat()},
    {"occurred_at": (NOW + timedelta(minutes=6)).isoformat()}, {"occurred_at": 20260501},
    {"expires_at": "2026-05-02T00:00:00+00:00"}, {"expires_at": "2026-04-01T00:00:00+00:00"},
    {"expires_at": ""}, {"expires_at": "soon"},
    {"evidence": ""}, {"evidence": "e" * 200}, {"evidence": "e" * 201}, {"evidence": 42},
    {"idempotency_key": "k-1"}, {"idempotency_key": "k" * 128}, {"idempotency_key": "k" * 129},
    {"idempotency_key": ""}, {"idempotency_key": 17},
]


def _outcome(check: Any, row: dict[str, Any], purposes: Purposes) -> Any:
    try:
        return check(row, purposes, NOW)
    except ServiceError as exc:
        return (exc.code, exc.field, exc.message)


@pytest.mark.parametrize("variant", VARIANTS, ids=[str(v) for v in VARIANTS])
def test_the_fast_checks_give_the_reference_outcome(purposes: Purposes, variant: dict[str, Any]) -> None:
    # given: a checker that has already seen the plain valid row (its combination is known)
    checker = RowChecker(purposes, NOW, validate_row)
    checker.check(dict(GOOD))
    row = {**GOOD, **variant}

    # when: the row is checked twice (the second time its own combination is known too)
    first = _outcome(lambda r, *_: checker.check(r), row, purposes)
    second = _outcome(lambda r, *_: checker.check(r), row, purposes)

    # then
    expected = _outcome(validate_row, row, purposes)
    assert first == expected and second == expected


def test_csv_rows_are_read_as_dictreader_reads_them(tmp_path: Path) -> None:
    # given: blank lines, a short row, a long row, an empty header name, empty fields
    text = "customer_id,purpose,,action\r\n1,a,x,grant\r\n\r\n2,b\r\n3,c,y,deny,extra\r\n,\"q\"\"x\",,\r\n"
    path = tmp_path / "rows.csv"
    path.write_text(text, encoding="utf-8")

    # when
    rows = list(read_rows(path, "csv"))

    # then
    reference = [(n, {k: (v if v != "" else None) for k, v in r.items() if k})
                 for n, r in enumerate(csv.DictReader(io.StringIO(text, newline="")), start=2)]
    assert rows == reference
