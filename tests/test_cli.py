"""The command line, run in-process with click's runner against a temporary SQLite database."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, func, select

from gateway.auth.tables import apps
from gateway.cli import main
from gateway.profile.tables import customers
from tests.harness import MASTER_KEY, REPO


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path}/cli.db",
        "GATEWAY_MASTER_KEY": MASTER_KEY,
        "GATEWAY_POLICY_DIR": str(REPO / "policies"),
    }


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = [prefix]
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found.extend(_commands(command, (*prefix, name)))
        else:
            found.append((*prefix, name))
    return found


@pytest.mark.parametrize("path", _commands(main), ids=lambda p: " ".join(p) or "main")
def test_every_command_has_help(path: tuple[str, ...]) -> None:
    # given / when
    result = CliRunner().invoke(main, [*path, "--help"])
    # then
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_apps_create_prints_the_key_last_and_stores_only_its_hash(env: dict[str, str], tmp_path: Path) -> None:
    # given
    runner = CliRunner(env=env)
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    # when
    result = runner.invoke(main, ["apps", "create", "crm-sync", "--role", "support"])
    # then
    assert result.exit_code == 0, result.output
    key = result.stdout.strip().splitlines()[-1]
    assert key.startswith("cgw_") and len(key) > 40
    engine = create_engine(env["GATEWAY_DATABASE_URL"])
    with engine.connect() as conn:
        row = conn.execute(select(apps).where(apps.c.name == "crm-sync")).one()
    engine.dispose()
    assert row.role == "support"
    assert key not in repr(tuple(row))
    assert key.encode() not in (tmp_path / "cli.db").read_bytes()


def test_apps_create_refuses_an_unknown_role_and_names_the_known_ones(env: dict[str, str]) -> None:
    # given
    runner = CliRunner(env=env)
    runner.invoke(main, ["db", "upgrade"])
    # when
    result = runner.invoke(main, ["apps", "create", "x-app", "--role", "overlord"])
    # then
    assert result.exit_code == 2
    assert "INVALID_INPUT" in result.stderr and "marketing" in result.stderr
    assert "cgw_" not in result.stdout


def test_demo_seed_creates_the_requested_customers(env: dict[str, str]) -> None:
    # given
    runner = CliRunner(env=env)
    runner.invoke(main, ["db", "upgrade"])
    # when
    result = runner.invoke(main, ["demo", "seed", "--customers", "25", "--seed", "3"])
    # then: one customer per person, and one more wherever linkage found no key shared by
    # two of a person's systems (the demo builds its customers through identity resolution)
    assert result.exit_code == 0, result.output
    engine = create_engine(env["GATEWAY_DATABASE_URL"])
    with engine.connect() as conn:
        assert 25 <= conn.execute(select(func.count()).select_from(customers)).scalar_one() <= 31
    engine.dispose()


def test_demo_setup_prints_a_key_and_a_curl_for_every_role(env: dict[str, str]) -> None:
    # given
    runner = CliRunner(env=env)
    # when
    result = runner.invoke(main, ["demo", "setup", "--customers", "10"])
    # then
    assert result.exit_code == 0, result.output
    for role in ("MARKETING", "ANALYTICS", "SUPPORT", "CALL_CENTER", "COMPLIANCE_OFFICER",
                 "DATA_STEWARD"):
        assert f"export KEY_{role}=cgw_" in result.stdout
    assert result.stdout.count("curl -s http://127.0.0.1:8000/graphql") == 7


def test_schema_export_matches_the_committed_sdl() -> None:
    # given / when
    result = CliRunner().invoke(main, ["schema", "export"])
    # then
    assert result.exit_code == 0
    assert result.stdout == (REPO / "schema" / "schema.graphql").read_text()


def test_apps_register_query_stores_the_document_under_its_sha256(env: dict[str, str], tmp_path: Path) -> None:
    # given: an app and a document in a file
    import hashlib

    from gateway.auth.tables import persisted_documents

    runner = CliRunner(env=env)
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(main, ["apps", "create", "crm-sync", "--role", "support"]).exit_code == 0
    document = "{ customers(first: 5) { nodes { id city } } }\n"
    path = tmp_path / "page.graphql"
    path.write_text(document)
    # when
    result = runner.invoke(main, ["apps", "register-query", "crm-sync", str(path)])
    again = runner.invoke(main, ["apps", "register-query", "crm-sync", str(path)])
    # then: the hash is printed, the text stored once (registering is idempotent)
    sha = hashlib.sha256(document.encode()).hexdigest()
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == sha == again.stdout.strip()
    engine = create_engine(env["GATEWAY_DATABASE_URL"])
    with engine.connect() as conn:
        rows = conn.execute(select(persisted_documents)).all()
    engine.dispose()
    assert [(r.sha256, r.document) for r in rows] == [(sha, document)]


def test_apps_register_query_refuses_an_unknown_app_and_a_document_that_does_not_parse(
        env: dict[str, str], tmp_path: Path) -> None:
    # given
    runner = CliRunner(env=env)
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(main, ["apps", "create", "crm-sync", "--role", "support"]).exit_code == 0
    good, bad = tmp_path / "good.graphql", tmp_path / "bad.graphql"
    good.write_text("{ customers { nodes { id } } }")
    bad.write_text("{ customers { nodes { id ")
    # when
    unknown = runner.invoke(main, ["apps", "register-query", "nobody", str(good)])
    broken = runner.invoke(main, ["apps", "register-query", "crm-sync", str(bad)])
    # then
    assert unknown.exit_code == 2 and "NOT_FOUND" in unknown.output
    assert broken.exit_code == 2 and "BAD_REQUEST" in broken.output
