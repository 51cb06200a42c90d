"""The demo seeder: counts, determinism, ledger projections, aggregates and appending."""

from __future__ import annotations

import os
import secrets
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, Table, create_engine, func, insert, select, text
from sqlalchemy.engine import make_url

from gateway.consent.purposes import Purposes, load_purposes
from gateway.consent.sealing import open_evidence
from gateway.consent.service import fz_details
from gateway.consent.state import flags_of, subject_flag_columns
from gateway.consent.tables import (
    consent_events,
    consent_state,
    preference_events,
    preference_state,
)
from gateway.demo.choices import CHANNEL_PURPOSE
from gateway.demo.seed import DEFAULT_NOW, SeedReport, seed_demo
from gateway.policy import Code, decide_subject
from gateway.privacy.datakeys import DataKeys
from gateway.privacy.vault import Vault
from gateway.profile.identity import SEALED, read_identity
from gateway.profile.tables import customers, interactions, orders, source_records
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade

PURPOSES_PATH = Path(__file__).resolve().parents[2] / "policies" / "purposes.yaml"
CUSTOMERS = 200
SEED = 7
OTHER_SEED = 8
PG_CUSTOMERS = 50
PG_URL_VARIABLE = "GATEWAY_TEST_DATABASE_URL"
NOT_SPENT = {"cancelled", "returned"}
Row = dict[str, Any]
VAULT = Vault.build(bytes(range(32)))
REPORT_TABLES: dict[str, Table] = {
    "customers": customers,
    "source_records": source_records,
    "orders": orders,
    "interactions": interactions,
    "consent_events": consent_events,
    "preference_events": preference_events,
}


@pytest.fixture(scope="module")
def purposes() -> Purposes:
    return load_purposes(PURPOSES_PATH)


def _fresh_engine(tmp_path: Path, name: str = "t.db") -> Engine:
    url = f"sqlite:///{tmp_path}/{name}"
    upgrade(url)
    return make_engine(url)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = _fresh_engine(tmp_path)
    yield eng
    eng.dispose()


@pytest.fixture
def seeded(engine: Engine, purposes: Purposes) -> tuple[Engine, SeedReport]:
    return engine, seed_demo(engine, purposes, vault=VAULT, customers=CUSTOMERS, seed=SEED)


def _rows(engine: Engine, table: Table) -> list[Row]:
    with engine.connect() as conn:
        pk = list(table.primary_key.columns)
        return [dict(r._mapping) for r in conn.execute(select(table).order_by(*pk))]


def _consent_events(engine: Engine) -> list[Row]:
    """The consent events with their sealed evidence opened (ciphertexts differ between runs)."""
    rows = _rows(engine, consent_events)
    with engine.connect() as conn:
        keys = DataKeys(conn, VAULT)
        for row in rows:
            row["evidence"] = open_evidence(keys, "consent_events", row["customer_id"], row["evidence"])
    return rows


def _people(engine: Engine) -> list[Row]:
    """The customers with their sealed identifiers opened (ciphertexts differ between runs)."""
    with engine.connect() as conn:
        people = []
        for row in _rows(engine, customers):
            identity = read_identity(conn, VAULT, row["id"])
            assert identity is not None
            people.append({**row, **identity})
        return people


def _count(engine: Engine, table: Table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _latest(events: list[Row], keys: tuple[str, ...]) -> dict[tuple[Any, ...], Row]:
    latest: dict[tuple[Any, ...], Row] = {}
    for event in sorted(events, key=lambda e: (e["occurred_at"], e["id"])):
        latest[tuple(event[k] for k in keys)] = event
    return latest


def _aggregates(placed: list[Row]) -> tuple[int, int, Any]:
    """Every order counts; cancelled and returned ones are not money spent."""
    spent = sum(o["total_cents"] for o in placed if o["status"] not in NOT_SPENT)
    return len(placed), spent, max((o["ordered_at"] for o in placed), default=None)


def test_report_counts_match_the_rows_inserted(seeded: tuple[Engine, SeedReport]) -> None:
    # given
    engine, report = seeded

    # when
    counts = {name: _count(engine, table) for name, table in REPORT_TABLES.items()}

    # then
    assert counts == asdict(report)
    # one customer per person, and a few more where linkage found no shared key between a
    # person's systems (an email-platform record and a loyalty card, say)
    assert CUSTOMERS <= report.customers <= CUSTOMERS * 1.06
    assert min(counts.values()) > 0


def test_progress_adds_up_to_every_customer(engine: Engine, purposes: Purposes) -> None:
    # given
    calls: list[int] = []

    # when
    seed_demo(engine, purposes, vault=VAULT, customers=CUSTOMERS + 37, seed=SEED, progress=calls.append)

    # then
    assert sum(calls) == CUSTOMERS + 37
    assert len(calls) > 1


def test_same_seed_gives_the_same_customers_and_another_seed_differs(
    tmp_path: Path, purposes: Purposes
) -> None:
    # given
    engines = [_fresh_engine(tmp_path, f"{name}.db") for name in ("a", "b", "c")]

    # when
    for eng, seed in zip(engines, (SEED, SEED, OTHER_SEED), strict=True):
        seed_demo(eng, purposes, vault=VAULT, customers=CUSTOMERS, seed=seed)
    first, again, other = ([{k: v for k, v in p.items() if not k.endswith("_bidx")}
                            for p in _people(eng)] for eng in engines)
    first_consents, again_consents = (_consent_events(eng) for eng in engines[:2])
    for eng in engines:
        eng.dispose()

    # then: the same people (identifiers compared in plaintext; their ciphertexts differ)
    assert first == again
    assert all(set(SEALED) <= p.keys() for p in first)
    assert sum(isinstance(p["email"], str) for p in first) >= CUSTOMERS
    assert first_consents == again_consents
    assert first != other


def test_consent_state_is_the_latest_event_per_customer_and_purpose(
    seeded: tuple[Engine, SeedReport],
) -> None:
    # given
    engine, _ = seeded
    events = _rows(engine, consent_events)

    # when
    expected = {
        key: (e["action"], e["notice_version"], e["occurred_at"], e["expires_at"], e["id"])
        for key, e in _latest(events, ("customer_id", "purpose")).items()
    }
    actual = {
        (s["customer_id"], s["purpose"]):
            (s["action"], s["notice_version"], s["occurred_at"], s["expires_at"], s["event_id"])
        for s in _rows(engine, consent_state)
    }

    # then
    assert actual == expected


def test_preference_state_is_the_latest_event_per_key(seeded: tuple[Engine, SeedReport]) -> None:
    # given
    engine, _ = seeded
    events = _rows(engine, preference_events)

    # when
    expected = {
        key: (e["value"], e["cap_count"], e["cap_period_days"], e["occurred_at"], e["id"])
        for key, e in _latest(events, ("customer_id", "kind", "key")).items()
    }
    actual = {
        (s["customer_id"], s["kind"], s["key"]):
            (s["value"], s["cap_count"], s["cap_period_days"], s["occurred_at"], s["event_id"])
        for s in _rows(engine, preference_state)
    }

    # then
    assert actual == expected
    assert {k[1] for k in actual} == {"channel", "objection", "restriction"}


def test_order_aggregates_match_the_orders(seeded: tuple[Engine, SeedReport]) -> None:
    # given
    engine, _ = seeded
    by_customer: dict[int, list[Row]] = {}
    for order in _rows(engine, orders):
        by_customer.setdefault(order["customer_id"], []).append(order)

    # when
    mismatches = [
        c["id"] for c in _rows(engine, customers)
        if (c["order_count"], c["total_spent_cents"], c["last_order_at"])
        != _aggregates(by_customer.get(c["id"], []))
    ]

    # then
    assert mismatches == []


def test_last_seen_is_the_latest_interaction(seeded: tuple[Engine, SeedReport]) -> None:
    # given
    engine, _ = seeded
    latest: dict[int, Any] = {}
    for i in _rows(engine, interactions):
        previous = latest.get(i["customer_id"], i["occurred_at"])
        latest[i["customer_id"]] = max(i["occurred_at"], previous)

    # when
    last_seen = {c["id"]: c["last_seen_at"] for c in _rows(engine, customers)}

    # then
    assert last_seen == {cid: latest.get(cid) for cid in last_seen}
    assert all(t <= DEFAULT_NOW for t in latest.values())


def test_consents_mix_grants_denials_withdrawals_and_silence(
    seeded: tuple[Engine, SeedReport],
) -> None:
    # given
    engine, _ = seeded
    events = _rows(engine, consent_events)

    # when
    actions = {e["action"] for e in events}
    asked = {e["customer_id"] for e in events}
    states = _rows(engine, consent_state)

    # then
    assert actions == {"grant", "deny", "withdraw"}
    assert len(asked) < CUSTOMERS
    assert any(
        (s["action"], s["purpose"], s["notice_version"]) == ("grant", "marketing_sms", 1)
        for s in states
    )
    assert any(s["expires_at"] is not None and s["expires_at"] < DEFAULT_NOW for s in states)


def test_152_fz_grants_carry_the_consent_content(
    seeded: tuple[Engine, SeedReport], purposes: Purposes
) -> None:
    # given
    engine, _ = seeded
    russians = {c["id"] for c in _rows(engine, customers) if c["jurisdiction"] == "152-fz"}

    # when
    grants = [e for e in _rows(engine, consent_events)
              if e["customer_id"] in russians and e["action"] == "grant"]

    # then: the same content the consent service records for a grant to that notice
    assert grants
    for grant in grants:
        notice = next(n for n in purposes.by_name[grant["purpose"]].notices
                      if n.version == grant["notice_version"])
        assert grant["details"] == fz_details(purposes, grant["purpose"], notice)
        assert grant["details"]["operator"] == purposes.operator


def test_152_fz_grants_expire_after_their_term(
    seeded: tuple[Engine, SeedReport], purposes: Purposes
) -> None:
    # given: the seeded customers by jurisdiction
    engine, _ = seeded
    jurisdiction = {c["id"]: c["jurisdiction"] for c in _rows(engine, customers)}

    # when
    grants = [e for e in _rows(engine, consent_events) if e["action"] == "grant"]
    russian = [g for g in grants if jurisdiction[g["customer_id"]] == "152-fz"]
    others = [g for g in grants if jurisdiction[g["customer_id"]] != "152-fz"]
    by_term = [g for g in russian
               if g["expires_at"] == g["occurred_at"] + timedelta(days=g["details"]["term_days"])]

    # then: every 152-FZ grant ends at its term at the latest (as the consent service records
    # it), and some are already over at the demo's moment: the first hour shows expiry
    assert russian and others
    for grant in russian:
        term = timedelta(days=grant["details"]["term_days"])
        assert grant["expires_at"] is not None
        assert grant["expires_at"] <= grant["occurred_at"] + term
    assert any(g["expires_at"] < DEFAULT_NOW for g in by_term)
    # control: a GDPR grant has no term (only the few seeded with an expiry have one)
    assert sum(g["expires_at"] is None for g in others) > len(others) // 2


def test_channel_choices_follow_the_purposes_that_use_the_channels(purposes: Purposes) -> None:
    # given: the demo's channel -> purpose map, and the channels purposes.yaml names
    named = {p.channel: p.name for p in purposes.by_name.values() if p.channel}
    # then: both agree
    assert {c: p for c, p in CHANNEL_PURPOSE.items() if p} == named


def test_some_email_consenters_opted_out_of_email_and_are_withheld(
    seeded: tuple[Engine, SeedReport], purposes: Purposes
) -> None:
    # given: the seeded customers, decided under marketing_email as the read path decides
    engine, _ = seeded
    purpose = purposes.by_name["marketing_email"]
    cid = customers.c.id
    with engine.connect() as conn:
        rows = conn.execute(select(cid, *subject_flag_columns(cid, purpose, DEFAULT_NOW))).all()

    # when
    codes = Counter(decide_subject(purpose, flags_of(r)).code for r in rows)

    # then: a realistic mix; consenters who unsubscribed from email are a minority
    assert codes[Code.CHANNEL_OPTED_OUT] > 0
    assert codes[Code.ALLOWED] > 3 * codes[Code.CHANNEL_OPTED_OUT]
    assert codes[Code.CONSENT_REQUIRED] > 0


def test_emails_are_unique_and_sources_are_coherent(seeded: tuple[Engine, SeedReport]) -> None:
    # given
    engine, _ = seeded
    people = {c["id"]: c for c in _people(engine)}

    # when
    emails = [c["email"] for c in people.values() if c["email"] is not None]
    records = _rows(engine, source_records)

    # then: every person gave an email somewhere; only linkage's extra customers lack one
    assert len(emails) >= CUSTOMERS
    assert len(set(emails)) == len(emails)
    assert all(e.isascii() and e == e.lower() for e in emails)
    assert all(r["first_seen_at"] <= r["last_seen_at"] for r in records)
    loyalty = [r for r in records if r["source"] == "loyalty"]
    assert all(people[r["customer_id"]]["loyalty_card"] for r in loyalty)
    assert all(1 <= sum(r["customer_id"] == cid for r in records) <= 5 for cid in people)


def test_seeding_twice_appends(seeded: tuple[Engine, SeedReport], purposes: Purposes) -> None:
    # given
    engine, first = seeded

    # when
    second = seed_demo(engine, purposes, vault=VAULT, customers=CUSTOMERS, seed=SEED)

    # then
    people = _people(engine)
    assert len(people) == first.customers + second.customers
    assert _count(engine, orders) == first.orders + second.orders
    assert _count(engine, consent_events) == first.consent_events + second.consent_events
    emails = [c["email"] for c in people if c["email"] is not None]
    assert len(emails) >= 2 * CUSTOMERS and len(set(emails)) == len(emails)


@pytest.mark.postgres
@pytest.mark.skipif(not os.environ.get(PG_URL_VARIABLE), reason=f"{PG_URL_VARIABLE} is not set")
def test_seeds_a_fresh_postgres_database(purposes: Purposes) -> None:
    # given
    admin = create_engine(os.environ[PG_URL_VARIABLE], isolation_level="AUTOCOMMIT")
    name = f"gw_seed_{secrets.token_hex(6)}"
    url = make_url(os.environ[PG_URL_VARIABLE]).set(database=name)
    url_text = url.render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        upgrade(url_text)
        engine = make_engine(url_text)
        try:
            # when
            report = seed_demo(engine, purposes, vault=VAULT, customers=PG_CUSTOMERS, seed=SEED)
            with engine.begin() as conn:
                new_id = conn.execute(
                    insert(customers).values(created_at=DEFAULT_NOW, updated_at=DEFAULT_NOW)
                    .returning(customers.c.id)
                ).scalar_one()

            # then
            counts = {n: _count(engine, t) for n, t in REPORT_TABLES.items()}
            assert counts == {**asdict(report), "customers": report.customers + 1}
            assert new_id == report.customers + 1
        finally:
            engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
