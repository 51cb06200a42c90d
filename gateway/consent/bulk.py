"""Bulk import and export of consent events (CSV and JSON Lines).

Import validates every row in Python (the same checks as the service), then appends the
good rows in batches: one multi-row INSERT per batch that skips idempotency keys already
present, and one multi-row upsert of the derived state that only moves forward. The
idempotency key is the row's `idempotency_key` column or, without one, a hash of the row's
content, so importing the same file twice changes nothing. Evidence is sealed under each
customer's data key (gateway/consent/sealing.py) after validation, one key unwrap per customer
per import; the implicit idempotency key is derived from the plaintext, so a re-import still
matches.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from gateway.consent import bulk_sqlite
from gateway.consent.bulk_check import NoticeFacts, RowChecker
from gateway.consent.ledger import CONSENT_ACTIONS, SOURCE_CHANNELS
from gateway.consent.purposes import Purposes
from gateway.consent.sealing import evidence_aad, open_evidence, seal_evidence
from gateway.consent.service import check_jurisdiction, fz_details, fz_expiry
from gateway.consent.tables import consent_events
from gateway.consent.validation import (
    check_choice,
    check_evidence,
    check_times,
    consent_purpose,
    invalid,
    notice_of,
    parse_instant,
)
from gateway.errors import ServiceError
from gateway.policy.codes import Code
from gateway.privacy.datakeys import DataKeys
from gateway.privacy.envelope import seal
from gateway.privacy.vault import Vault
from gateway.profile.tables import customers
from gateway.store.types import utcnow

COLUMNS = ("customer_id", "purpose", "notice_version", "action", "occurred_at", "source_channel",
           "evidence", "expires_at", "idempotency_key")
BATCH = 5000
FORMATS = ("csv", "jsonl")
# The content an implicit idempotency key is derived from (unit-separated, in this order).
# Not the evidence: it is free text that can name the person, and an unkeyed hash of it stored
# in the clear would let anyone holding a guess confirm it (the evidence itself is sealed).
_KEYED = ("customer_id", "purpose", "notice_version", "action", "occurred_at", "source_channel",
          "expires_at")


# The shared checks name fields as the API does; a report names the file's columns.
_COLUMN_OF = {"noticeVersion": "notice_version", "occurredAt": "occurred_at",
              "expiresAt": "expires_at", "sourceChannel": "source_channel",
              "customerId": "customer_id"}


@dataclass(frozen=True)
class Rejected:
    """A row that failed validation: where, which field, why."""

    line: int
    code: str
    field: str | None
    reason: str


@dataclass
class ImportReport:
    """What an import did."""

    rows: int = 0
    inserted: int = 0
    duplicates: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    written: bool = False


def read_rows(path: Path, fmt: str) -> Iterator[tuple[int, dict[str, Any] | None]]:
    """(line number, row) of `path`; the row is None when the line is not valid JSON.

    CSV rows are read as `csv.DictReader` reads them (blank lines skipped, missing trailing
    fields None, fields beyond the header dropped), empty fields as None.
    """
    with path.open(encoding="utf-8", newline="") as fh:
        if fmt == "csv":
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None:
                return
            named = [(n, name) for n, name in enumerate(header) if name]
            width = len(header)
            number = 1
            for fields in reader:
                if not fields:
                    continue
                number += 1
                if len(fields) < width:
                    fields = fields + [""] * (width - len(fields))
                yield number, {name: fields[n] or None for n, name in named}
            return
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except ValueError:
                yield number, None
                continue
            yield number, value if isinstance(value, dict) else None


def _integer(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise invalid("must be an integer", name)
    try:
        return int(str(value).strip())
    except (TypeError, ValueError) as exc:
        raise invalid("must be an integer", name) from exc


def _key(row: dict[str, Any], values: dict[str, Any]) -> str:
    explicit = row.get("idempotency_key")
    if explicit:
        text = str(explicit)
        if len(text) > 128:
            raise invalid("must be at most 128 characters", "idempotency_key")
        return text
    content = "\x1f".join(str(values[k]) for k in _KEYED)
    return "import:" + hashlib.sha256(content.encode()).hexdigest()


def validate_row(row: dict[str, Any], purposes: Purposes, now: datetime) -> dict[str, Any]:
    """The event values of one row (without customer facts); ServiceError on bad input."""
    customer_id = _integer(row.get("customer_id"), "customer_id")
    purpose = consent_purpose(purposes, str(row.get("purpose") or ""))
    notice = notice_of(purpose, _integer(row.get("notice_version"), "notice_version"))
    action = check_choice(str(row.get("action") or ""), CONSENT_ACTIONS, "action")
    channel = check_choice(str(row.get("source_channel") or "import"), SOURCE_CHANNELS, "source_channel")
    raw_when = row.get("occurred_at")
    if not raw_when:
        raise invalid("is required", "occurred_at")
    occurred, expires = check_times(
        parse_instant(str(raw_when), "occurred_at"),
        parse_instant(row.get("expires_at") and str(row["expires_at"]), "expires_at"), now,
    )
    evidence = check_evidence(row.get("evidence") and str(row["evidence"]))
    values: dict[str, Any] = {
        "customer_id": customer_id, "purpose": purpose.name, "notice_version": notice.version,
        "action": action, "occurred_at": occurred, "source_channel": channel,
        "evidence": evidence, "expires_at": expires,
    }
    values["idempotency_key"] = _key(row, values)
    return values


def _subjects(conn: Connection, ids: set[int]) -> dict[int, tuple[str, str | None]]:
    found: dict[int, tuple[str, str | None]] = {}
    ordered = sorted(ids)
    for start in range(0, len(ordered), BATCH):
        chunk = ordered[start:start + BATCH]
        for row in conn.execute(select(customers.c.id, customers.c.jurisdiction, customers.c.language)
                                .where(customers.c.id.in_(chunk))):
            found[int(row.id)] = (str(row.jurisdiction), row.language)
    return found


def validate_all(
    conn: Connection, rows: Iterable[tuple[int, dict[str, Any] | None]], purposes: Purposes,
    vault: Vault,
) -> tuple[list[dict[str, Any]], list[Rejected], int]:
    """Every row validated, evidence sealed: (good event rows, rejections, rows read)."""
    now = utcnow()
    checker = RowChecker(purposes, now, validate_row)
    good: list[tuple[int, dict[str, Any]]] = []
    rejected: list[Rejected] = []
    count = 0
    for line, row in rows:
        count += 1
        if row is None:
            rejected.append(Rejected(line, Code.INVALID_INPUT.value, None, "not a JSON object"))
            continue
        try:
            good.append((line, checker.check(row)))
        except ServiceError as exc:
            field = _COLUMN_OF.get(exc.field or "", exc.field)
            rejected.append(Rejected(line, exc.code.value, field, exc.message))
    subjects = _subjects(conn, {v["customer_id"] for _, v in good})
    events: list[dict[str, Any]] = []
    details: dict[tuple[str, int], dict[str, Any]] = {}
    facts = NoticeFacts(purposes)
    keys = DataKeys(conn, vault)
    keys.load(v["customer_id"] for _, v in good if v["evidence"] is not None)
    aads: dict[int, bytes] = {}
    for line, values in good:
        customer_id = values["customer_id"]
        subject = subjects.get(customer_id)
        if subject is None:
            rejected.append(Rejected(line, Code.NOT_FOUND.value, "customer_id", "no customer with this id"))
            continue
        jurisdiction, language = subject
        purpose, version, action = values["purpose"], values["notice_version"], values["action"]
        notice = facts.notice(purpose, version)
        try:
            check_jurisdiction(notice, action, jurisdiction)
        except ServiceError as exc:
            rejected.append(Rejected(line, exc.code.value, "notice_version", exc.message))
            continue
        if values["evidence"] is not None:
            key = keys.get(customer_id)
            if key is None:
                try:  # the reference check raises the error a customer without a key gets
                    seal_evidence(keys, "consent_events", customer_id, values["evidence"])
                except ServiceError as exc:
                    rejected.append(Rejected(line, exc.code.value, "evidence", exc.message))
                continue
            aad = aads.get(customer_id)
            if aad is None:
                aad = aads[customer_id] = evidence_aad("consent_events", customer_id)
            values["evidence"] = seal(key, aad, values["evidence"])
        values["notice_text_sha256"] = facts.text_sha256(purpose, version, language)
        fz = None
        if action == "grant" and jurisdiction == "152-fz":
            fz = details.get((purpose, version))
            if fz is None:
                fz = details[(purpose, version)] = fz_details(purposes, purpose, notice)
        values["details"] = fz
        if fz is not None:
            values["expires_at"] = fz_expiry(fz, values["occurred_at"], values["expires_at"])
        values["recorded_at"] = now
        values["app_id"] = None
        events.append(values)
    rejected.sort(key=lambda r: r.line)
    return events, rejected, count


def write_batch(conn: Connection, batch: list[dict[str, Any]], touched: set[int] | None = None) -> int:
    """Insert a batch (skipping known idempotency keys) and move the state forward; inserted count.

    The customers whose ledger received an event are added to `touched` (for the audit entry).
    """
    if conn.dialect.name == "postgresql":
        # Imported here: psycopg is not needed (nor loaded, about 0.1 s of the CLI's start)
        # by an import into SQLite.
        from gateway.consent import bulk_pg

        write = bulk_pg.write_batch
    else:
        write = bulk_sqlite.write_batch
    inserted, customers = write(conn, batch)
    if touched is not None:
        touched.update(customers)
    return inserted


def import_events(
    conn: Connection, events: list[dict[str, Any]], progress: Callable[[int], None] | None = None,
    touched: set[int] | None = None,
) -> int:
    """Write validated events in batches on `conn` (the caller commits); inserted count.

    A row whose idempotency key came earlier in the same import is already present: it is
    left out of its batch (the database would skip it too), so each batch inserts every key
    at most once.
    """
    total = 0
    seen: set[str] = set()
    for start in range(0, len(events), BATCH):
        batch = []
        for row in events[start:start + BATCH]:
            key = row["idempotency_key"]
            if key not in seen:
                seen.add(key)
                batch.append(row)
        if batch:
            total += write_batch(conn, batch, touched)
        if progress is not None:
            progress(min(BATCH, len(events) - start))
    return total


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def export_rows(conn: Connection, vault: Vault) -> Iterator[dict[str, Any]]:
    """Every consent event, oldest first, in the import's column layout (evidence opened)."""
    e = consent_events
    result = conn.execution_options(yield_per=BATCH).execute(
        select(*(e.c[name] for name in COLUMNS)).order_by(e.c.id))
    for part in result.partitions():
        keys = DataKeys(conn, vault)  # one unwrap per customer per partition, then dropped
        keys.load(int(r.customer_id) for r in part if r.customer_id is not None and r.evidence is not None)
        for row in part:
            out = dict(row._mapping)
            out["evidence"] = open_evidence(keys, "consent_events", out["customer_id"], out["evidence"])
            out["occurred_at"], out["expires_at"] = _iso(out["occurred_at"]), _iso(out["expires_at"])
            yield out


def write_export(rows: Iterable[dict[str, Any]], out: io.TextIOBase | Any, fmt: str) -> int:
    """Write `rows` to `out` as CSV or JSON Lines; the row count."""
    count = 0
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=list(COLUMNS))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
            count += 1
        return count
    for row in rows:
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
        count += 1
    return count
