"""Liveness and readiness."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from gateway.store.migrate import upgrade
from tests.databases import DatabaseFactory
from tests.harness import Gateway


def test_livez_answers_without_the_database(fresh_gateway: Gateway) -> None:
    # given: the database is gone
    fresh_gateway.services.engine.dispose()
    fresh_gateway.services.engine.pool._creator = _refuse  # type: ignore[attr-defined]

    # when
    live = fresh_gateway.client.get("/livez")
    ready = fresh_gateway.client.get("/readyz")

    # then: alive (do not restart me), but not ready (send no traffic)
    assert live.status_code == 200
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"].startswith("unreachable")


def _refuse() -> object:
    raise ConnectionRefusedError("database down")


def test_readyz_checks_database_migrations_keys_and_policy(gateway: Gateway) -> None:
    # when
    response = gateway.client.get("/readyz")

    # then
    assert response.status_code == 200
    assert response.json()["checks"] == {
        "policy": "ok", "database": "ok", "migrations": "ok", "keys": "ok"}


def test_readyz_fails_when_the_schema_is_behind(databases: DatabaseFactory, tmp_path: Path) -> None:
    # given: a database one migration behind the code
    url = databases.new()
    upgrade(url, "0007_no_id_reuse")
    gw = Gateway.start(url, tmp_path)
    try:
        # when
        response = gw.client.get("/readyz")
    finally:
        gw.close()

    # then
    assert response.status_code == 503
    migrations = response.json()["checks"]["migrations"]
    assert migrations.startswith("not at head") and "consent-gateway db upgrade" in migrations


def test_readyz_fails_when_a_master_key_version_is_missing(fresh_gateway: Gateway) -> None:
    # given: data keys wrapped under a version this process does not have
    with fresh_gateway.engine.begin() as conn:
        conn.execute(text("UPDATE data_keys SET version = 7 WHERE customer_id = "
                          "(SELECT MIN(customer_id) FROM data_keys)"))

    # when
    response = fresh_gateway.client.get("/readyz")

    # then
    assert response.status_code == 503
    assert response.json()["checks"]["keys"] == (
        "master key versions [7] wrap data keys but are not configured")
