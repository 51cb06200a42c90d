"""Each audience's stored default order: the computed permutation's values, kept by the database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, Engine, delete, func, insert, select

from gateway.privacy.ordering import order_key
from gateway.profile.order import ensure, position_of, rank_and_id
from gateway.profile.tables import customer_order, customer_order_keys, customers
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.store.types import utcnow
from tests.databases import DatabaseFactory
from tests.harness import Gateway

MASTER = bytes(range(32))
OTHER_MASTER = bytes(range(1, 33))


@pytest.fixture
def engine(databases: DatabaseFactory) -> Iterator[Engine]:
    url = databases.new()
    upgrade(url)
    eng = make_engine(url)
    yield eng
    eng.dispose()


def _add(conn: Connection, count: int) -> list[int]:
    now = utcnow()
    return [int(conn.execute(insert(customers).values(created_at=now, updated_at=now)
                             .returning(customers.c.id)).scalar_one()) for _ in range(count)]


def _stored(conn: Connection, audience: str) -> dict[int, int]:
    rows = conn.execute(select(customer_order.c.customer_id, customer_order.c.position)
                        .where(customer_order.c.audience == audience))
    return {row.customer_id: row.position for row in rows}


def test_positions_round_trip() -> None:
    # given / when / then: (rank, id) survives its position, and positions sort as (rank, id)
    pairs = [(0, 1), (0, 2), (5, 1), (2**31 - 2, 2**31 - 1)]
    assert [rank_and_id(position_of(*p)) for p in pairs] == pairs
    assert sorted(pairs) == sorted(pairs, key=lambda p: position_of(*p))


def test_stored_order_is_the_audience_permutation(engine: Engine) -> None:
    # given: customers created before the audience lists any
    key = order_key(MASTER, "app:1")
    with engine.begin() as conn:
        ids = _add(conn, 30)
        # when: the audience's order is stored
        built = ensure(conn, "app:1", key)
        # then: one row per customer, at the computed rank (the cursors made before hold)
        assert built
        assert _stored(conn, "app:1") == {cid: position_of(key.rank(cid), cid) for cid in ids}
        # and: storing it again is a no-op
        assert not ensure(conn, "app:1", key)


def test_new_customers_are_ranked_for_every_stored_audience(engine: Engine) -> None:
    # given: two audiences with stored orders
    one, two = order_key(MASTER, "app:1"), order_key(MASTER, "app:2")
    with engine.begin() as conn:
        ensure(conn, "app:1", one)
        ensure(conn, "app:2", two)
        # when: customers are added afterwards (one statement for several, and one by one)
        now = utcnow()
        conn.execute(insert(customers), [{"created_at": now, "updated_at": now} for _ in range(5)])
        _add(conn, 3)
        ids = list(conn.execute(select(customers.c.id)).scalars())
        # then: the trigger ranked each for both audiences, in each one's own order
        assert _stored(conn, "app:1") == {cid: position_of(one.rank(cid), cid) for cid in ids}
        assert _stored(conn, "app:2") == {cid: position_of(two.rank(cid), cid) for cid in ids}
        assert sorted(ids, key=one.rank) != sorted(ids, key=two.rank)


def test_deleted_customers_leave_every_order(engine: Engine) -> None:
    # given: a stored order of ten customers
    with engine.begin() as conn:
        ids = _add(conn, 10)
        ensure(conn, "app:1", order_key(MASTER, "app:1"))
        # when: two are deleted (as erasure and a merge delete the customer row)
        conn.execute(delete(customers).where(customers.c.id.in_(ids[:2])))
        # then: their positions are gone, the others' stay
        assert set(_stored(conn, "app:1")) == set(ids[2:])


def test_an_order_made_with_other_constants_is_rebuilt(engine: Engine) -> None:
    # given: an order stored under another master key
    old, new = order_key(OTHER_MASTER, "app:1"), order_key(MASTER, "app:1")
    with engine.begin() as conn:
        ids = _add(conn, 12)
        ensure(conn, "app:1", old)
        # when: the audience's current constants differ
        rebuilt = ensure(conn, "app:1", new)
        # then: the order is rebuilt with them
        assert rebuilt
        assert _stored(conn, "app:1") == {cid: position_of(new.rank(cid), cid) for cid in ids}


def test_a_new_apps_first_listing_stores_its_order_for_good(fresh_gateway: Gateway) -> None:
    # given: an app whose order is not stored (created without `apps create`), and reads
    # whose audit entries go through the group commit (their transaction is rolled back)
    gw = fresh_gateway
    assert gw.services.settings.audit_group_commit
    gw.add_app("marketing", "late-marketing")
    audience = gw.services.pseudonyms.for_app(gw.callers["late-marketing"].app_id).audience
    page = "{ customers(first: 3) { nodes { id } } }"

    def stored() -> set[str]:
        with gw.engine.connect() as conn:
            return set(conn.execute(select(customer_order_keys.c.audience)).scalars())

    assert audience not in stored()
    # when: the app lists customers
    answer = gw.post(page, app="late-marketing", purpose="marketing_email")
    first = answer.json()
    # then: its order was committed with that read, so the next page does not build it again
    assert audience in stored()
    with gw.engine.connect() as conn:
        rows = conn.execute(select(func.count()).select_from(customer_order)
                            .where(customer_order.c.audience == audience)).scalar_one()
        assert rows == conn.execute(select(func.count()).select_from(customers)).scalar_one()
    again = gw.post(page, app="late-marketing", purpose="marketing_email").json()
    assert again == first and len(first["data"]["customers"]["nodes"]) == 3
    # and: the read that stored it is audited like any other
    assert gw.audit_entry(answer.headers["X-Request-Id"]).operation == "customers"
