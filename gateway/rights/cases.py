"""Data subject requests as tracked cases: open -> in_progress -> completed | rejected.

Every step updates the case, appends a step row and writes an audit entry, all on the
caller's connection: they commit together or not at all. Input is validated before the
first write, so a refused step changes nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, insert, or_, select, update

from gateway.errors import ServiceError
from gateway.policy.codes import Code
from gateway.privacy.datakeys import DataKeys
from gateway.privacy.vault import Vault
from gateway.rights.deadlines import (
    JURISDICTIONS,
    KINDS,
    due_date,
    extended_due_date,
    term_of,
)
from gateway.rights.subjects import Person
from gateway.rights.tables import rights_case_steps, rights_cases
from gateway.rights.texts import open_texts, seal_text
from gateway.rights.trail import Trail
from gateway.store.types import utcnow

STATUSES = ("open", "in_progress", "completed", "rejected")
ACTIVE = ("open", "in_progress")
MAX_TEXT = 2000
MAX_LIST = 500


@dataclass(frozen=True)
class Case:
    """A case as stored, its texts opened (the person is its internal id, None once erased;
    the texts are None then too: their key is destroyed)."""

    id: int
    ref: str
    customer_id: int | None
    subject_ref: str
    kind: str
    jurisdiction: str
    status: str
    received_at: datetime
    due_on: date
    extended_to: date | None
    note: str | None
    extension_reason: str | None
    rejection_reason: str | None
    opened_by: str
    opened_app_id: int | None
    updated_at: datetime
    closed_at: datetime | None
    outcome: dict[str, Any] | None

    @property
    def deadline(self) -> date:
        """The last day to answer: the extended term when extended."""
        return self.extended_to or self.due_on

    def overdue(self, today: date) -> bool:
        """Still open after its last day."""
        return self.status in ACTIVE and today > self.deadline

    @property
    def basis(self) -> str:
        """The legal provision the term comes from."""
        return term_of(self.jurisdiction, self.kind).basis


def _case(row: Any, keys: DataKeys) -> Case:
    values = {name: row._mapping[name] for name in Case.__dataclass_fields__}
    values.update(open_texts(keys, row))
    return Case(**values)


def _text(value: str | None, field: str, required: bool = False) -> str | None:
    text = (value or "").strip()
    if required and not text:
        raise ServiceError(Code.INVALID_INPUT, "give a reason", field)
    if len(text) > MAX_TEXT:
        raise ServiceError(Code.INVALID_INPUT, f"at most {MAX_TEXT} characters", field)
    return text or None


def _step(conn: Connection, trail: Trail, case: Case, step: str, status: str,
          detail: dict[str, Any] | None = None, customer_id: int | None = None) -> None:
    now = utcnow()
    subject = customer_id if customer_id is not None else case.customer_id
    seq = trail.step(conn, f"rights.{step}", subject, {
        "case": case.ref, "kind": case.kind, "jurisdiction": case.jurisdiction,
        "status": status, **(detail or {}),
    })
    conn.execute(insert(rights_case_steps).values(
        case_id=case.id, step=step, status=status, occurred_at=now, actor=trail.actor.name,
        audit_seq=seq,
    ))


def open_case(conn: Connection, trail: Trail, person: Person, kind: str, *,
              jurisdiction: str | None = None, received_at: datetime | None = None,
              note: str | None = None) -> Case:
    """Open a case of `kind` for `person`; the term runs from `received_at` (default now)."""
    if kind not in KINDS:
        raise ServiceError(Code.INVALID_INPUT, f"kind must be one of {', '.join(KINDS)}", "kind")
    where = jurisdiction or person.jurisdiction
    if where not in JURISDICTIONS:
        raise ServiceError(Code.INVALID_INPUT, "jurisdiction must be gdpr or 152-fz", "jurisdiction")
    now = utcnow()
    received = received_at or now
    if received.tzinfo is None:
        raise ServiceError(Code.INVALID_INPUT, "a timestamp with a time zone", "receivedAt")
    if received > now:
        raise ServiceError(Code.INVALID_INPUT, "a request cannot be received in the future", "receivedAt")
    text = _text(note, "note")
    a = trail.actor
    ref = str(uuid.uuid4())
    sealed = seal_text(DataKeys(conn, trail.vault), person.id, ref, "note", text)
    case_id = int(conn.execute(insert(rights_cases).values(
        ref=ref, customer_id=person.id,
        subject_ref=trail.audit.customer_id(person.id), kind=kind, jurisdiction=where,
        status="open", received_at=received, due_on=due_date(received.date(), where, kind),
        note=sealed, opened_by=a.name, opened_app_id=a.app_id, updated_at=now,
    ).returning(rights_cases.c.id)).scalar_one())
    case = load(conn, trail.vault, case_id=case_id)
    _step(conn, trail, case, "opened", "open", {"due_on": case.due_on.isoformat()})
    return case


def load(conn: Connection, vault: Vault, *, ref: str | None = None, case_id: int | None = None,
         lock: bool = False) -> Case:
    """One case by its public id (or internal id), texts opened; NOT_FOUND when there is none."""
    stmt = select(rights_cases)
    stmt = stmt.where(rights_cases.c.ref == ref) if ref is not None else stmt.where(
        rights_cases.c.id == case_id)
    if lock:
        stmt = stmt.with_for_update()
    row = conn.execute(stmt).first()
    if row is None:
        raise ServiceError(Code.NOT_FOUND, "no case with this id", "id")
    return _case(row, DataKeys(conn, vault))


def _active(case: Case) -> None:
    if case.status not in ACTIVE:
        raise ServiceError(Code.CASE_CLOSED, f"the case is {case.status}; no further step", "id")


def _set(conn: Connection, vault: Vault, case: Case, **values: Any) -> Case:
    conn.execute(update(rights_cases).where(rights_cases.c.id == case.id)
                 .values(**values, updated_at=utcnow()))
    return load(conn, vault, case_id=case.id)


def _sealed(conn: Connection, vault: Vault, case: Case, column: str, text: str | None) -> bytes | None:
    return seal_text(DataKeys(conn, vault), case.customer_id, case.ref, column, text)


def start_case(conn: Connection, trail: Trail, ref: str) -> Case:
    """open -> in_progress (someone works on it)."""
    case = load(conn, trail.vault, ref=ref, lock=True)
    _active(case)
    if case.status == "in_progress":
        return case  # starting twice is a no-op, not an error
    case = _set(conn, trail.vault, case, status="in_progress")
    _step(conn, trail, case, "started", "in_progress")
    return case


def extend_case(conn: Connection, trail: Trail, ref: str, reason: str) -> Case:
    """Extend the term once, where the law allows it, for a recorded reason."""
    text = _text(reason, "reason", required=True)
    case = load(conn, trail.vault, ref=ref, lock=True)
    _active(case)
    if case.extended_to is not None:
        raise ServiceError(Code.EXTENSION_NOT_ALLOWED, "the term was extended already", "id")
    extended = extended_due_date(case.received_at.date(), case.jurisdiction, case.kind)
    if extended is None:
        raise ServiceError(Code.EXTENSION_NOT_ALLOWED,
                           f"{case.basis} allows no extension of this term", "id")
    case = _set(conn, trail.vault, case, extended_to=extended,
                extension_reason=_sealed(conn, trail.vault, case, "extension_reason", text))
    _step(conn, trail, case, "extended", case.status, {"extended_to": extended.isoformat()})
    return case


def reject_case(conn: Connection, trail: Trail, ref: str, reason: str) -> Case:
    """Close the case without carrying out the right (e.g. identity not verified)."""
    text = _text(reason, "reason", required=True)
    case = load(conn, trail.vault, ref=ref, lock=True)
    _active(case)
    case = _set(conn, trail.vault, case, status="rejected",
                rejection_reason=_sealed(conn, trail.vault, case, "rejection_reason", text),
                closed_at=utcnow())
    _step(conn, trail, case, "rejected", "rejected")
    return case


def complete_case(conn: Connection, trail: Trail, case: Case, outcome: dict[str, Any]) -> Case:
    """Close the case as done; `outcome` holds names, counts and codes only.

    `case` is the case as it was before the right was carried out: after an erasure it still
    names the customer, so the entry carries their audit pseudonym.
    """
    done = _set(conn, trail.vault, case, status="completed", outcome=outcome, closed_at=utcnow())
    _step(conn, trail, done, "completed", "completed", {"outcome": outcome}, case.customer_id)
    return done


def list_cases(conn: Connection, vault: Vault, *, status: str | None = None, kind: str | None = None,
               opened_app_id: int | None = None, overdue_on: date | None = None,
               subject_ref: str | None = None, limit: int = MAX_LIST) -> list[Case]:
    """Cases, oldest deadline first, texts opened (one key unwrap per customer);
    `overdue_on`: only those still open after their term."""
    if status is not None and status not in STATUSES:
        raise ServiceError(Code.INVALID_INPUT, f"status must be one of {', '.join(STATUSES)}", "status")
    if kind is not None and kind not in KINDS:
        raise ServiceError(Code.INVALID_INPUT, f"kind must be one of {', '.join(KINDS)}", "kind")
    c = rights_cases.c
    stmt = select(rights_cases)
    if status is not None:
        stmt = stmt.where(c.status == status)
    if kind is not None:
        stmt = stmt.where(c.kind == kind)
    if opened_app_id is not None:
        stmt = stmt.where(c.opened_app_id == opened_app_id)
    if subject_ref is not None:
        stmt = stmt.where(c.subject_ref == subject_ref)
    if overdue_on is not None:
        stmt = stmt.where(
            c.status.in_(ACTIVE),
            or_(c.extended_to < overdue_on, (c.extended_to.is_(None)) & (c.due_on < overdue_on)),
        )
    rows = conn.execute(stmt.order_by(c.due_on, c.id).limit(limit)).all()
    keys = DataKeys(conn, vault)
    keys.load(int(r.customer_id) for r in rows if r.customer_id is not None)
    return [_case(r, keys) for r in rows]


def steps_of(conn: Connection, case_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """The steps of each case, in order."""
    s = rights_case_steps.c
    out: dict[int, list[dict[str, Any]]] = {i: [] for i in case_ids}
    if not case_ids:
        return out
    rows = conn.execute(select(rights_case_steps).where(s.case_id.in_(case_ids))
                        .order_by(s.case_id, s.id))
    for row in rows:
        out[row.case_id].append({"step": row.step, "status": row.status,
                                 "occurred_at": row.occurred_at, "actor": row.actor})
    return out
