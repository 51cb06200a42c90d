"""Engines: SQLite connections zero what they delete (secure_delete), checked on the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event

from gateway.store.db import make_engine

MARKER = "erased-person-marker-7f3a9c@example.org"


def _delete_leaves_marker(engine: Engine, path: Path) -> bool:
    """Write rows holding MARKER, delete one and overwrite another; is MARKER still in the file?"""
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE scratch (id INTEGER PRIMARY KEY, value TEXT)")
        conn.exec_driver_sql("INSERT INTO scratch (value) VALUES (?), (?), ('keep')",
                             (MARKER, MARKER.upper()))
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM scratch WHERE value = ?", (MARKER,))
        conn.exec_driver_sql("UPDATE scratch SET value = 'rectified' WHERE value = ?", (MARKER.upper(),))
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    data = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    return MARKER.lower().encode() in data.lower()


def test_every_sqlite_connection_has_secure_delete_on(tmp_path: Path) -> None:
    # given: an engine of the gateway on a SQLite file
    engine = make_engine(f"sqlite:///{tmp_path / 'gw.db'}")
    try:
        # when: asking two separate connections of its pool
        with engine.connect() as first, engine.connect() as second:
            values = [c.exec_driver_sql("PRAGMA secure_delete").scalar_one() for c in (first, second)]
        # then: both zero what they delete
        assert values == [1, 1]
    finally:
        engine.dispose()


def test_deleted_and_overwritten_values_leave_no_bytes_in_the_sqlite_file(tmp_path: Path) -> None:
    # given: a control with secure_delete off shows the search can see (SQLite's default is
    # off; Debian's build turns it on at compile time, so the control switches it off itself)
    plain_path = tmp_path / "plain.db"
    plain = create_engine(f"sqlite:///{plain_path}")

    @event.listens_for(plain, "connect")
    def _off(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA secure_delete=OFF")
        dbapi_conn.execute("PRAGMA journal_mode=WAL")

    assert _delete_leaves_marker(plain, plain_path)
    # when: the same writes go through the gateway's engine
    path = tmp_path / "gw.db"
    # then: neither the deleted nor the overwritten value is anywhere in the file or its WAL
    assert not _delete_leaves_marker(make_engine(f"sqlite:///{path}"), path)
