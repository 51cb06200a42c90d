"""The person's document: everything held about them, and who read it for what.

One JSON document (GDPR Art. 15 and 20; 152-FZ Art. 14): the profile in the clear, every
registered section, the reads of their data by app and purpose from the audit log, and their
own requests. An access case adds how the data is processed (purposes, legal bases,
categories, retention). The document is built on demand and never stored: a stored copy
would be one more place an erasure had to reach.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import Connection, select

from gateway.audit.tables import audit_events, audit_subjects
from gateway.consent.purposes import Purposes
from gateway.privacy.pseudonyms import Pseudonymizer
from gateway.privacy.vault import Vault
from gateway.rights import held as _held  # noqa: F401  (registers the core sections)
from gateway.rights.cases import list_cases
from gateway.rights.sections import sections
from gateway.rights.subjects import Person, read_profile
from gateway.store.types import utcnow

FORMAT = "consent-gateway/subject-export/v1"
_INTERNAL = ("id",)  # the internal id means nothing to the person


def reads(conn: Connection, audit: Pseudonymizer, person: Person) -> list[dict[str, Any]]:
    """Every audit entry naming the person, oldest first: who, for what, which fields.

    The audit names people by their audit pseudonym. Entries older than the customer record
    are left out: an internal id freed by an earlier erasure must not hand that person's
    history to a newcomer.
    """
    ref = audit.customer_id(person.id)
    e = audit_events.c
    stmt = (
        select(e.seq, e.occurred_at, e.actor_type, e.actor, e.role, e.purpose, e.action,
               e.operation, e.decision, e.subjects, e.detail)
        .join(audit_subjects, audit_subjects.c.audit_id == e.id)
        .where(audit_subjects.c.ref == ref, e.occurred_at >= person.created_at)
        .order_by(e.seq)
    )
    out = []
    for row in conn.execute(stmt):
        code = next((s.get("code") for s in row.subjects if s.get("ref") == ref), None)
        fields = row.detail.get("fields") or {} if isinstance(row.detail, dict) else {}
        out.append({
            "occurred_at": row.occurred_at, "app": row.actor, "actor_type": row.actor_type,
            "role": row.role, "purpose": row.purpose, "action": row.action,
            "operation": row.operation, "decision": row.decision, "your_data": code,
            "fields_given": sorted(n for n, c in fields.items() if c == "ALLOWED"),
            "fields_withheld": sorted(n for n, c in fields.items() if c != "ALLOWED"),
        })
    return out


def _summary(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    counts = Counter((r["app"], r["purpose"], r["action"]) for r in items)
    return [{"app": a, "purpose": p, "action": act, "count": n}
            for (a, p, act), n in sorted(counts.items(), key=lambda kv: (kv[0][0], str(kv[0][1]), kv[0][2]))]


def _processing(purposes: Purposes) -> list[dict[str, Any]]:
    return [
        {"purpose": p.name, "basis": p.basis, "description": p.description,
         "categories": sorted(p.categories), "retention_days": p.retention_days}
        for p in purposes.by_name.values()
    ]


def build(conn: Connection, vault: Vault, audit: Pseudonymizer, purposes: Purposes,
          person: Person, kind: str) -> dict[str, Any]:
    """The document for `person`; `kind` access adds the processing information."""
    profile = {k: v for k, v in read_profile(conn, vault, person.id).items() if k not in _INTERNAL}
    doc: dict[str, Any] = {
        "format": FORMAT,
        "kind": kind,
        "generated_at": utcnow(),
        "controller": dict(purposes.operator),
        "jurisdiction": person.jurisdiction,
        "profile": profile,
    }
    for section in sections():
        doc[section.name] = section.export(conn, vault, person.id)
    items = reads(conn, audit, person)
    doc["reads"] = {"by_app_and_purpose": _summary(items), "entries": items}
    doc["requests"] = [
        {"id": c.ref, "kind": c.kind, "status": c.status, "received_at": c.received_at,
         "due_on": c.deadline, "closed_at": c.closed_at, "note": c.note,
         "extension_reason": c.extension_reason, "rejection_reason": c.rejection_reason}
        for c in list_cases(conn, vault, subject_ref=audit.customer_id(person.id))
    ]
    if kind == "access":
        doc["processing"] = _processing(purposes)
    return doc


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def dumps(doc: dict[str, Any], *, indent: bool = False) -> bytes:
    """The document as JSON bytes (dates ISO 8601, amounts as strings)."""
    option = orjson.OPT_INDENT_2 if indent else 0
    return orjson.dumps(doc, default=_default, option=option | orjson.OPT_NON_STR_KEYS)
