"""`consent-gateway audit ...` against a temporary SQLite database."""

from __future__ import annotations

import base64
import csv
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, func, select, update
from starlette.testclient import TestClient

from gateway.app import build_services, create_app
from gateway.audit.chain import checkpoint_message
from gateway.audit.service import AuditEntry, write_entry
from gateway.audit.tables import audit_archives, audit_chain_head, audit_checkpoints, audit_events
from gateway.audit.verify import verify_chain
from gateway.cli import main
from gateway.config import Settings
from gateway.privacy.signing import Signer
from gateway.store.db import make_engine
from gateway.store.types import utcnow
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


def _append(env: dict[str, str], n: int, days_ago: float = 0) -> None:
    settings = Settings(database_url=env["GATEWAY_DATABASE_URL"], master_key=MASTER_KEY,
                        policy_dir=REPO / "policies", audit_checkpoint_every=4)
    services = build_services(settings)
    for i in range(n):
        with services.engine.begin() as conn:
            write_entry(conn, AuditEntry(actor_type="app", actor=f"app{i % 2}", action="read",
                                         purpose="support", subjects=[(i + 1, "ALLOWED")],
                                         occurred_at=utcnow() - timedelta(days=days_ago)),
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
    # then: only the part from the last verified checkpoint was walked (the first run's own
    # `audit.verify` entry, seq 11, included)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["mode"] == "incremental"
    assert out["first_seq"] > 1 and out["last_seq"] == 16


def _published_jwks(env: dict[str, str], tmp_path: Path) -> Path:
    """The JWKS as the gateway publishes it at /.well-known/jwks.json, saved by the officer."""
    settings = Settings(database_url=env["GATEWAY_DATABASE_URL"], master_key=MASTER_KEY,
                        policy_dir=REPO / "policies")
    services = build_services(settings)
    with TestClient(create_app(services=services)) as client:
        body = client.get("/.well-known/jwks.json").content
    services.engine.dispose()
    path = tmp_path / "published-jwks.json"
    path.write_bytes(body)
    return path


def test_checkpoints_export_verifies_offline(runner: CliRunner, env: dict[str, str], tmp_path: Path) -> None:
    # given
    _append(env, 10)
    assert runner.invoke(main, ["audit", "checkpoint"]).exit_code == 0
    file = tmp_path / "checkpoints.json"
    jwks = _published_jwks(env, tmp_path)
    # when
    exported = runner.invoke(main, ["audit", "checkpoints", "export", "-o", str(file)])
    ok = runner.invoke(main, ["audit", "verify-checkpoints", str(file), "--jwks", str(jwks)])
    # then
    assert exported.exit_code == 0, exported.output
    doc = json.loads(file.read_text())
    assert doc["checkpoints"][-1]["seq"] == 10
    assert ok.exit_code == 0, ok.output
    assert _sql(env, select(func.count()).select_from(audit_events)
                .where(audit_events.c.action == "audit.export")) == 1
    # when: one checkpoint is altered in the file
    doc["checkpoints"][1]["entry_hash"] = "0" * 64
    file.write_text(json.dumps(doc))
    bad = runner.invoke(main, ["audit", "verify-checkpoints", str(file), "--jwks", str(jwks)])
    # then
    assert bad.exit_code == 1
    assert f"seq {doc['checkpoints'][1]['seq']}" in bad.stderr


def test_a_file_resigned_with_another_key_fails_against_the_published_one(
    runner: CliRunner, env: dict[str, str], tmp_path: Path,
) -> None:
    # given: a forger rewrites a checkpoint, signs it with a key of its own and puts that
    # key's JWKS into the file
    _append(env, 8)
    file = tmp_path / "checkpoints.json"
    assert runner.invoke(main, ["audit", "checkpoints", "export", "-o", str(file)]).exit_code == 0
    doc = json.loads(file.read_text())
    forger = Signer(bytes(range(32)))
    cp = doc["checkpoints"][0]
    cp.update(entry_hash="1" * 64, kid=forger.kid)
    cp["signature"] = forger.sign(checkpoint_message(cp["seq"], cp["entry_hash"], cp["signed_at"], forger.kid))
    doc["jwks"] = forger.jwks()
    file.write_text(json.dumps(doc))
    # when
    result = runner.invoke(main, ["audit", "verify-checkpoints", str(file),
                                  "--jwks", str(_published_jwks(env, tmp_path))])
    # then
    assert result.exit_code == 1
    assert f"seq {cp['seq']}" in result.stderr


def test_verify_checkpoints_needs_the_published_keys(runner: CliRunner, env: dict[str, str], tmp_path: Path) -> None:
    # given
    file = tmp_path / "checkpoints.json"
    assert runner.invoke(main, ["audit", "checkpoints", "export", "-o", str(file)]).exit_code == 0
    # when
    result = runner.invoke(main, ["audit", "verify-checkpoints", str(file)])
    # then
    assert result.exit_code == 2
    assert "--jwks" in result.output


def test_verify_is_itself_audited_with_its_outcome(runner: CliRunner, env: dict[str, str]) -> None:
    # given
    _append(env, 6)
    _sql(env, update(audit_events).where(audit_events.c.seq == 4).values(purpose="analytics"))
    # when
    result = runner.invoke(main, ["audit", "verify", "--full"])
    # then
    assert result.exit_code == 1
    detail = _sql(env, select(audit_events.c.detail).where(audit_events.c.action == "audit.verify"))
    assert detail["verification"]["ok"] is False
    assert detail["verification"]["problem"] == {"seq": 4, "kind": "modified"}


def test_verify_against_exported_checkpoints_finds_a_hidden_truncation(
    runner: CliRunner, env: dict[str, str], tmp_path: Path,
) -> None:
    # given: checkpoints exported (and kept elsewhere) at seq 8
    _append(env, 8)
    file = tmp_path / "checkpoints.json"
    assert runner.invoke(main, ["audit", "checkpoints", "export", "-o", str(file)]).exit_code == 0
    # when: the tail is cut back to seq 4 and the head and checkpoints with it, so the
    # database alone looks whole
    head_hash = _sql(env, select(audit_events.c.entry_hash).where(audit_events.c.seq == 4))
    _sql(env, delete(audit_events).where(audit_events.c.seq > 4))
    _sql(env, delete(audit_checkpoints).where(audit_checkpoints.c.seq > 4))
    _sql(env, update(audit_chain_head).values(seq=4, head_hash=head_hash, last_checkpoint_seq=1))
    engine = make_engine(env["GATEWAY_DATABASE_URL"])
    alone = verify_chain(engine, Signer(base64.urlsafe_b64decode(MASTER_KEY)).jwks(), remember=False)
    engine.dispose()
    against = runner.invoke(main, ["audit", "verify", "--full", "--checkpoints", str(file)])
    # then
    assert alone.ok, alone.problem
    assert against.exit_code == 1
    assert "at seq 5: truncated" in against.stderr


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


def test_an_exported_log_verifies_offline_and_names_a_changed_line(
    runner: CliRunner, env: dict[str, str], tmp_path: Path,
) -> None:
    # given: a whole-log export and the checkpoints, then the published keys
    _append(env, 9)
    log, cps = tmp_path / "log.jsonl", tmp_path / "checkpoints.json"
    assert runner.invoke(main, ["audit", "checkpoints", "export", "-o", str(cps)]).exit_code == 0
    assert runner.invoke(main, ["audit", "export", "-o", str(log)]).exit_code == 0
    jwks = str(_published_jwks(env, tmp_path))
    # when
    ok = runner.invoke(main, ["audit", "verify-file", str(log), "--jwks", jwks, "--checkpoints", str(cps)])
    lines = log.read_text().splitlines()
    changed = json.loads(lines[6])
    changed["decision"] = "deny"
    lines[6] = json.dumps(changed)
    log.write_text("\n".join(lines) + "\n")
    bad = runner.invoke(main, ["audit", "verify-file", str(log), "--jwks", jwks, "--checkpoints", str(cps)])
    # then
    assert ok.exit_code == 0, ok.output
    assert bad.exit_code == 1
    assert "at seq 7: modified" in bad.stderr


def test_archive_uses_the_configured_retention_and_is_recorded(env: dict[str, str], tmp_path: Path) -> None:
    # given: no retention configured
    runner = CliRunner(env=env)
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    _append(env, 5, days_ago=40)
    _append(env, 2)
    refused = runner.invoke(main, ["audit", "archive"])
    # when: a retention of 30 days is configured
    configured = CliRunner(env={**env, "GATEWAY_AUDIT_RETENTION_DAYS": "30"})
    archived = configured.invoke(main, ["audit", "archive"])
    # then: the five old entries went, the cut is in the live chain
    assert refused.exit_code == 2 and "GATEWAY_AUDIT_RETENTION_DAYS" in refused.output
    assert archived.exit_code == 0, archived.output
    detail = _sql(env, select(audit_events.c.detail).where(audit_events.c.action == "audit.archive"))
    assert (detail["first_seq"], detail["last_seq"], detail["entries"]) == (1, 5, 5)
    assert _sql(env, select(func.min(audit_events.c.seq))) == 6
    assert runner.invoke(main, ["audit", "verify", "--full"]).exit_code == 0


def test_an_archive_file_verifies_offline_and_a_changed_one_does_not(
    runner: CliRunner, env: dict[str, str], tmp_path: Path,
) -> None:
    # given
    _append(env, 7)
    assert runner.invoke(main, ["audit", "archive", "--older-than", "0"]).exit_code == 0
    archive = tmp_path / "archive" / "audit-000000000001-000000000007.jsonl"
    jwks = str(_published_jwks(env, tmp_path))
    # when
    ok = runner.invoke(main, ["audit", "verify-file", str(archive), "--jwks", jwks])
    lines = archive.read_text().splitlines()
    del lines[2]
    archive.write_text("\n".join(lines) + "\n")
    bad = runner.invoke(main, ["audit", "verify-file", str(archive), "--jwks", jwks])
    # then
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["entries"] == 7
    assert bad.exit_code == 1
    assert "not the one the anchor signed" in bad.stderr
