"""Key rotation: re-wrapping every data key under a new master key version, online.

Reads go through real HTTP (the whole ASGI app) in a thread while the rotation runs; an
interrupted rotation leaves a readable mix of versions and a rerun finishes it.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from starlette.testclient import TestClient

from gateway.app import build_services, create_app
from gateway.cli import main
from gateway.privacy.rotation import rotate, versions_in_use
from gateway.privacy.tables import data_keys
from tests.databases import DatabaseFactory
from tests.harness import MASTER_KEY, ROLES, Gateway, settings_for

V2 = base64.urlsafe_b64encode(bytes([42] * 32)).decode()
READ = "{ customers(first: 100) { nodes { id firstName lastName birthDate email phone } } }"


@pytest.fixture
def rotating_gateway(databases: DatabaseFactory, template_url: str, tmp_path: Path) -> Iterator[Gateway]:
    """A gateway on a copy of the demo data (keys on v1) that knows master key versions 1 and 2."""
    settings = settings_for(databases.new(template_url), tmp_path)
    settings = type(settings)(**{**settings.__dict__, "master_keys": f"2={V2}"})
    services = build_services(settings)
    gw = Gateway(settings.database_url, services, TestClient(create_app(services=services)))
    for role in ROLES:
        gw.add_app(role)
    yield gw
    gw.close()


SUBJECT_CODES = {"RESTRICTED", "OBJECTED", "CONSENT_REQUIRED"}


def _read(gw: Gateway) -> Any:
    """The whole answer; only the subjects' own choices may withhold anything (never INTERNAL)."""
    response = gw.post(READ, app="support", purpose="support")
    assert response.status_code == 200
    body = response.json()
    assert {e["extensions"]["code"] for e in body.get("errors", [])} <= SUBJECT_CODES, body["errors"]
    return body


def _versions(gw: Gateway) -> dict[int, int]:
    with gw.engine.connect() as conn:
        return versions_in_use(conn)


def test_reads_keep_working_while_keys_rotate(rotating_gateway: Gateway) -> None:
    # given: every key on version 1, and what a reader sees before
    gw = rotating_gateway
    total = sum(_versions(gw).values())
    assert _versions(gw) == {1: total}
    before = _read(gw)
    assert sum(bool(n["firstName"]) for n in before["data"]["customers"]["nodes"]) > 10
    seen: list[Any] = []
    failures: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        try:
            while not stop.is_set():
                seen.append(_read(gw))
        except BaseException as exc:  # noqa: BLE001 - reported to the main thread below
            failures.append(exc)

    def slow_progress(_n: int) -> None:
        time.sleep(0.02)  # give the reader a chance between batches, as a busy server would

    # when: rotating in batches of 3 while HTTP reads run in a thread
    thread = threading.Thread(target=reader)
    thread.start()
    try:
        report = rotate(gw.engine, gw.services.vault.envelope, batch_size=3, progress=slow_progress)
    finally:
        stop.set()
        thread.join(timeout=60)

    # then: every key moved, every read during the rotation succeeded and saw the same data
    assert (report.rotated, report.remaining, report.target) == (total, 0, 2)
    assert _versions(gw) == {2: total}
    assert failures == []
    assert len(seen) >= 3
    assert all(nodes == before for nodes in seen)
    assert _read(gw) == before


def test_an_interrupted_rotation_resumes_where_it_stopped(rotating_gateway: Gateway) -> None:
    # given
    gw = rotating_gateway
    total = sum(_versions(gw).values())
    before = _read(gw)
    batches = 0

    def interrupt_after_two(_n: int) -> None:
        nonlocal batches
        batches += 1
        if batches == 2:
            raise KeyboardInterrupt

    # when: the first run is interrupted after two committed batches of 5
    with pytest.raises(KeyboardInterrupt):
        rotate(gw.engine, gw.services.vault.envelope, batch_size=5, progress=interrupt_after_two)

    # then: a readable mix of versions
    assert _versions(gw) == {1: total - 10, 2: 10}
    assert _read(gw) == before

    # when: run again
    report = rotate(gw.engine, gw.services.vault.envelope, batch_size=5)

    # then: it re-wraps only the rest
    assert (report.rotated, report.remaining) == (total - 10, 0)
    assert _versions(gw) == {2: total}
    assert _read(gw) == before
    with gw.engine.connect() as conn:
        assert all(r.rotated_at is not None for r in conn.execute(select(data_keys)))


def test_keys_rotate_command(rotating_gateway: Gateway, tmp_path: Path) -> None:
    # given: the command's environment names the same database and keys
    gw = rotating_gateway
    env = {"GATEWAY_DATABASE_URL": gw.url, "GATEWAY_MASTER_KEY": MASTER_KEY,
           "GATEWAY_MASTER_KEY_FILE": str(tmp_path / "unused.key"), "GATEWAY_MASTER_KEYS": f"2={V2}"}
    total = sum(_versions(gw).values())
    runner = CliRunner()

    # when
    result = runner.invoke(main, ["keys", "rotate", "--batch-size", "7"], env=env)
    status = runner.invoke(main, ["keys", "status"], env=env)
    missing = runner.invoke(main, ["keys", "rotate", "--to", "3"], env=env)

    # then
    assert result.exit_code == 0, result.output
    assert f"re-wrapped {total} data keys under version 2" in result.output
    assert f"version 2\t{total} data keys\tconfigured" in status.output
    assert missing.exit_code == 2 and "version 3 is not configured" in missing.output
    assert _versions(gw) == {2: total}
