"""The demo's customers come out of identity resolution, not pre-linked rows.

What each source system knows about the demo people (with the seed's noise: misspellings,
national phone formats, missing fields) goes through the same ingestion and linkage as any
source (gateway/linkage), in one matching run per batch. The demo then knows, from its own
truth, which person each resulting customer is: their orders, interactions and choices are
attached to the customer holding their first record. A person whose records the linkage
put with another demo person's (a false merge) gets their records split off to a customer
of their own, as a data steward would; a person spread over several customers (a missed
link) keeps the extra ones, as real data does.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select, update

from gateway.linkage.ingest import Ingestion, ingest_many, new_customer
from gateway.linkage.mapping import identity_mapping
from gateway.linkage.records import load_records, move_record, refresh_golden
from gateway.linkage.survivorship import Survivorship
from gateway.privacy.datakeys import DataKeys
from gateway.privacy.vault import Vault
from gateway.profile.tables import customers, source_records

# Columns of a demo person that no source system states: the demo sets them on the customer.
PERSON_COLUMNS = (
    "created_at", "updated_at", "latitude", "longitude", "language", "interests",
    "preferred_channel", "loyalty_tier", "loyalty_points", "order_count", "total_spent_cents",
    "last_order_at", "last_seen_at", "lifecycle_stage", "rfm_segment", "rfm_recency",
    "rfm_frequency", "rfm_monetary", "jurisdiction",
)


@dataclass(frozen=True)
class Linked:
    """Person (planned id) -> customer id; planned source record id -> stored id; new customers."""

    customer_of: dict[int, int]
    record_of: dict[int, int]
    created: int


def link_batch(conn: Connection, vault: Vault, people: list[dict[str, Any]],
               records: list[dict[str, Any]], now: datetime) -> Linked:
    """Ingest the batch's source records and attach each person to a customer."""
    before = int(conn.execute(select(func.coalesce(func.max(customers.c.id), 0))).scalar_one())
    country = {int(p["id"]): p["country"] for p in people}
    by_source: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        values = {k: str(v) for k, v in record["attributes"].items()
                  if v is not None and not isinstance(v, list | int)}
        values.setdefault("country", country[int(record["customer_id"])])
        by_source[record["source"]].append({"record_id": record["source_id"], **values})
    batches = [(source, rows, identity_mapping(sorted({k for r in rows for k in r}), source))
               for source, rows in sorted(by_source.items())]
    ctx = Ingestion(vault, Survivorship(), actor="demo")
    report = ingest_many(conn, ctx, batches, now=now)
    if report.rejected:
        raise ValueError(f"the demo generated invalid source rows: {report.rejected[:3]}")
    record_of = {int(r["id"]): report.record_of[f"{r['source']}:{r['source_id']}"] for r in records}
    customer_at = {int(r["id"]): report.customer_of[f"{r['source']}:{r['source_id']}"] for r in records}
    for record in records:  # when each system saw the person (survivorship's "most recent")
        conn.execute(update(source_records).where(source_records.c.id == record_of[int(record["id"])])
                     .values(first_seen_at=record["first_seen_at"], last_seen_at=record["last_seen_at"]))
    owned: dict[int, list[int]] = defaultdict(list)
    for record in records:
        owned[int(record["customer_id"])].append(int(record["id"]))
    keys = DataKeys(conn, vault)
    claimed: set[int] = set()
    customer_of: dict[int, int] = {}
    touched: set[int] = set(customer_at.values())
    for person in people:
        pid = int(person["id"])
        mine = owned.get(pid, [])
        free = [customer_at[r] for r in mine if customer_at[r] > before and customer_at[r] not in claimed]
        if free:
            customer_of[pid] = free[0]
        else:
            customer_of[pid] = new_customer(conn, vault, keys, {"country": person["country"]}, now)
            touched.add(customer_of[pid])
        claimed.add(customer_of[pid])
    # Records the linkage gave to another person's customer move to their own person.
    moves: dict[int, int] = {}
    for person in people:
        pid = int(person["id"])
        for rid in owned.get(pid, []):
            at = customer_at[rid]
            if at != customer_of[pid] and (at <= before or at in claimed):
                moves[record_of[rid]] = customer_of[pid]
    if moves:
        stored = {r.id: r for r in load_records(conn, vault, {customer_at[k] for k in customer_at}, keys)}
        for record_id, to in sorted(moves.items()):
            move_record(conn, keys, stored[record_id], to)
    refresh_golden(conn, vault, Survivorship(), touched, now, keys)
    created = int(conn.execute(select(func.count()).select_from(customers)
                               .where(customers.c.id > before)).scalar_one())
    return Linked(customer_of, record_of, created)


def set_person_columns(conn: Connection, customer_of: Mapping[int, int], people: list[dict[str, Any]]) -> None:
    """What the demo knows of each person beyond their sources, on their customer."""
    for person in people:
        values = {k: person[k] for k in PERSON_COLUMNS if k in person}
        conn.execute(update(customers).where(customers.c.id == customer_of[int(person["id"])]).values(**values))
