"""Aggregating on several connections: the same facts as one connection, errors raised."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Connection, insert, select, text

from gateway.profile.tables import customers, interactions, orders
from gateway.segmentation import compute as compute_module
from gateway.segmentation.compute import DERIVED_COLUMNS, FACT_COLUMNS, compute
from gateway.segmentation.config import load_config
from gateway.segmentation.parallel import default_workers, run_chunks
from gateway.segmentation.tables import customer_attributes
from tests.api.support import add_person
from tests.harness import REPO, Gateway
from tests.segmentation.support import purpose

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
KINDS = ("email_open", "email_click", "web_visit", "call")
CHANNEL = {"email_open": "email", "email_click": "email", "web_visit": "web", "call": "phone"}


def _people(gw: Gateway, n: int) -> list[int]:
    """`n` customers with varied orders and interactions (a fixed seed)."""
    rng = np.random.default_rng(11)
    ids = [add_person(gw)[0] for _ in range(n)]
    with gw.engine.begin() as conn:
        for cid in ids:
            for k in range(int(rng.integers(0, 4))):
                conn.execute(insert(orders).values(
                    customer_id=cid, number=f"P-{cid}-{k}", channel="web", item_count=1,
                    ordered_at=NOW - timedelta(days=int(rng.integers(1, 500)), hours=int(rng.integers(0, 24))),
                    status=("delivered", "cancelled")[int(rng.random() < 0.2)],
                    total_cents=int(rng.integers(100, 50_000)), currency=("EUR", "GBP")[k % 2]))
            for _ in range(int(rng.integers(0, 6))):
                kind = KINDS[int(rng.integers(0, 4))]
                conn.execute(insert(interactions).values(
                    customer_id=cid, kind=kind, channel=CHANNEL[kind],
                    device=None if kind == "call" else ("mobile", "desktop", "tablet")[int(rng.integers(0, 3))],
                    campaign=f"c{int(rng.integers(0, 3))}" if kind.startswith("email") else None,
                    occurred_at=NOW - timedelta(hours=int(rng.integers(1, 5000)))))
    return ids


def _stored(gw: Gateway, ids: list[int]) -> list[tuple[Any, ...]]:
    a, c = customer_attributes.c, customers.c
    with gw.engine.connect() as conn:
        attrs = conn.execute(select(a.customer_id, *(a[n] for n in (*FACT_COLUMNS, *DERIVED_COLUMNS)))
                             .where(a.customer_id.in_(ids)).order_by(a.customer_id)).all()
        derived = conn.execute(select(c.id, c.lifecycle_stage, c.rfm_segment, c.rfm_recency, c.rfm_frequency,
                                      c.rfm_monetary).where(c.id.in_(ids)).order_by(c.id)).all()
    return [tuple(r) for r in attrs] + [tuple(r) for r in derived]


def test_two_connections_compute_what_one_does(fresh_gateway: Gateway, monkeypatch: pytest.MonkeyPatch) -> None:
    gw = fresh_gateway
    # given: customers spread over many small chunks
    ids = _people(gw, 24)
    monkeypatch.setattr(compute_module, "CHUNK", 5)
    config, profiling = load_config(REPO / "policies"), purpose(gw, "profiling")
    # when: a full run on one connection, then on two
    serial = compute(gw.engine, config, profiling, NOW, full=True, workers=1)
    one = _stored(gw, ids)
    parallel = compute(gw.engine, config, profiling, NOW, full=True, workers=2)
    two = _stored(gw, ids)
    # then: the same customers aggregated and the same values stored
    assert serial.profiled == parallel.profiled and serial.aggregated == parallel.aggregated
    assert len(one) == 2 * len(ids) and sum(1 for r in one if r[1]) > 0
    assert one == two


def test_an_incremental_run_on_two_connections_aggregates_the_changed(fresh_gateway: Gateway,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    gw = fresh_gateway
    # given: a computed database, then a new visit of one customer
    ids = _people(gw, 12)
    monkeypatch.setattr(compute_module, "CHUNK", 3)
    config, profiling = load_config(REPO / "policies"), purpose(gw, "profiling")
    compute(gw.engine, config, profiling, NOW, workers=2)
    before = {r[0]: r for r in _stored(gw, ids)[:len(ids)]}
    with gw.engine.begin() as conn:
        conn.execute(insert(interactions).values(customer_id=ids[3], kind="web_visit", channel="web",
                                                 device="tablet", occurred_at=NOW - timedelta(hours=2)))
    # when
    report = compute(gw.engine, config, profiling, NOW, workers=2)
    # then: that customer alone was aggregated again, with one more visit
    after = {r[0]: r for r in _stored(gw, ids)[:len(ids)]}
    visits = 1 + FACT_COLUMNS.index("web_visits")
    assert report.aggregated == 1
    assert after[ids[3]][visits] == before[ids[3]][visits] + 1


def test_run_chunks_yields_every_chunk_once(fresh_gateway: Gateway) -> None:
    gw = fresh_gateway
    chunks = list(range(9))

    def work(conn: Connection, chunk: int) -> int:
        return int(conn.execute(text("SELECT :n * 2"), {"n": chunk}).scalar_one())

    # when: on one connection and on three
    for workers in (1, 3):
        found = dict(run_chunks(gw.engine, chunks, work, workers))
        # then
        assert found == {k: 2 * k for k in chunks}


def test_run_chunks_raises_a_workers_error(fresh_gateway: Gateway) -> None:
    gw = fresh_gateway

    def work(conn: Connection, chunk: int) -> int:
        if chunk == 4:
            raise ValueError("chunk 4")
        return chunk

    # when / then
    with pytest.raises(ValueError, match="chunk 4"):
        list(run_chunks(gw.engine, list(range(8)), work, 2))


def test_two_workers_on_postgresql_one_on_sqlite(fresh_gateway: Gateway) -> None:
    # given / when / then
    assert default_workers(fresh_gateway.engine) == (2 if fresh_gateway.engine.dialect.name == "postgresql" else 1)
