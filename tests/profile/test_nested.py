"""Nested lists loaded per page: the orders of a compiled plan read only the fields it serves."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, insert

from gateway.profile.nested import MAX_ITEMS, load_nested
from gateway.profile.tables import customers, orders
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.store.types import utcnow
from tests.databases import DatabaseFactory


@pytest.fixture
def engine(databases: DatabaseFactory) -> Iterator[Engine]:
    url = databases.new()
    upgrade(url)
    eng = make_engine(url)
    yield eng
    eng.dispose()


def _customers_with_orders(engine: Engine, counts: list[int]) -> list[int]:
    now = utcnow()
    ids = []
    with engine.begin() as conn:
        for n, count in enumerate(counts):
            cid = int(conn.execute(insert(customers).values(created_at=now, updated_at=now)
                                   .returning(customers.c.id)).scalar_one())
            ids.append(cid)
            for i in range(count):
                conn.execute(insert(orders).values(
                    customer_id=cid, number=f"N{n}-{i}", ordered_at=now - timedelta(days=i * 7 % 11, hours=i),
                    status="paid" if i % 2 else "shipped", channel="web", item_count=i + 1,
                    total_cents=1999 + i, currency="EUR"))
    return ids


@pytest.mark.parametrize("fields", [("total",), ("ordered_at",), ("currency", "total", "number"),
                                    ("number", "ordered_at", "status", "channel", "item_count",
                                     "total", "currency")])
def test_selected_fields_are_the_full_items_projected(engine: Engine, fields: tuple[str, ...]) -> None:
    # given: customers with no order, a few, and more than a page's cap
    ids = _customers_with_orders(engine, [0, 3, MAX_ITEMS + 5])
    reader: Any = None  # the orders loader does not depend on the reader
    with engine.connect() as conn:
        # when
        full = load_nested(conn, "orders", ids, reader)
        selected = load_nested(conn, "orders", ids, reader, fields)
    # then: the same customers, the same items in the same order (newest first, capped),
    # each with exactly the selected keys and their values
    assert selected == {cid: [{f: item[f] for f in fields} for item in items] for cid, items in full.items()}
    assert len(selected[ids[2]]) == MAX_ITEMS and ids[0] not in selected
