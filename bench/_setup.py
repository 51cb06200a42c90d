"""Benchmark fixtures: a fresh database (SQLite or PostgreSQL), migrated, seeded, with apps.

Everything here is created for one benchmark run and removed at its end: the SQLite file
lives in a temporary directory, the PostgreSQL database is created with CREATE DATABASE and
dropped (WITH (FORCE)) when the run closes.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

# The benchmark's own master key: a fixed test value, never a production secret.
MASTER_KEY = "q83vEjRO9pkTFp1zDmCwOqxfN4uGRF5pX3JbrHHpq9M="
REPO = Path(__file__).resolve().parents[1]
POLICY_DIR = REPO / "policies"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

# Name -> (role, purpose): the gateway scenarios of the benchmark.
SCENARIO_APPS: dict[str, tuple[str, str]] = {
    "support": ("support", "service"),
    "marketing": ("marketing", "marketing_email"),
    "compliance": ("compliance_officer", "compliance_audit"),
}


@dataclass
class BenchDatabase:
    """A seeded benchmark database and the keys of the apps created in it."""

    url: str
    kind: str
    customers: int
    seed_seconds: float
    keys: dict[str, str] = field(default_factory=dict)
    master_key: str = MASTER_KEY


def _pg_admin_url() -> str:
    return os.environ.get("GATEWAY_TEST_DATABASE_URL") or DEFAULT_PG_URL


@contextlib.contextmanager
def postgres_database(template: str | None = None) -> Iterator[str]:
    """CREATE a fresh database next to the one GATEWAY_TEST_DATABASE_URL names (or a copy of
    the database `template` names, same server); DROP it after."""
    admin = make_url(_pg_admin_url() if template is None else template)
    name = f"bench_{secrets.token_hex(4)}"
    engine = create_engine(admin.set(database="postgres"), isolation_level="AUTOCOMMIT")
    copy_of = "" if template is None else f' TEMPLATE "{admin.database}"'
    try:
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"{copy_of}'))
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with contextlib.suppress(Exception), engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@contextlib.contextmanager
def copy_database(url: str, workdir: Path, name: str) -> Iterator[str]:
    """A copy of the database at `url`: an SQLite file (checkpointed first) in `workdir`, or a
    PostgreSQL database made from it as a template (dropped afterwards)."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite"):
        with postgres_database(template=url) as copy:
            yield copy
        return
    engine = create_engine(url)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    target = workdir / f"{name}.db"
    shutil.copyfile(parsed.database or "", target)
    yield f"sqlite:///{target}"


@contextlib.contextmanager
def _sqlite_database(workdir: Path) -> Iterator[str]:
    yield f"sqlite:///{workdir / 'bench.db'}"


def _seed_module_ready(wait_seconds: float) -> None:
    """gateway.demo.seed may still be being written: wait (60 s steps) until it imports."""
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            from gateway.demo.seed import seed_demo  # noqa: F401

            return
        except ImportError:
            if time.monotonic() > deadline:
                raise
            print("gateway.demo.seed is not importable yet; retrying in 60 s")
            time.sleep(60)


def prepare(url: str, customers: int, seed: int = 7) -> tuple[float, dict[str, str]]:
    """Migrate `url`, seed `customers` demo customers and create one app per scenario.

    Returns the seconds seeding took and the keys by scenario app name.
    """
    from gateway.app import build_services
    from gateway.auth.apps import create_app as create_caller
    from gateway.config import Settings
    from gateway.profile.order import ensure as ensure_order
    from gateway.store.migrate import upgrade

    _seed_module_ready(wait_seconds=600)
    from gateway.demo.seed import seed_demo

    upgrade(url)
    settings = Settings(database_url=url, master_key=MASTER_KEY, policy_dir=POLICY_DIR)
    services = build_services(settings)
    try:
        started = time.perf_counter()
        seed_demo(services.engine, services.purposes, vault=services.vault, customers=customers, seed=seed)
        seeded = time.perf_counter() - started
        keys: dict[str, str] = {}
        with services.engine.begin() as conn:
            for name, (role, _purpose) in SCENARIO_APPS.items():
                caller, key = create_caller(conn, f"bench-{name}", role, services.policy.roles())
                keys[name] = key
                # The app's own order of customers, stored now rather than on its first read.
                pseudonyms = services.pseudonyms.for_app(caller.app_id)
                ensure_order(conn, pseudonyms.audience, pseudonyms.order)
    finally:
        services.engine.dispose()
    return seeded, keys


@contextlib.contextmanager
def bench_database(
    kind: str, workdir: Path, customers: int, seed: int = 7
) -> Iterator[BenchDatabase]:
    """A fresh, migrated, seeded database of `kind` (sqlite | postgresql), removed afterwards."""
    factory = postgres_database() if kind == "postgresql" else _sqlite_database(workdir)
    with factory as url:
        seeded, keys = prepare(url, customers, seed)
        yield BenchDatabase(url=url, kind=kind, customers=customers, seed_seconds=seeded, keys=keys)
