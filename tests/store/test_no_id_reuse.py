"""0007_no_id_reuse: customer ids are never given twice, and the rebuild loses no child row."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, insert, select
from sqlalchemy.exc import IntegrityError

from gateway.consent.ledger import append_consent
from gateway.consent.tables import consent_events, consent_state
from gateway.privacy.tables import data_keys
from gateway.privacy.vault import Vault
from gateway.profile.tables import customers, orders, source_records
from gateway.profile.write import add_source_records, create_customer
from gateway.rights.erase import erase_customer
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.store.types import utcnow
from tests.databases import DatabaseFactory
from tests.store.erasure_then import sections_before_portal

VAULT = Vault.build(bytes(range(32)))
OLD_HEADS = ("0004_rights", "0006_audit")
CHILDREN = (data_keys, source_records, orders, consent_events, consent_state)


@pytest.fixture
def old_schema(databases: DatabaseFactory) -> Iterator[tuple[str, Engine]]:
    """A database at the heads before 0007 (customers without AUTOINCREMENT on SQLite)."""
    url = databases.new()
    for head in OLD_HEADS:
        upgrade(url, head)
    engine = make_engine(url)
    yield url, engine
    engine.dispose()


def _add(engine: Engine, n: int) -> int:
    with engine.begin() as conn:
        cid = create_customer(conn, VAULT, {"email": f"reuse{n}@people.example", "first_name": f"N{n}"})
        add_source_records(conn, VAULT, [{
            "customer_id": cid, "source": "crm", "source_id": f"crm-{n}", "attributes": {"n": n},
            "first_seen_at": utcnow(), "last_seen_at": utcnow(), "link_method": "email",
            "link_confidence": 1.0,
        }])
        conn.execute(insert(orders).values(
            customer_id=cid, number=f"R-{n}", ordered_at=utcnow(), status="delivered", channel="web",
            item_count=1, total_cents=100, currency="EUR"))
        append_consent(conn, customer_id=cid, purpose="marketing_email", notice_version=1,
                       action="grant", source_channel="web")
    return cid


def _erase(engine: Engine, cid: int) -> None:
    with sections_before_portal(), engine.begin() as conn:
        erase_customer(conn, VAULT, cid, subject_ref=f"c_test{cid}", actor="test", jurisdiction="gdpr")


def _children(engine: Engine) -> dict[str, Counter[int | None]]:
    """Per child table, how many rows point at each customer (None: link cut)."""
    with engine.connect() as conn:
        return {str(t.name): Counter(conn.execute(select(t.c.customer_id)).scalars()) for t in CHILDREN}


def test_rebuild_keeps_every_child_row_and_the_next_id_is_above_every_erased_one(
    old_schema: tuple[str, Engine],
) -> None:
    # given: three customers with rows in every kind of child table (CASCADE and SET NULL)
    url, engine = old_schema
    kept = [_add(engine, n) for n in (1, 2)]
    top = _add(engine, 3)
    # and: the newest erased; before 0007, SQLite gives its id to the next customer
    _erase(engine, top)
    again = _add(engine, 4)
    if engine.dialect.name == "sqlite":
        assert again == top  # the reuse this revision ends (control)
    else:
        assert again > top
    _erase(engine, again)
    children = _children(engine)
    assert set(children["data_keys"]) == set(kept)
    # when: migrating to head (SQLite rebuilds customers; PostgreSQL has nothing to do)
    upgrade(url)
    # then: every child row survived with its link (no cascade, no SET NULL fired)
    assert _children(engine) == children
    with engine.connect() as conn:
        assert sorted(conn.execute(select(customers.c.id)).scalars()) == kept
    # and: the children still reference customers, and the reference is enforced
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert(data_keys).values(customer_id=10_000, version=1, wrapped=b"x",
                                              created_at=utcnow()))
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
    # and: the next customer's id is above every id ever given, erased ones included
    assert _add(engine, 5) > max(top, again)


def test_an_erased_newest_customer_keeps_its_id_at_head(databases: DatabaseFactory) -> None:
    # given: a database at head whose newest customer is erased
    url = databases.new()
    upgrade(url)
    engine = make_engine(url)
    try:
        _add(engine, 1)
        top = _add(engine, 2)
        _erase(engine, top)
        # when: the next customers are created
        following = [_add(engine, n) for n in (3, 4)]
        # then: none gets the erased id
        assert following[0] > top and following[1] > following[0]
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(customers)
                                .where(customers.c.id == top)).scalar_one() == 0
    finally:
        engine.dispose()
