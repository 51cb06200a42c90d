"""`consent-gateway audit ...` against a temporary SQLite database."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, update

from gateway.app import build_services
from gateway.audit.service import AuditEntry, write_entry
from gateway.audit.tables import audit_archives, audit_events
from gateway.cli import main
from gateway.config import Settings
from gateway.store.db import make_engine
from tests.harness import MASTER_KEY, REPO


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path}/cli.db",
        "GATEWAY_MASTER_KEY": MASTER_KEY,
        "GATEWAY_POLICY_DIR": str(REPO / "policies"),
        "GATEWAY_AUDIT_CHECKPOINT_EVERY": "4",
        "GATEWAY_AUDIT_ARCHIVE_DIR": str(tmp_path / "archive"),
    }


@pytest.fixture
def runner(env: dict[str, str]) -> CliRunner:
    runner = CliRunner(env=env)
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    return runner


def _append(env: dict[str, str], n: int) -> None:
    settings = Settings(database_url=env["GATEWAY_DATABASE_URL"], master_key=MASTER_KEY,
                        policy_dir=REPO / "policies", audit_checkpoint_every=4)
    services = build_services(settings)
    for i in range(n):
        with services.engine.begin() as conn:
            write_entry(conn, AuditEntry(actor_type="app", actor=f"app{i % 2}", action="read",
                                         purpose="support", subjects=[(i + 1, "ALLOWED")]),
                        services.pseudonyms.for_audit(), services.signer, settings)
    services.engine.dispose()


def _sql(env: dict[str, str], statement: Any) -> Any:
    engine = make_engine(env["GATEWAY_DATABASE_URL"])
    with engine.begin() as conn:
        found = conn.execute(statement)
        result = found.scalar() if found.returns_rows else None
    engine.dispose()
    return result


def test_verify_exits_zero_on_a_valid_log(runner: CliRunner, env: dict[str, str]) -> None:
    # given
    _append(env, 10)
    # when
    result = runner.invoke(main, ["audit", "verify", "--full"])
    # then
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["ok"] is True
    assert "audit log valid" in result.stderr


def test_verify_exits_one_and_names_the_spot(runner: CliRunner, env: dict[str, str]) -> None:
    # given
    _append(env, 10)
    _sql(env, update(audit_events).where(audit_events.c.seq == 6).values(decision="allow", actor="x"))
    # when
    result = runner.invoke(main, ["audit", "verify", "--full"])
    # then
    assert result.exit_code == 1
    assert "at seq 6: modified" in result.stderr
    assert json.loads(result.stdout)["problem"]["seq"] == 6


def test_incremental_verify_resumes_at_the_last_checkpoint(runner: CliRunner, env: dict[str, str]) -> None:
    # given: a verified log that grew since
    _append(env, 10)
    assert runner.invoke(main, ["audit", "verify"]).exit_code == 0
    _append(env, 5)
    # when
    result = runner.invoke(main, ["audit", "verify"])
    # then: only the part from the last verified checkpoint was walked
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["mode"] == "incremental"
    assert out["first_seq"] > 1 and out["last_seq"] == 15


def test_checkpoints_export_verifies_offline(runner: CliRunner, env: dict[str, str], tmp_path: Path) -> None:
    # given
    _append(env, 10)
    assert runner.invoke(main, ["audit", "checkpoint"]).exit_code == 0
    file = tmp_path / "checkpoints.json"
    # when
    exported = runner.invoke(main, ["audit", "checkpoints", "export", "-o", str(file)])
    ok = runner.invoke(main, ["audit", "verify-checkpoints", str(file)])
    # then
    assert exported.exit_code == 0, exported.output
    doc = json.loads(file.read_text())
    assert doc["checkpoints"][-1]["seq"] == 10
    assert ok.exit_code == 0, ok.output
    # when: one checkpoint is altered in the file
    doc["checkpoints"][1]["entry_hash"] = "0" * 64
    file.write_text(json.dumps(doc))
    bad = runner.invoke(main, ["audit", "verify-checkpoints", str(file)])
    # then
    assert bad.exit_code == 1
    assert f"seq {doc['checkpoints'][1]['seq']}" in bad.stderr


def test_export_writes_csv_and_is_audited(runner: CliRunner, env: dict[str, str], tmp_path: Path) -> None:
    # given
    _append(env, 6)
    out = tmp_path / "audit.csv"
    # when
    result = runner.invoke(main, ["audit", "export", "--format", "csv", "--app", "app1", "-o", str(out)])
    # then
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.read_text().splitlines()))
    assert [r["actor"] for r in rows] == ["app1"] * 3
    assert _sql(env, select(func.count()).select_from(audit_events)
                .where(audit_events.c.action == "audit.export")) == 1


def test_archive_then_verify_passes(runner: CliRunner, env: dict[str, str], tmp_path: Path) -> None:
    # given
    _append(env, 9)
    # when: everything is archived, then more is written
    archived = runner.invoke(main, ["audit", "archive", "--older-than", "0"])
    _append(env, 3)
    verified = runner.invoke(main, ["audit", "verify", "--full"])
    # then
    assert archived.exit_code == 0, archived.output
    assert verified.exit_code == 0, verified.output
    assert _sql(env, select(func.min(audit_events.c.seq))) == 10
    assert _sql(env, select(audit_archives.c.last_seq)) == 9
    files = sorted((tmp_path / "archive").iterdir())
    assert [f.name for f in files] == ["audit-000000000001-000000000009.anchor.json",
                                       "audit-000000000001-000000000009.jsonl"]
    assert len(files[1].read_text().splitlines()) == 9


def test_archive_refuses_a_tampered_log(runner: CliRunner, env: dict[str, str]) -> None:
    # given
    _append(env, 5)
    _sql(env, update(audit_events).where(audit_events.c.seq == 2).values(actor="x"))
    # when
    result = runner.invoke(main, ["audit", "archive", "--older-than", "0"])
    # then
    assert result.exit_code == 1
    assert _sql(env, select(func.count()).select_from(audit_events)) == 5
