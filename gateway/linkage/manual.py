"""Manual corrections by a data steward (or support): merge two persons, split records off
one, and undo either. Each is one transaction with its case row and its audit entry.

A merge moves everything of the merged person to the survivor (source records, re-sealed
under the survivor's data key; orders; interactions; consent and preference events, their
evidence re-sealed) and keeps an alias, so the merged person's old pseudonyms answer MERGED
with the survivor's. It never turns a withdrawal into a grant: where the two persons'
choices differ, the stricter one is appended to the survivor's ledger (evidence: the case),
and the case lists the conflict. A revert moves the rows back to the person they came from
(recreated under the same id, never reused by anyone else); the stricter choices appended
stay, as a safe default the customer can relax themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from gateway.consent.ledger import append_consent, append_preference
from gateway.consent.sealing import open_evidence, seal_evidence
from gateway.consent.tables import (
    consent_events,
    consent_state,
    preference_events,
    preference_state,
)
from gateway.errors import ServiceError
from gateway.linkage.records import load_records, move_record, refresh_golden
from gateway.linkage.survivorship import Survivorship
from gateway.linkage.tables import customer_merges, linkage_cases
from gateway.policy.codes import Code
from gateway.privacy.datakeys import DataKeys
from gateway.privacy.envelope import store_data_keys
from gateway.privacy.tables import data_keys
from gateway.privacy.vault import Vault
from gateway.profile.tables import customers, interactions, orders, source_records
from gateway.rights.tables import rights_cases
from gateway.store.types import utcnow

STRICTER_CONSENT = {"withdraw": 3, "deny": 2, "grant": 1}
# (kind, value) that protect the customer more than the alternative
STRICT_PREFERENCES = {("objection", "on"), ("restriction", "on"), ("channel", "opt_out")}


@dataclass(frozen=True)
class Steward:
    """Who corrects: the calling app or operator, its role."""

    actor: str
    role: str | None
    vault: Vault
    survivorship: Survivorship


def _exists(conn: Connection, customer_id: int, field: str) -> None:
    if conn.execute(select(customers.c.id).where(customers.c.id == customer_id)).first() is None:
        raise ServiceError(Code.NOT_FOUND, "no customer with this id", field)


def _rows(conn: Connection, table: Any, customer_id: int) -> list[Any]:
    return list(conn.execute(select(table).where(table.c.customer_id == customer_id).order_by(table.c.id)))


def _move_events(conn: Connection, keys: DataKeys, table: Any, name: str, ids: Sequence[int], to: int) -> None:
    for row in conn.execute(select(table).where(table.c.id.in_(list(ids)))):
        text = open_evidence(keys, name, int(row.customer_id), row.evidence)
        conn.execute(update(table).where(table.c.id == row.id).values(
            customer_id=to, evidence=seal_evidence(keys, name, to, text)))


def _project(conn: Connection, customer_id: int) -> None:
    """Rebuild the customer's consent and preference state from their ledgers."""
    conn.execute(delete(consent_state).where(consent_state.c.customer_id == customer_id))
    conn.execute(delete(preference_state).where(preference_state.c.customer_id == customer_id))
    latest: dict[Any, Any] = {}
    for e in _rows(conn, consent_events, customer_id):
        key = e.purpose
        if key not in latest or (e.occurred_at, e.id) >= (latest[key].occurred_at, latest[key].id):
            latest[key] = e
    if latest:
        conn.execute(insert(consent_state), [
            {"customer_id": customer_id, "purpose": e.purpose, "action": e.action,
             "notice_version": e.notice_version, "occurred_at": e.occurred_at,
             "expires_at": e.expires_at, "event_id": e.id} for e in latest.values()])
    prefs: dict[Any, Any] = {}
    for e in _rows(conn, preference_events, customer_id):
        key = (e.kind, e.key)
        if key not in prefs or (e.occurred_at, e.id) >= (prefs[key].occurred_at, prefs[key].id):
            prefs[key] = e
    if prefs:
        conn.execute(insert(preference_state), [
            {"customer_id": customer_id, "kind": e.kind, "key": e.key, "value": e.value,
             "cap_count": e.cap_count, "cap_period_days": e.cap_period_days,
             "occurred_at": e.occurred_at, "event_id": e.id} for e in prefs.values()])


def _states(conn: Connection, customer_id: int) -> tuple[dict[str, Any], dict[tuple[str, str], str]]:
    consents = {r.purpose: r for r in _rows_state(conn, consent_state, customer_id)}
    prefs = {(r.kind, r.key): r.value for r in _rows_state(conn, preference_state, customer_id)}
    return consents, prefs


def _rows_state(conn: Connection, table: Any, customer_id: int) -> list[Any]:
    return list(conn.execute(select(table).where(table.c.customer_id == customer_id)))


def _stricter(conn: Connection, keys: DataKeys, survivor: int, before: list[tuple[dict[str, Any], dict[tuple[str, str], str]]],
              case_id: int, now: datetime) -> tuple[list[str], dict[str, list[int]]]:
    """Append the stricter choice wherever the two persons' states differed; the conflicts."""
    conflicts: list[str] = []
    appended: dict[str, list[int]] = {"consent_events": [], "preference_events": []}
    merged_consents, merged_prefs = _states(conn, survivor)
    evidence = f"linkage case {case_id}: stricter choice kept on merge"
    for purpose in sorted({p for c, _ in before for p in c}):
        rows = [c[purpose] for c, _ in before if purpose in c]
        actions = {r.action for r in rows}
        if len(rows) < 2 or len(actions) == 1:
            continue
        conflicts.append(f"consent:{purpose}")
        strict = max(rows, key=lambda r: STRICTER_CONSENT.get(r.action, 0))
        now_state = merged_consents.get(purpose)
        if now_state is None or STRICTER_CONSENT.get(now_state.action, 0) < STRICTER_CONSENT[strict.action]:
            appended["consent_events"].append(append_consent(
                conn, customer_id=survivor, purpose=purpose, notice_version=strict.notice_version,
                action=strict.action, source_channel="import", occurred_at=now,
                evidence=seal_evidence(keys, "consent_events", survivor, evidence)))
    for key in sorted({k for _, p in before for k in p}):
        values = {p[key] for _, p in before if key in p}
        if len(values) < 2:
            continue
        conflicts.append(f"{key[0]}:{key[1]}")
        strict_value = next((v for v in values if (key[0], v) in STRICT_PREFERENCES), None)
        if strict_value is not None and merged_prefs.get(key) != strict_value:
            appended["preference_events"].append(append_preference(
                conn, customer_id=survivor, kind=key[0], key=key[1], value=strict_value,
                source_channel="import", occurred_at=now,
                evidence=seal_evidence(keys, "preference_events", survivor, evidence)))
    return conflicts, appended


def _new_case(conn: Connection, steward: Steward, kind: str, survivor: int, other: int, now: datetime) -> int:
    return int(conn.execute(insert(linkage_cases).values(
        kind=kind, state="done", survivor_id=survivor, other_id=other, moved={}, conflicts=[],
        actor=steward.actor[:64], role=steward.role, created_at=now,
    ).returning(linkage_cases.c.id)).scalar_one())


def merge(conn: Connection, steward: Steward, survivor: int, merged: int, *, now: datetime | None = None) -> dict[str, Any]:
    """Merge person `merged` into `survivor` (see the module docstring); the case as a dict."""
    now = now or utcnow()
    if survivor == merged:
        raise ServiceError(Code.INVALID_INPUT, "a person cannot be merged with themselves", "mergedId")
    _exists(conn, survivor, "survivorId")
    _exists(conn, merged, "mergedId")
    keys = DataKeys(conn, steward.vault)
    keys.load([survivor, merged])
    if keys.get(survivor) is None or keys.get(merged) is None:
        raise ServiceError(Code.ALREADY_ERASED, "one of these persons has been erased", "mergedId")
    before = [_states(conn, survivor), _states(conn, merged)]
    case_id = _new_case(conn, steward, "merge", survivor, merged, now)
    moved: dict[str, list[int]] = {}
    records = load_records(conn, steward.vault, [merged], keys)
    for record in records:
        move_record(conn, keys, record, survivor)
    moved["source_records"] = [r.id for r in records]
    for table in (orders, interactions):
        ids = [r.id for r in _rows(conn, table, merged)]
        conn.execute(update(table).where(table.c.id.in_(ids)).values(customer_id=survivor))
        moved[str(table.name)] = ids
    for table, name in ((consent_events, "consent_events"), (preference_events, "preference_events")):
        ids = [r.id for r in _rows(conn, table, merged)]
        _move_events(conn, keys, table, name, ids, survivor)
        moved[name] = ids
    conn.execute(update(rights_cases).where(rights_cases.c.customer_id == merged).values(customer_id=survivor))
    _project(conn, survivor)
    _project(conn, merged)
    conflicts, appended = _stricter(conn, keys, survivor, before, case_id, now)
    conn.execute(delete(data_keys).where(data_keys.c.customer_id == merged))
    conn.execute(delete(customers).where(customers.c.id == merged))
    conn.execute(insert(customer_merges).values(merged_id=merged, survivor_id=survivor, case_id=case_id,
                                                merged_at=now))
    refresh_golden(conn, steward.vault, steward.survivorship, [survivor], now, keys)
    conn.execute(update(linkage_cases).where(linkage_cases.c.id == case_id).values(
        moved={**moved, "appended": appended}, conflicts=conflicts))
    return {"id": case_id, "kind": "merge", "survivor": survivor, "other": merged,
            "moved": {k: len(v) for k, v in moved.items()}, "conflicts": conflicts}


def split(conn: Connection, steward: Steward, customer_id: int, record_ids: Sequence[int], *,
          now: datetime | None = None) -> dict[str, Any]:
    """Move `record_ids` (source records of `customer_id`) to a new person; their orders and
    interactions go with them. Consents stay: they were given by the person who stays."""
    from gateway.linkage.ingest import new_customer

    now = now or utcnow()
    _exists(conn, customer_id, "customerId")
    keys = DataKeys(conn, steward.vault)
    records = {r.id: r for r in load_records(conn, steward.vault, [customer_id], keys)}
    wanted = sorted(set(record_ids))
    if not wanted or any(i not in records for i in wanted):
        raise ServiceError(Code.INVALID_INPUT, "name source records of this person", "sourceRecordIds")
    if len(wanted) == len(records):
        raise ServiceError(Code.INVALID_INPUT, "a split must leave the person at least one record",
                           "sourceRecordIds")
    jurisdiction = conn.execute(select(customers.c.jurisdiction).where(customers.c.id == customer_id)).scalar_one()
    other = new_customer(conn, steward.vault, keys, {}, now)
    conn.execute(update(customers).where(customers.c.id == other).values(jurisdiction=jurisdiction))
    case_id = _new_case(conn, steward, "split", customer_id, other, now)
    for rid in wanted:
        move_record(conn, keys, records[rid], other)
    moved: dict[str, list[int]] = {"source_records": wanted}
    for table in (orders, interactions):
        ids = [int(i) for i in conn.execute(select(table.c.id).where(
            table.c.customer_id == customer_id, table.c.source_record_id.in_(wanted))).scalars()]
        conn.execute(update(table).where(table.c.id.in_(ids)).values(customer_id=other))
        moved[str(table.name)] = ids
    refresh_golden(conn, steward.vault, steward.survivorship, [customer_id, other], now, keys)
    conn.execute(update(linkage_cases).where(linkage_cases.c.id == case_id).values(moved=moved))
    return {"id": case_id, "kind": "split", "survivor": customer_id, "other": other,
            "moved": {k: len(v) for k, v in moved.items()}, "conflicts": []}


def revert(conn: Connection, steward: Steward, case_id: int, *, now: datetime | None = None) -> dict[str, Any]:
    """Undo a merge or a split: the moved rows go back to the person they came from."""
    now = now or utcnow()
    case = conn.execute(select(linkage_cases).where(linkage_cases.c.id == case_id)).first()
    if case is None:
        raise ServiceError(Code.NOT_FOUND, "no linkage case with this id", "caseId")
    if case.state != "done":
        raise ServiceError(Code.CASE_CLOSED, "this case was already reverted", "caseId")
    survivor, other = int(case.survivor_id), int(case.other_id)
    keys = DataKeys(conn, steward.vault)
    moved: dict[str, list[int]] = dict(case.moved)
    if case.kind == "merge":
        # The merged person comes back under their own id (ids are never given twice).
        _exists(conn, survivor, "caseId")
        conn.execute(insert(customers).values(id=other, created_at=now, updated_at=now,
                                              jurisdiction=conn.execute(select(customers.c.jurisdiction).where(
                                                  customers.c.id == survivor)).scalar_one(),
                                              order_count=0, total_spent_cents=0))
        key, key_row = steward.vault.envelope.new_data_key(other)
        store_data_keys(conn, [key_row])
        keys.remember(other, key)
        source, target = survivor, other
        conn.execute(delete(customer_merges).where(customer_merges.c.merged_id == other))
    else:
        source, target = other, survivor
    records = {r.id: r for r in load_records(conn, steward.vault, [source], keys)}
    for rid in moved.get("source_records", []):
        if rid in records:
            move_record(conn, keys, records[rid], target)
    for name, table in (("orders", orders), ("interactions", interactions)):
        conn.execute(update(table).where(table.c.id.in_(moved.get(name, []))).values(customer_id=target))
    for table, name in ((consent_events, "consent_events"), (preference_events, "preference_events")):
        _move_events(conn, keys, table, name, moved.get(name, []), target)
    _project(conn, survivor)
    _project(conn, other)
    refresh_golden(conn, steward.vault, steward.survivorship, [survivor, other], now, keys)
    if case.kind == "split" and not conn.execute(select(source_records.c.id).where(
            source_records.c.customer_id == other)).first():
        conn.execute(delete(data_keys).where(data_keys.c.customer_id == other))
        conn.execute(delete(customers).where(customers.c.id == other))
    conn.execute(update(linkage_cases).where(linkage_cases.c.id == case_id).values(
        state="reverted", reverted_at=now))
    return {"id": case_id, "kind": case.kind, "survivor": survivor, "other": other,
            "moved": {k: len(v) for k, v in moved.items() if isinstance(v, list)},
            "conflicts": list(case.conflicts)}
