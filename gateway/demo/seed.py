"""Deterministic demo data: realistic customers of a retailer, known to several source systems.

`seed_demo` fills an already migrated database with customers, what each source system knows
about them, their orders and interactions, and their consent and preference ledgers (events
plus the projected state). The same `seed` and `now` give the same data; seeding again into
the same database appends new customers after the existing ids.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from faker import Faker
from sqlalchemy import Engine, Table, func, select, text

from gateway.consent.purposes import Purposes
from gateway.consent.sealing import seal_rows
from gateway.consent.tables import (
    consent_events,
    consent_state,
    preference_events,
    preference_state,
)
from gateway.demo.activity import (
    INTERACTION_SOURCE,
    build_sources,
    choose_sources,
    derive,
    plan_interactions,
    plan_orders,
)
from gateway.demo.choices import make_consents, make_preferences
from gateway.demo.linking import link_batch, set_person_columns
from gateway.demo.people import LOCALES, make_person
from gateway.privacy.datakeys import DataKeys
from gateway.privacy.vault import Vault
from gateway.profile.tables import customers as customers_table
from gateway.profile.tables import interactions, orders, source_records

DEFAULT_NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
BATCH_SIZE = 200
# Parents before children, so that foreign keys hold inside each batch.
INSERT_ORDER: tuple[Table, ...] = (
    customers_table, source_records, orders, interactions, consent_events, consent_state,
    preference_events, preference_state,
)
ID_TABLES: tuple[Table, ...] = (
    customers_table, source_records, orders, interactions, consent_events, preference_events,
)

Rows = dict[str, list[dict[str, Any]]]


@dataclass(frozen=True)
class SeedReport:
    """How many rows `seed_demo` inserted, per kind (events only, not projected state)."""

    customers: int
    source_records: int
    orders: int
    interactions: int
    consent_events: int
    preference_events: int


class _Ids:
    """Explicit primary keys, continuing after what the database already holds."""

    def __init__(self, last: dict[str, int]) -> None:
        self._last = dict(last)

    def __call__(self, table: str) -> int:
        self._last[table] += 1
        return self._last[table]


@dataclass(frozen=True)
class _Context:
    rng: random.Random
    fakers: dict[str, Faker]
    purposes: Purposes
    seed: int
    now: datetime
    ids: _Ids


def _customer(ctx: _Context, rows: Rows) -> None:
    """Generate one customer and everything attached to it into `rows`."""
    rng, now, ids = ctx.rng, ctx.now, ctx.ids
    locale, customer = make_person(rng, ctx.fakers, ids("customers"), now)
    created: datetime = customer["created_at"]
    planned_orders = plan_orders(rng, created, now, locale.currency)
    has_card = customer["loyalty_card"] is not None
    customer.update(derive(rng, planned_orders, locale.currency, has_card, now))
    sources = choose_sources(rng, has_card, bool(planned_orders))
    planned_interactions = plan_interactions(rng, sources, created, now)
    records = build_sources(rng, customer, sources, planned_orders, planned_interactions, now, ids)
    shop = records.get("orders")
    for o in planned_orders:
        order_id = ids("orders")
        rows["orders"].append({
            "id": order_id, "customer_id": customer["id"],
            "source_record_id": shop["id"] if shop else None,
            "number": f"ORD-{o.ordered_at.year}-{order_id:06d}", "ordered_at": o.ordered_at,
            "status": o.status, "channel": o.channel, "item_count": o.item_count,
            "total_cents": o.total_cents, "currency": locale.currency,
        })
    for i in planned_interactions:
        rows["interactions"].append({
            "id": ids("interactions"), "customer_id": customer["id"],
            "source_record_id": records[INTERACTION_SOURCE[i.kind]]["id"], "kind": i.kind,
            "channel": i.channel, "device": i.device, "campaign": i.campaign,
            "occurred_at": i.occurred_at,
        })
    customer["last_seen_at"] = (
        planned_interactions[-1].occurred_at if planned_interactions else None
    )
    c_events, c_state = make_consents(rng, ctx.purposes, customer, ctx.seed, now, ids)
    p_events, p_state = make_preferences(rng, customer, c_events, ctx.seed, now, ids)
    moments = [created] + [e["occurred_at"] for e in c_events + p_events]
    moments += [m for m in (customer["last_order_at"], customer["last_seen_at"]) if m is not None]
    customer["updated_at"] = max(moments)
    rows["customers"].append(customer)
    rows["source_records"].extend(records.values())
    rows["consent_events"].extend(c_events)
    rows["consent_state"].extend(c_state)
    rows["preference_events"].extend(p_events)
    rows["preference_state"].extend(p_state)


def _remap(rows: Rows, customer_of: dict[int, int], record_of: dict[int, int]) -> None:
    """Planned person and record ids -> the customers and records linkage stored."""
    for name in ("orders", "interactions", "consent_events", "consent_state", "preference_events",
                 "preference_state"):
        for row in rows[name]:
            row["customer_id"] = customer_of[int(row["customer_id"])]
            if row.get("source_record_id") is not None:
                row["source_record_id"] = record_of[int(row["source_record_id"])]


def _reset_sequences(engine: Engine) -> None:
    """PostgreSQL: move each serial sequence past the ids inserted explicitly."""
    with engine.begin() as conn:
        for table in ID_TABLES:
            conn.execute(text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                f"(SELECT MAX(id) FROM {table.name}))"
            ))


def seed_demo(
    engine: Engine,
    purposes: Purposes,
    *,
    vault: Vault,
    customers: int = 500,
    seed: int = 7,
    now: datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> SeedReport:
    """Insert `customers` demo customers with their sources, orders, interactions and choices.

    Deterministic for a given `seed`, `now` (default: the fixed `DEFAULT_NOW`) and database
    content: ids continue after the current maxima, and a second run appends different people.
    Inserts in one transaction per `BATCH_SIZE` customers and calls `progress(n)` after each,
    with the number of people just committed. Customers are built by identity resolution over
    the source records (gateway/demo/linking.py): ingestion seals the records and the golden
    records under `vault` (ciphertexts and data keys differ between runs; the plaintext is
    deterministic). `customers` in the report counts the customers linkage made, which may
    exceed the people generated where it missed a link.
    """
    if customers < 0:
        raise ValueError("customers must not be negative")
    now = DEFAULT_NOW if now is None else now
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    now = now.astimezone(UTC)
    with engine.connect() as conn:
        last = {
            t.name: int(conn.execute(select(func.max(t.c.id))).scalar() or 0) for t in ID_TABLES
        }
    run = f"gateway-demo:{seed}:{last['customers']}"
    fakers: dict[str, Faker] = {}
    for locale in LOCALES:
        fakers[locale.code] = Faker(locale.code)
        fakers[locale.code].seed_instance(f"{run}:{locale.code}")
    ctx = _Context(random.Random(run), fakers, purposes, seed, now, _Ids(last))
    counts = dict.fromkeys((t.name for t in INSERT_ORDER), 0)
    done = 0
    while done < customers:
        size = min(BATCH_SIZE, customers - done)
        rows: Rows = {t.name: [] for t in INSERT_ORDER}
        for _ in range(size):
            _customer(ctx, rows)
        with engine.begin() as conn:
            # Customers come out of identity resolution over what the sources know.
            linked = link_batch(conn, vault, rows["customers"], rows["source_records"], now)
            _remap(rows, linked.customer_of, linked.record_of)
            data_keys = DataKeys(conn, vault)
            data_keys.load(linked.customer_of.values())
            keys = {cid: key for cid in linked.customer_of.values()
                    if (key := data_keys.get(cid)) is not None}
            seal_rows(keys, rows["consent_events"], "consent_events")
            seal_rows(keys, rows["preference_events"], "preference_events")
            for table in INSERT_ORDER[2:]:
                if rows[table.name]:
                    conn.execute(table.insert(), rows[table.name])
            set_person_columns(conn, linked.customer_of, rows["customers"])
        for name, batch in rows.items():
            counts[name] += len(batch)
        counts["customers"] += linked.created - len(rows["customers"])
        done += size
        if progress is not None:
            progress(size)
    if customers and engine.dialect.name == "postgresql":
        _reset_sequences(engine)
    return SeedReport(
        customers=counts["customers"],
        source_records=counts["source_records"],
        orders=counts["orders"],
        interactions=counts["interactions"],
        consent_events=counts["consent_events"],
        preference_events=counts["preference_events"],
    )
