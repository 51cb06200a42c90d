"""0008_sealed_text: consent and preference event ids are never given twice (they are in
signed receipts and in the proofs an erasure keeps); the rebuild loses no state row; a
database that holds free text in the clear is refused, not half converted."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, func, select, text

from gateway.consent.ledger import append_consent, append_preference
from gateway.consent.tables import (
    consent_events,
    consent_state,
    preference_events,
    preference_state,
)
from gateway.privacy.vault import Vault
from gateway.profile.write import create_customer
from gateway.rights.erase import erase_customer
from gateway.rights.tables import rights_ledger_proofs
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from tests.databases import DatabaseFactory
from tests.store.erasure_then import sections_before_portal

VAULT = Vault.build(bytes(range(32)))
BEFORE = "0007_no_id_reuse"


@pytest.fixture
def old_schema(databases: DatabaseFactory) -> Iterator[tuple[str, Engine]]:
    """A database at 0007 (ledgers without AUTOINCREMENT on SQLite, evidence as text)."""
    url = databases.new()
    upgrade(url, BEFORE)
    engine = make_engine(url)
    yield url, engine
    engine.dispose()


def _add(engine: Engine, n: int) -> tuple[int, int, int]:
    """A customer with one consent and one preference event; (customer, consent, preference ids)."""
    with engine.begin() as conn:
        cid = create_customer(conn, VAULT, {"email": f"ledger{n}@people.example"})
        consent = append_consent(conn, customer_id=cid, purpose="marketing_email", notice_version=1,
                                 action="grant", source_channel="web_form")
        preference = append_preference(conn, customer_id=cid, kind="channel", key="email",
                                       value="opt_in", source_channel="web_form")
    return cid, consent, preference


def _erase(engine: Engine, cid: int) -> None:
    with sections_before_portal(), engine.begin() as conn:
        erase_customer(conn, VAULT, cid, subject_ref=f"c_test{cid}", actor="test", jurisdiction="gdpr")


def _states(engine: Engine) -> set[tuple[str, int, int]]:
    with engine.connect() as conn:
        return {(str(t.name), int(r.customer_id), int(r.event_id))
                for t in (consent_state, preference_state)
                for r in conn.execute(select(t.c.customer_id, t.c.event_id))}


def _heads(engine: Engine) -> tuple[str, ...]:
    with engine.connect() as conn:
        return tuple(MigrationContext.configure(conn).get_current_heads())


def test_rebuild_keeps_the_state_and_the_next_event_ids_are_above_every_erased_one(
    old_schema: tuple[str, Engine],
) -> None:
    # given: two customers with events; the newest events belong to the one then erased
    url, engine = old_schema
    _add(engine, 1)
    top, top_consent, top_pref = _add(engine, 2)
    _erase(engine, top)
    # and: before 0008, SQLite gives the erased events' ids to the next customer's events
    again, again_consent, again_pref = _add(engine, 3)
    if engine.dialect.name == "sqlite":
        assert (again_consent, again_pref) == (top_consent, top_pref)  # the reuse 0008 ends
    else:
        assert again_consent > top_consent and again_pref > top_pref
    _erase(engine, again)
    states = _states(engine)
    # when: migrating to head (SQLite rebuilds both ledgers)
    upgrade(url)
    # then: every state row still points at its event, references are enforced and clean
    assert _states(engine) == states and len(states) == 2
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
        kept = {(r.ledger, r.event_id) for r in conn.execute(select(rights_ledger_proofs))}
    assert kept == {("consent", top_consent), ("preference", top_pref),
                    ("consent", again_consent), ("preference", again_pref)}
    # and: new events get ids above every id ever given, erased ones included
    _, consent, preference = _add(engine, 4)
    assert consent > max(top_consent, again_consent)
    assert preference > max(top_pref, again_pref)


def test_an_erased_newest_event_keeps_its_id_at_head(databases: DatabaseFactory) -> None:
    # given: a database at head whose newest events belong to an erased customer
    url = databases.new()
    upgrade(url)
    engine = make_engine(url)
    try:
        _add(engine, 1)
        top, consent, preference = _add(engine, 2)
        _erase(engine, top)
        # when: the next customer records choices
        _, next_consent, next_preference = _add(engine, 3)
        # then: neither ledger hands out the erased ids (which the kept proofs name)
        assert next_consent > consent and next_preference > preference
        with engine.connect() as conn:
            for table, event_id in ((consent_events, consent), (preference_events, preference)):
                assert conn.execute(select(func.count()).select_from(table)
                                    .where(table.c.id == event_id)).scalar_one() == 0
    finally:
        engine.dispose()


def test_a_database_holding_free_text_is_refused_and_left_as_it_was(
    old_schema: tuple[str, Engine],
) -> None:
    # given: a database at 0007 with evidence in the clear (as every earlier version wrote it)
    url, engine = old_schema
    _add(engine, 1)
    with engine.begin() as conn:
        conn.execute(text("UPDATE consent_events SET evidence = 'form-17'"))
    # when: migrating to head
    with pytest.raises(RuntimeError, match="hold free text") as refused:
        upgrade(url)
    # then: a message that says what to do, and nothing changed
    assert "consents export" in str(refused.value) and "nothing was changed" in str(refused.value)
    assert _heads(engine) == (BEFORE,)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT evidence FROM consent_events")).scalar_one() == "form-17"
