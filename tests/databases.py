"""Test databases: SQLite files, and fresh PostgreSQL databases on the CI server.

With `GATEWAY_TEST_DATABASE_URL` set every storage test also runs on PostgreSQL; with
`CI=true` an unreachable server fails the run instead of skipping it.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

PG_URL = os.environ.get("GATEWAY_TEST_DATABASE_URL")
IN_CI = os.environ.get("CI", "").lower() == "true"


_unavailable: list[str | None] = []


def postgres_unavailable() -> str | None:
    """Why the PostgreSQL backend cannot run here (None: it can, or CI must fail loudly)."""
    if IN_CI:
        return None
    if not _unavailable:
        reason = None
        if not PG_URL:
            reason = "GATEWAY_TEST_DATABASE_URL is not set"
        else:
            try:
                engine = create_engine(PG_URL, connect_args={"connect_timeout": 3})
                with engine.connect() as conn:
                    conn.execute(text("SELECT 1"))
                engine.dispose()
            except Exception as exc:  # noqa: BLE001 - any failure means the same here
                reason = f"PostgreSQL unreachable ({type(exc).__name__})"
        _unavailable.append(reason)
    return _unavailable[0]


def require_postgres() -> str:
    """The PostgreSQL URL, or skip (fail under CI=true) when there is none or it is down."""
    if not PG_URL:
        if IN_CI:
            pytest.fail("CI=true but GATEWAY_TEST_DATABASE_URL is not set")
        pytest.skip("GATEWAY_TEST_DATABASE_URL is not set")
    try:
        engine = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any connection failure means the same here
        if IN_CI:
            pytest.fail(f"PostgreSQL at GATEWAY_TEST_DATABASE_URL is unreachable: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    return PG_URL


class DatabaseFactory:
    """Creates databases for one backend, copies of a template, and drops them all at the end."""

    def __init__(self, backend: str, workdir: Path) -> None:
        self.backend = backend
        self.workdir = workdir
        self._created: list[str] = []
        self._admin = (
            create_engine(require_postgres(), isolation_level="AUTOCOMMIT")
            if backend == "postgresql" else None
        )

    def new(self, template: str | None = None) -> str:
        """A new, empty database URL (or a copy of `template`, a URL made by this factory)."""
        name = f"gwt_{uuid.uuid4().hex[:12]}"
        if self.backend == "sqlite":
            path = self.workdir / f"{name}.db"
            if template is not None:
                source = Path(make_url(template).database or "")
                shutil.copyfile(source, path)
            return f"sqlite:///{path}"
        assert self._admin is not None and PG_URL is not None
        with self._admin.connect() as conn:
            if template is None:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            else:
                conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{make_url(template).database}"'))
        self._created.append(name)
        return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)

    def close(self) -> None:
        """Drop every PostgreSQL database this factory made."""
        if self._admin is None:
            return
        with self._admin.connect() as conn:
            for name in self._created:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self._admin.dispose()
