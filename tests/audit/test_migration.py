"""Entries written before the chain existed are chained in place by the migration."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    delete,
    insert,
    select,
)

from gateway.audit.tables import audit_subjects
from gateway.audit.verify import verify_chain
from gateway.privacy.signing import Signer
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from tests.databases import DatabaseFactory

# audit_events as revision 0001 made it (no seq)
_legacy = Table(
    "audit_events", MetaData(),
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("occurred_at", DateTime(timezone=True)), Column("request_id", String(36)),
    Column("actor_type", String(16)), Column("actor", String(100)), Column("role", String(50)),
    Column("purpose", String(32)), Column("action", String(32)), Column("operation", String(100)),
    Column("decision", String(8)), Column("subjects", JSON), Column("detail", JSON),
)


def test_legacy_entries_are_chained(databases: DatabaseFactory) -> None:
    # given: a database at 0001 holding three entries
    url = databases.new()
    upgrade(url, "0001")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(insert(_legacy), [
            {"occurred_at": datetime(2026, 1, i, tzinfo=UTC), "request_id": f"r{i}",
             "actor_type": "app", "actor": "old-app", "role": "support", "purpose": "support",
             "action": "read", "operation": "customer", "decision": "allow",
             "subjects": [{"ref": f"c_old{i}", "code": "ALLOWED"}], "detail": {"fields": {}}}
            for i in (1, 2, 3)
        ])
    # when
    upgrade(url)
    # then: they verify as the first three places of the chain
    result = verify_chain(engine, Signer(bytes(32)).jwks(), full=True)
    engine.dispose()
    assert result.ok, result.problem
    assert (result.first_seq, result.last_seq, result.entries) == (1, 3, 3)


def test_legacy_entries_keep_their_customer_index(databases: DatabaseFactory) -> None:
    # given: legacy entries chained by 0002 (which on SQLite used to lose their index rows)
    url = databases.new()
    upgrade(url, "0001")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(insert(_legacy), [
            {"occurred_at": datetime(2026, 1, 1, tzinfo=UTC), "request_id": "r1",
             "actor_type": "app", "actor": "old-app", "role": "support", "purpose": "support",
             "action": "read", "operation": "customers", "decision": "allow",
             "subjects": [{"ref": "c_a", "code": "ALLOWED"}, {"ref": "c_b", "code": "OBJECTED"}],
             "detail": {"fields": {}}}
        ])
    upgrade(url, "0002_audit_chain")
    with engine.begin() as conn:  # as the unfixed 0002 left SQLite databases
        conn.execute(delete(audit_subjects))
    # when
    upgrade(url)
    # then
    with engine.connect() as conn:
        refs = sorted(conn.execute(select(audit_subjects.c.ref)).scalars())
    result = verify_chain(engine, Signer(bytes(32)).jwks(), full=True)
    engine.dispose()
    assert refs == ["c_a", "c_b"]
    assert result.ok, result.problem
