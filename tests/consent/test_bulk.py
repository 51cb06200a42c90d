"""Bulk import on each backend: batches, idempotency, forward-only state, 152-FZ content."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from gateway.consent.bulk import import_events, validate_all
from gateway.consent.tables import consent_events, consent_state
from tests.api.support import add_person
from tests.harness import Gateway


def _rows(customers: list[int], count: int) -> list[tuple[int, dict[str, Any] | None]]:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        (n + 2, {"customer_id": customers[n % len(customers)], "purpose": "marketing_email",
                 "notice_version": "2", "action": ("grant", "withdraw", "deny", "grant")[n % 4],
                 "occurred_at": (start + timedelta(minutes=n)).isoformat()})
        for n in range(count)
    ]


def _import(gw: Gateway, rows: list[tuple[int, dict[str, Any] | None]]) -> tuple[int, int]:
    with gw.engine.begin() as conn:
        events, rejected, _ = validate_all(conn, rows, gw.services.purposes, gw.services.vault)
        return import_events(conn, events), len(rejected)


def test_import_is_idempotent_and_the_state_is_the_latest_row(fresh_gateway: Gateway) -> None:
    # given: 3 customers (one under 152-FZ), 90 rows, the last for each customer a known action
    gw = fresh_gateway
    customers = [add_person(gw)[0], add_person(gw)[0], add_person(gw, jurisdiction="152-fz")[0]]
    rows = _rows(customers, 90)

    # when
    first = _import(gw, rows)
    second = _import(gw, list(reversed(rows)))

    # then
    assert first == (90, 0) and second == (0, 0)
    with gw.engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(consent_events)
                             .where(consent_events.c.customer_id.in_(customers))).scalar_one()
        states = {r.customer_id: r.action for r in conn.execute(
            select(consent_state).where(consent_state.c.customer_id.in_(customers)))}
        details = conn.execute(select(consent_events.c.details).where(
            consent_events.c.customer_id == customers[2], consent_events.c.action == "grant")).first()
    assert count == 90
    assert states == {customers[0]: "grant", customers[1]: "grant", customers[2]: "withdraw"}
    assert details is not None and details.details["operator"]["name"] == "Demo Retail LLC"


def test_a_late_row_does_not_overwrite_a_newer_choice(fresh_gateway: Gateway) -> None:
    # given: a withdrawal imported first, an older grant afterwards
    gw = fresh_gateway
    cid = add_person(gw)[0]
    newer = [(2, {"customer_id": cid, "purpose": "marketing_email", "notice_version": 2,
                  "action": "withdraw", "occurred_at": "2026-02-01T00:00:00+00:00"})]
    older = [(2, {"customer_id": cid, "purpose": "marketing_email", "notice_version": 2,
                  "action": "grant", "occurred_at": "2026-01-01T00:00:00+00:00"})]

    # when
    _import(gw, newer)
    _import(gw, older)

    # then
    with gw.engine.connect() as conn:
        state = conn.execute(select(consent_state.c.action).where(
            consent_state.c.customer_id == cid)).scalar_one()
    assert state == "withdraw"
