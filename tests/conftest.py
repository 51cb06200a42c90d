"""Fixtures: one gateway per backend for the session, fresh ones for destructive tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.consent.purposes import load_purposes
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from tests.databases import DatabaseFactory, postgres_unavailable
from tests.harness import REPO, Gateway

DEMO_CUSTOMERS = 40


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without a usable PostgreSQL (and outside CI) its tests are deselected, not skipped one
    by one: the summary says so in one line instead of hundreds of SKIPPED lines."""
    if postgres_unavailable() is None:
        return
    dropped = [item for item in items if item.get_closest_marker("postgres")]
    if dropped:
        items[:] = [item for item in items if not item.get_closest_marker("postgres")]
        config.hook.pytest_deselected(items=dropped)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    reason = postgres_unavailable()
    if reason is not None:
        terminalreporter.write_line(
            f"PostgreSQL backend not tested: {reason} (.ci/run sets it; see README)")


@pytest.fixture(scope="session", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def databases(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseFactory]:
    """A database factory for each backend (PostgreSQL only with GATEWAY_TEST_DATABASE_URL)."""
    factory = DatabaseFactory(request.param, tmp_path_factory.mktemp(request.param))
    yield factory
    factory.close()


@pytest.fixture(scope="session")
def template_url(databases: DatabaseFactory, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated database holding deterministic demo data, copied by the fixtures below."""
    from gateway.demo.seed import seed_demo
    from gateway.privacy.vault import vault_for
    from tests.harness import settings_for

    url = databases.new()
    upgrade(url)
    engine = make_engine(url)
    vault = vault_for(settings_for(url, tmp_path_factory.mktemp("template")))
    seed_demo(engine, load_purposes(REPO / "policies" / "purposes.yaml"), vault=vault,
              customers=DEMO_CUSTOMERS, seed=11)
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def gateway(databases: DatabaseFactory, template_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """A gateway shared by the tests that only read (and add their own customers)."""
    gw = Gateway.start(databases.new(template_url), tmp_path_factory.mktemp("gw"))
    yield gw
    gw.close()


@pytest.fixture
def fresh_gateway(databases: DatabaseFactory, template_url: str, tmp_path: Path) -> Iterator[Gateway]:
    """A gateway on its own copy of the demo database, for tests that break things."""
    gw = Gateway.start(databases.new(template_url), tmp_path)
    yield gw
    gw.close()
