"""`consent-gateway rights export | erase`, in process against a temporary SQLite database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from gateway.audit.tables import audit_events
from gateway.cli import main
from gateway.consent.ledger import append_consent
from gateway.privacy.vault import vault_for
from gateway.profile.write import create_customer
from gateway.rights.tables import rights_cases
from gateway.store.db import make_engine
from tests.api.support import person
from tests.harness import MASTER_KEY, REPO, settings_for


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path}/cli.db", "GATEWAY_MASTER_KEY": MASTER_KEY,
            "GATEWAY_POLICY_DIR": str(REPO / "policies")}


@pytest.fixture
def someone(env: dict[str, str], tmp_path: Path) -> dict[str, Any]:
    """A migrated database holding one customer with a consent; the customer's values."""
    assert CliRunner().invoke(main, ["db", "upgrade"], env=env).exit_code == 0
    url = env["GATEWAY_DATABASE_URL"]
    values = person()
    values.pop("city")
    engine = make_engine(url)
    with engine.begin() as conn:
        cid = create_customer(conn, vault_for(settings_for(url, tmp_path)), values)
        append_consent(conn, customer_id=cid, purpose="marketing_email", notice_version=2,
                       action="grant", source_channel="portal")
    engine.dispose()
    return values


def _rows(env: dict[str, str], table: Any) -> list[Any]:
    engine = make_engine(env["GATEWAY_DATABASE_URL"])
    with engine.connect() as conn:
        rows = list(conn.execute(select(table)))
    engine.dispose()
    return rows


def test_export_prints_the_document(env: dict[str, str], someone: dict[str, Any]) -> None:
    # when: exporting by the address, written differently
    result = CliRunner(env=env).invoke(main, ["rights", "export", "--email", someone["email"].upper()])
    # then: the JSON document on stdout, found through the blind index
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["profile"]["email"] == someone["email"]
    assert [c["purpose"] for c in doc["consents"]["current"]] == ["marketing_email"]
    # and: an export case was opened and completed, audited as the command line
    cases = _rows(env, rights_cases)
    assert [(c.kind, c.status, c.opened_by) for c in cases] == [("export", "completed", "cli")]
    actions = [r.action for r in _rows(env, audit_events) if r.actor == "cli"]
    assert actions == ["rights.opened", "rights.started", "rights.completed"]


def test_erase_then_export_is_a_clear_error(env: dict[str, str], someone: dict[str, Any]) -> None:
    runner = CliRunner(env=env)
    # when: erasing
    erased = runner.invoke(main, ["rights", "erase", "--email", someone["email"],
                                  "--reason", "ticket 4711"])
    # then: the case, its tombstone and the counts on stdout
    assert erased.exit_code == 0, erased.output
    out = json.loads(erased.stdout)
    assert out["tombstone"].startswith("t_") and out["deleted"]["customers"] == 1
    assert out["deleted"]["ledger_proofs_kept"] == 1
    # when: exporting or erasing that address again
    export = runner.invoke(main, ["rights", "export", "--email", someone["email"]])
    again = runner.invoke(main, ["rights", "erase", "--email", someone["email"], "--reason", "again"])
    # then: exit code 3, a message that says what happened, the address never repeated
    for result in (export, again):
        assert result.exit_code == 3, result.output
        assert "never known" in result.stderr and "erased" in result.stderr
        assert someone["email"] not in result.output
    # and: the erase case's reason was sealed under the person's key, destroyed with it: only
    # ciphertext is left; the person is gone from the audit's text
    case = next(c for c in _rows(env, rights_cases) if c.kind == "erase")
    assert (case.status, case.customer_id) == ("completed", None)
    assert isinstance(case.note, bytes) and b"4711" not in case.note
    assert all(someone["email"] not in json.dumps(r.detail) for r in _rows(env, audit_events))


def test_unknown_address_and_missing_reason(env: dict[str, str], someone: dict[str, Any]) -> None:
    runner = CliRunner(env=env)
    # when
    unknown = runner.invoke(main, ["rights", "erase", "--email", "nobody@nowhere.example",
                                   "--reason", "x"])
    blank = runner.invoke(main, ["rights", "erase", "--email", someone["email"], "--reason", " "])
    missing = runner.invoke(main, ["rights", "erase", "--email", someone["email"]])
    # then: clear errors, nothing written
    assert unknown.exit_code == 3
    assert blank.exit_code == 2 and "reason" in blank.stderr
    assert missing.exit_code == 2 and "--reason" in missing.output
    assert _rows(env, rights_cases) == []


@pytest.mark.parametrize("command", [["rights"], ["rights", "export"], ["rights", "erase"]])
def test_help(command: list[str]) -> None:
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output
