"""`consent-gateway customers add`: one customer through the write service, audited."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, func, select

from gateway.audit.tables import audit_events
from gateway.cli import main
from gateway.privacy.keys import load_or_create_master_key
from gateway.privacy.pseudonyms import PseudonymService
from gateway.privacy.vault import Vault
from gateway.profile.identity import find_customer_by, read_identity
from gateway.profile.tables import customers
from tests.harness import MASTER_KEY

ADD = ["customers", "add", "--email", "Zoe.Quill@Example.org", "--phone", "+33 6 12 34 56 78",
       "--first-name", "Zoë", "--last-name", "Quill"]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    env = {"GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path}/g.db", "GATEWAY_MASTER_KEY": MASTER_KEY,
           "GATEWAY_MASTER_KEY_FILE": str(tmp_path / "unused.key")}
    assert CliRunner().invoke(main, ["db", "upgrade"], env=env).exit_code == 0
    return env


def _root(tmp_path: Path) -> bytes:
    return load_or_create_master_key(MASTER_KEY, tmp_path / "unused.key")


def test_add_prints_a_reference_and_seals_the_customer(env: dict[str, str], tmp_path: Path) -> None:
    # when
    result = CliRunner().invoke(main, ADD, env=env)

    # then: the last line is the audit reference of the new customer
    assert result.exit_code == 0, result.output
    reference = result.output.strip().splitlines()[-1]
    cid = PseudonymService(_root(tmp_path)).for_audit().resolve_customer(reference)
    engine = create_engine(env["GATEWAY_DATABASE_URL"])
    with engine.connect() as conn:
        vault = Vault.build(_root(tmp_path))
        assert find_customer_by(conn, vault, "email", "zoe.quill@example.org") == cid
        identity = read_identity(conn, vault, cid)
        [entry] = conn.execute(select(audit_events).where(audit_events.c.operation == "customers.add")).all()
    engine.dispose()
    assert identity is not None
    assert (identity["first_name"], identity["phone"]) == ("Zoë", "+33612345678")
    # and: the audit entry names the customer by reference only
    text = json.dumps([entry.subjects, entry.detail], ensure_ascii=False)
    assert entry.subjects == [{"ref": reference, "code": "ALLOWED"}]
    for secret in ("Zoë", "Quill", "zoe.quill", "12 34", "612345678"):
        assert secret not in text


def test_add_refuses_bad_input_and_writes_nothing(env: dict[str, str]) -> None:
    # when
    bad = CliRunner().invoke(main, [*ADD[:5], "06 12", *ADD[6:]], env=env)
    first = CliRunner().invoke(main, ADD, env=env)
    again = CliRunner().invoke(main, ADD, env=env)

    # then
    assert bad.exit_code == 2 and "INVALID_INPUT" in bad.output and "--phone" in bad.output
    assert first.exit_code == 0
    assert again.exit_code == 2 and "already has this email" in again.output
    engine = create_engine(env["GATEWAY_DATABASE_URL"])
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(customers)).scalar_one() == 1
        operations = conn.execute(select(audit_events.c.operation)).scalars().all()
    engine.dispose()
    assert operations.count("customers.add") == 1
