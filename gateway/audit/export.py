"""Reading the log for officers: filters, cursor pages, CSV and JSON Lines documents.

Entries hold pseudonymous references only, so an export holds no raw personal data.
A customer filter takes the audit-audience pseudonym (callers map their own id to it).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

import orjson
from sqlalchemy import Connection, Select, exists, select

from gateway.audit.chain import iso
from gateway.audit.tables import audit_events, audit_subjects

FORMATS = ("csv", "jsonl")
COLUMNS = (
    "seq", "occurred_at", "request_id", "actor_type", "actor", "role", "purpose", "action",
    "operation", "decision", "subjects", "detail", "prev_hash", "entry_hash",
)
_E = audit_events.c


@dataclass(frozen=True)
class AuditFilter:
    """Which entries: every given condition must hold."""

    customer_ref: str | None = None  # the audit log's pseudonym of the customer
    app: str | None = None  # the actor (the calling app's name)
    purpose: str | None = None
    action: str | None = None
    decision: str | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive


def _where(stmt: Select[Any], flt: AuditFilter) -> Select[Any]:
    if flt.customer_ref is not None:
        stmt = stmt.where(exists().where(audit_subjects.c.audit_id == _E.id,
                                         audit_subjects.c.ref == flt.customer_ref))
    for column, value in ((_E.actor, flt.app), (_E.purpose, flt.purpose),
                          (_E.action, flt.action), (_E.decision, flt.decision)):
        if value is not None:
            stmt = stmt.where(column == value)
    if flt.since is not None:
        stmt = stmt.where(_E.occurred_at >= flt.since)
    if flt.until is not None:
        stmt = stmt.where(_E.occurred_at < flt.until)
    return stmt


def to_record(row: Any) -> dict[str, Any]:
    """A stored entry as an export record (timestamps as the chain writes them)."""
    record = {name: getattr(row, name) for name in COLUMNS}
    record["occurred_at"] = iso(record["occurred_at"])
    return record


def page(conn: Connection, flt: AuditFilter, first: int, after_seq: int | None) -> tuple[list[dict[str, Any]], bool]:
    """Up to `first` entries after `after_seq` (by seq), and whether more follow."""
    stmt = _where(select(audit_events), flt).order_by(_E.seq).limit(first + 1)
    if after_seq is not None:
        stmt = stmt.where(_E.seq > after_seq)
    rows = conn.execute(stmt).all()
    return [to_record(r) for r in rows[:first]], len(rows) > first


def iter_records(conn: Connection, flt: AuditFilter, batch: int = 5000) -> Iterator[dict[str, Any]]:
    """Every matching entry, in seq order, read in batches."""
    after: int | None = None
    while True:
        records, more = page(conn, flt, batch, after)
        yield from records
        if not more:
            return
        after = int(records[-1]["seq"])


def write_document(records: Iterator[dict[str, Any]], fmt: str, out: IO[str]) -> int:
    """Write `records` as CSV (JSON columns as JSON text) or JSON Lines; how many."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    count = 0
    if fmt == "jsonl":
        for record in records:
            out.write(orjson.dumps(record, option=orjson.OPT_SORT_KEYS).decode() + "\n")
            count += 1
        return count
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for record in records:
        writer.writerow([
            orjson.dumps(record[c], option=orjson.OPT_SORT_KEYS).decode()
            if c in ("subjects", "detail") else ("" if record[c] is None else record[c])
            for c in COLUMNS
        ])
        count += 1
    return count


def export_text(conn: Connection, flt: AuditFilter, fmt: str, limit: int) -> tuple[str, int]:
    """The document for at most `limit` matching entries, and how many it holds."""
    out = io.StringIO()

    def limited() -> Iterator[dict[str, Any]]:
        for n, record in enumerate(iter_records(conn, flt)):
            if n >= limit:
                return
            yield record

    count = write_document(limited(), fmt, out)
    return out.getvalue(), count
