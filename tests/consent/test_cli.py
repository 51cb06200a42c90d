"""The preference center's command line: purposes check, receipts verify, consents import/export."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, func, select

from gateway.audit.tables import audit_events
from gateway.cli import main
from gateway.consent.receipts import issue_receipt
from gateway.consent.tables import consent_events, consent_state
from gateway.privacy.keys import load_or_create_master_key
from gateway.privacy.pseudonyms import PseudonymService
from gateway.privacy.signing import Signer, b64url
from gateway.privacy.vault import vault_for
from gateway.profile.write import create_customer
from tests.harness import MASTER_KEY, REPO, settings_for

HEADER = ["customer_id", "purpose", "notice_version", "action", "occurred_at", "source_channel",
          "evidence", "expires_at"]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path}/cli.db", "GATEWAY_MASTER_KEY": MASTER_KEY,
            "GATEWAY_POLICY_DIR": str(REPO / "policies")}


@pytest.fixture
def db(env: dict[str, str], tmp_path: Path) -> list[int]:
    """A migrated database with three customers (through the write service: each has a data
    key, so evidence can be sealed); their ids."""
    assert CliRunner().invoke(main, ["db", "upgrade"], env=env).exit_code == 0
    engine = create_engine(env["GATEWAY_DATABASE_URL"])
    vault = vault_for(settings_for(env["GATEWAY_DATABASE_URL"], tmp_path))
    with engine.begin() as conn:
        ids = [create_customer(conn, vault, {"language": "en", "jurisdiction": j})
               for j in ("gdpr", "gdpr", "152-fz")]
    engine.dispose()
    return ids


def _counts(env: dict[str, str]) -> tuple[int, int]:
    engine = create_engine(env["GATEWAY_DATABASE_URL"])
    with engine.connect() as conn:
        found = tuple(int(conn.execute(select(func.count()).select_from(t)).scalar_one())
                      for t in (consent_events, consent_state))
    engine.dispose()
    return found[0], found[1]


def _csv(path: Path, rows: list[list[object]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


def test_purposes_check_accepts_the_shipped_file(env: dict[str, str]) -> None:
    # when
    result = CliRunner().invoke(main, ["purposes", "check"], env=env)
    # then
    assert result.exit_code == 0, result.output


def test_purposes_check_lists_every_problem_with_its_place(tmp_path: Path, env: dict[str, str]) -> None:
    # given: a bad basis and a consent purpose without notices
    bad = tmp_path / "purposes.yaml"
    bad.write_text("purposes:\n  a:\n    basis: whim\n    retention_days: 1\n"
                   "  b:\n    basis: consent\n    retention_days: -1\n", encoding="utf-8")
    # when
    result = CliRunner().invoke(main, ["purposes", "check", str(bad)], env=env)
    # then
    assert result.exit_code == 1
    assert "purposes.a.basis" in result.output
    assert "purposes.b.retention_days" in result.output
    assert "purposes.b.notices" in result.output


def test_receipts_verify_accepts_a_good_receipt_and_refuses_a_tampered_one(
    tmp_path: Path, env: dict[str, str]
) -> None:
    # given: a receipt signed with the gateway's key, and a copy with a changed payload
    signer = Signer(load_or_create_master_key(MASTER_KEY, tmp_path / "unused.key"))
    receipt = issue_receipt(signer, {"purpose": "marketing_email", "action": "grant"}, datetime.now(UTC))
    good = tmp_path / "good.jws"
    good.write_text(receipt.jws, encoding="utf-8")
    header, _, signature = receipt.jws.split(".")
    forged = b64url(json.dumps({**receipt.payload, "action": "withdraw"}).encode())
    bad = tmp_path / "bad.jws"
    bad.write_text(f"{header}.{forged}.{signature}", encoding="utf-8")
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(signer.jwks()), encoding="utf-8")
    # when
    ok = CliRunner().invoke(main, ["receipts", "verify", str(good), "--jwks", str(jwks)], env=env)
    tampered = CliRunner().invoke(main, ["receipts", "verify", str(bad)], env=env)
    # then
    assert ok.exit_code == 0, ok.output
    assert '"action": "grant"' in ok.output
    assert tampered.exit_code == 1


def test_importing_the_same_file_twice_changes_nothing(tmp_path: Path, env: dict[str, str], db: list[int]) -> None:
    # given
    a, b, fz = db
    data = _csv(tmp_path / "in.csv", [
        [a, "marketing_email", 2, "grant", "2026-01-01T10:00:00+00:00", "web_form", "form-1", ""],
        [a, "marketing_email", 2, "withdraw", "2026-02-01T10:00:00+00:00", "", "", ""],
        [b, "marketing_sms", 2, "grant", "2026-01-05T10:00:00+00:00", "import", "", "2027-01-01T00:00:00+00:00"],
        [fz, "marketing_push", 1, "grant", "2026-01-05T10:00:00+00:00", "", "", ""],
    ])
    args = ["consents", "import", str(data), "--format", "csv"]
    # when
    first = CliRunner().invoke(main, args, env=env)
    after_first = _counts(env)
    second = CliRunner().invoke(main, args, env=env)
    # then
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    assert after_first == (4, 3)
    assert _counts(env) == after_first
    engine = create_engine(env["GATEWAY_DATABASE_URL"])
    with engine.connect() as conn:
        state = conn.execute(select(consent_state.c.action).where(
            consent_state.c.customer_id == a)).scalar_one()
        details = conn.execute(select(consent_events.c.details).where(
            consent_events.c.customer_id == fz)).scalar_one()
    engine.dispose()
    assert state == "withdraw"
    assert details["operator"]["name"] == "Demo Retail LLC"


def test_all_or_nothing_rejects_the_file_and_skip_bad_rows_imports_the_rest(
    tmp_path: Path, env: dict[str, str], db: list[int]
) -> None:
    # given: one good row and three bad ones
    a = db[0]
    data = _csv(tmp_path / "in.csv", [
        [a, "marketing_email", 2, "grant", "2026-01-01T10:00:00+00:00", "", "", ""],
        [a, "telepathy", 1, "grant", "2026-01-01T10:00:00+00:00", "", "", ""],
        [999999, "marketing_email", 2, "grant", "2026-01-01T10:00:00+00:00", "", "", ""],
        [a, "marketing_email", 2, "grant", "yesterday", "", "", ""],
    ])
    report = tmp_path / "report.csv"
    # when
    strict = CliRunner().invoke(main, ["consents", "import", str(data), "--format", "csv",
                                       "--report", str(report)], env=env)
    strict_counts = _counts(env)
    lenient = CliRunner().invoke(main, ["consents", "import", str(data), "--format", "csv",
                                        "--mode", "skip-bad-rows"], env=env)
    # then
    assert strict.exit_code == 1
    assert strict_counts == (0, 0)
    with report.open(encoding="utf-8") as fh:
        lines = list(csv.DictReader(fh))
    assert [(r["line"], r["code"], r["field"]) for r in lines] == [
        ("3", "PURPOSE_UNKNOWN", "purpose"), ("4", "NOT_FOUND", "customer_id"),
        ("5", "INVALID_INPUT", "occurred_at")]
    assert lenient.exit_code == 0, lenient.output
    assert _counts(env) == (1, 1)


def test_export_then_import_as_jsonl_is_idempotent(tmp_path: Path, env: dict[str, str], db: list[int]) -> None:
    # given: imported events, exported as JSON Lines
    a, b, _ = db
    data = _csv(tmp_path / "in.csv", [
        [a, "marketing_email", 2, "grant", "2026-01-01T10:00:00+00:00", "", "", ""],
        [b, "ads_audience", 1, "deny", "2026-01-02T10:00:00+00:00", "", "", ""],
    ])
    assert CliRunner().invoke(main, ["consents", "import", str(data), "--format", "csv"], env=env).exit_code == 0
    out = tmp_path / "out.jsonl"
    # when
    exported = CliRunner().invoke(main, ["consents", "export", "--format", "jsonl", "-o", str(out)], env=env)
    again = CliRunner().invoke(main, ["consents", "import", str(out), "--format", "jsonl"], env=env)
    # then
    assert exported.exit_code == 0 and again.exit_code == 0, exported.output + again.output
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(r["customer_id"], r["purpose"], r["action"]) for r in rows] == [
        (a, "marketing_email", "grant"), (b, "ads_audience", "deny")]
    assert _counts(env) == (2, 2)


def test_an_import_writes_one_audit_entry_with_pseudonyms_and_counts_only(
    tmp_path: Path, env: dict[str, str], db: list[int]
) -> None:
    # given: two good rows for two customers and one bad row
    a, b, _ = db
    data = _csv(tmp_path / "in.csv", [
        [a, "marketing_email", 2, "grant", "2026-01-01T10:00:00+00:00", "", "form-1", ""],
        [b, "marketing_sms", 2, "deny", "2026-01-02T10:00:00+00:00", "", "", ""],
        [a, "telepathy", 1, "grant", "2026-01-01T10:00:00+00:00", "", "", ""],
    ])
    # when
    result = CliRunner().invoke(main, ["consents", "import", str(data), "--format", "csv",
                                       "--mode", "skip-bad-rows"], env=env)
    # then: one entry, in the import's transaction, naming the customers by audit pseudonym
    assert result.exit_code == 0, result.output
    engine = create_engine(env["GATEWAY_DATABASE_URL"])
    with engine.connect() as conn:
        entries = conn.execute(select(audit_events).where(audit_events.c.action == "consent.import")).all()
    engine.dispose()
    assert len(entries) == 1
    entry = entries[0]
    audit = PseudonymService(load_or_create_master_key(MASTER_KEY, tmp_path / "unused.key")).for_audit()
    assert sorted(s["ref"] for s in entry.subjects) == sorted(audit.customer_id(c) for c in (a, b))
    assert entry.detail["rows"] == 3 and entry.detail["inserted"] == 2 and entry.detail["rejected"] == 1
    # and: nothing of the rows themselves (ids, evidence, purposes) is in the entry
    assert all(set(s) == {"ref", "code"} for s in entry.subjects)
    assert set(entry.detail) == {"fields", "errors", "format", "mode", "rows", "inserted",
                                 "already_present", "rejected"}
    text = json.dumps([entry.subjects, entry.detail])
    assert "form-1" not in text and "telepathy" not in text


def test_an_all_or_nothing_refusal_writes_nothing_not_even_audit(
    tmp_path: Path, env: dict[str, str], db: list[int]
) -> None:
    # given: a file with one bad row
    data = _csv(tmp_path / "in.csv", [[db[0], "marketing_email", 7, "grant",
                                       "2026-01-01T10:00:00+00:00", "", "", ""]])
    # when
    result = CliRunner().invoke(main, ["consents", "import", str(data), "--format", "csv"], env=env)
    # then: refused with the reason and what to do next; the ledger is unchanged
    assert result.exit_code == 1
    assert "NOT_FOUND notice_version" in result.output and "--mode skip-bad-rows" in result.output
    assert _counts(env) == (0, 0)
