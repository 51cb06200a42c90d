"""Erasure: nothing of the person left in the clear, the proof of their choices kept.

In one transaction (the caller's):
1. every registered section's eraser runs (derived data, sessions, ... of later domains);
2. the consent and preference ledgers' events are copied as proofs under a random tombstone
   id (purpose, notice version, action, times, channel; evidence only as its SHA-256), then
   deleted with their projected state;
3. interactions, orders and source records are deleted;
4. the customer's data key and blind indexes are destroyed (gateway/privacy);
5. the person's cases lose their link to the customer row (they keep the audit pseudonym);
   staff's free text on them is sealed under the destroyed key (gateway/rights/texts.py), so
   it reads as null from now on: crypto-shredding, nothing to scrub;
6. the customer row is deleted, and the erasure is recorded (tombstone, counts).
Audit entries stay: they hold only pseudonyms.

On SQLite deleted rows would stay readable in free pages until overwritten; every
connection of the gateway has `secure_delete` on (gateway/store/db.py `make_engine`), so
SQLite zeroes what it deletes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, delete, insert, select, update

from gateway.consent.sealing import open_evidence
from gateway.consent.tables import (
    consent_events,
    consent_state,
    preference_events,
    preference_state,
)
from gateway.privacy.datakeys import DataKeys
from gateway.privacy.vault import Vault
from gateway.profile.tables import customers, interactions, orders, source_records
from gateway.rights import held as _held  # noqa: F401  (registers the core sections)
from gateway.rights.sections import sections
from gateway.rights.subjects import destroy_keys
from gateway.rights.tables import rights_cases, rights_erasures, rights_ledger_proofs
from gateway.store.types import utcnow


@dataclass(frozen=True)
class Erasure:
    """What an erasure did: its tombstone id and how many rows went, per table."""

    tombstone: str
    counts: dict[str, int]


def _evidence(vault: Vault, text: str | None) -> str | None:
    return vault.blind.digest("evidence", text)


def _keep_proofs(conn: Connection, vault: Vault, customer_id: int, tombstone: str) -> int:
    """Copy the ledger events as proofs; evidence kept as its keyed digest (opened before the
    key is destroyed), so the operator can still match a proof against the original form or
    call, and nobody without the master key can confirm a guess of what it said."""
    ce, pe = consent_events.c, preference_events.c
    keys = DataKeys(conn, vault)
    rows: list[dict[str, Any]] = []
    for r in conn.execute(select(consent_events).where(ce.customer_id == customer_id)):
        rows.append({
            "tombstone": tombstone, "ledger": "consent", "event_id": r.id, "purpose": r.purpose,
            "notice_version": r.notice_version, "kind": None, "key": None, "action": r.action,
            "occurred_at": r.occurred_at, "recorded_at": r.recorded_at,
            "source_channel": r.source_channel, "app_id": r.app_id, "expires_at": r.expires_at,
            "notice_text_sha256": r.notice_text_sha256, "evidence_sha256": _evidence(vault, open_evidence(keys, "consent_events", customer_id, r.evidence)),
        })
    for r in conn.execute(select(preference_events).where(pe.customer_id == customer_id)):
        rows.append({
            "tombstone": tombstone, "ledger": "preference", "event_id": r.id, "purpose": None,
            "notice_version": None, "kind": r.kind, "key": r.key, "action": r.value,
            "occurred_at": r.occurred_at, "recorded_at": r.recorded_at,
            "source_channel": r.source_channel, "app_id": r.app_id, "expires_at": None,
            "notice_text_sha256": None,
            "evidence_sha256": _evidence(vault, open_evidence(keys, "preference_events", customer_id, r.evidence)),
        })
    if rows:
        conn.execute(insert(rights_ledger_proofs), rows)
    return len(rows)


def _delete(conn: Connection, table: Table, customer_id: int) -> int:
    return int(conn.execute(delete(table).where(table.c.customer_id == customer_id)).rowcount or 0)


def _unlink_cases(conn: Connection, customer_id: int) -> int:
    c = rights_cases.c
    return int(conn.execute(update(rights_cases).where(c.customer_id == customer_id)
                            .values(customer_id=None)).rowcount or 0)


def erase_customer(conn: Connection, vault: Vault, customer_id: int, *, subject_ref: str, actor: str,
                   jurisdiction: str, case_id: int | None = None) -> Erasure:
    """Erase customer `customer_id` (who must exist) on `conn`; the caller commits."""
    tombstone = "t_" + uuid.uuid4().hex
    counts: dict[str, int] = {}
    for section in sections():
        if section.erase is not None:
            counts[section.name] = section.erase(conn, vault, customer_id)
    counts["ledger_proofs_kept"] = _keep_proofs(conn, vault, customer_id, tombstone)
    for table in (consent_state, preference_state, consent_events, preference_events,
                  interactions, orders, source_records):
        counts[str(table.name)] = _delete(conn, table, customer_id)
    counts["keys"] = destroy_keys(conn, customer_id)
    counts["cases_unlinked"] = _unlink_cases(conn, customer_id)
    counts["customers"] = int(conn.execute(
        delete(customers).where(customers.c.id == customer_id)).rowcount or 0)
    conn.execute(insert(rights_erasures).values(
        tombstone=tombstone, subject_ref=subject_ref, case_id=case_id, erased_at=utcnow(),
        erased_by=actor, jurisdiction=jurisdiction, counts=counts,
    ))
    return Erasure(tombstone, counts)
