"""Alembic migrations build exactly the schema the code declares, on every backend."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from gateway.store.db import make_engine
from gateway.store.migrate import downgrade, upgrade
from gateway.store.registry import metadata
from tests.databases import DatabaseFactory

VERSION_TABLE = "alembic_version"


def _differences(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))


def _tables(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(inspect(conn).get_table_names())


def _revision(engine: Engine) -> tuple[str, ...] | None:
    # Domains branch off the revision they build on; `upgrade` goes to every head.
    with engine.connect() as conn:
        heads = MigrationContext.configure(conn).get_current_heads()
    return tuple(sorted(heads)) or None


def test_head_matches_the_metadata(databases: DatabaseFactory) -> None:
    # given: an empty database
    url = databases.new()
    engine = make_engine(url)
    try:
        # when: migrating it to head
        upgrade(url)
        # then: alembic finds nothing between the migrated schema and the code's metadata
        assert _differences(engine) == []
        assert _tables(engine) == set(metadata.tables) | {VERSION_TABLE}
        assert _revision(engine) is not None
    finally:
        engine.dispose()


def test_downgrade_to_base_and_upgrade_again(databases: DatabaseFactory) -> None:
    # given: a database at head
    url = databases.new()
    upgrade(url)
    engine = make_engine(url)
    try:
        head = _revision(engine)
        # when: downgrading to base
        downgrade(url, "base")
        # then: no table of the gateway is left
        assert _tables(engine) <= {VERSION_TABLE}
        assert _revision(engine) is None
        # when: upgrading again
        upgrade(url)
        # then: the same head, the same schema as the metadata
        assert _revision(engine) == head
        assert _differences(engine) == []
    finally:
        engine.dispose()


def test_upgrade_is_idempotent(databases: DatabaseFactory) -> None:
    # given: a database at head
    url = databases.new()
    upgrade(url)
    engine = make_engine(url)
    try:
        # when: upgrading again (every start of the gateway does)
        upgrade(url)
        # then: nothing changes
        assert _differences(engine) == []
    finally:
        engine.dispose()
