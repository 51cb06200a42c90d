"""`consent-gateway portal link|code`: prints a working link or code and writes the outbox."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import create_engine, select

from gateway.cli import main
from gateway.portal.tables import portal_codes, portal_links
from gateway.portal.tokens import token_hash
from tests.harness import MASTER_KEY, REPO


def test_portal_link_prints_a_link_and_writes_the_outbox(tmp_path: Path) -> None:
    # given: a database with one customer
    outbox = tmp_path / "outbox.jsonl"
    env = {"GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path}/cli.db", "GATEWAY_MASTER_KEY": MASTER_KEY,
           "GATEWAY_POLICY_DIR": str(REPO / "policies"), "GATEWAY_PORTAL_OUTBOX": str(outbox)}
    runner = CliRunner(env=env)
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    added = runner.invoke(main, ["customers", "add", "--email", "ann.link@example.org",
                                 "--phone", "+447700900123", "--first-name", "Ann",
                                 "--last-name", "Link"])
    assert added.exit_code == 0, added.output
    # when: asking for a link, with a base URL
    result = runner.invoke(main, ["portal", "link", "--email", "Ann.Link@example.org",
                                  "--base-url", "https://portal.example"])
    # then: the link is the last line, points at the portal, and is stored hashed only
    assert result.exit_code == 0, result.output
    link = result.stdout.strip().splitlines()[-1]
    assert link.startswith("https://portal.example/portal/auth/")
    token = link.rsplit("/", 1)[-1]
    engine = create_engine(env["GATEWAY_DATABASE_URL"])
    with engine.connect() as conn:
        assert conn.execute(select(portal_links.c.token_hash)).scalars().all() == [token_hash(token)]
    engine.dispose()
    # and: the outbox holds the message with the link, never the address (mode 0600)
    line = json.loads(outbox.read_text().strip())
    assert line["link"] == link and line["to_ref"].startswith("c_")
    assert "ann.link" not in outbox.read_text().lower()
    assert outbox.stat().st_mode & 0o777 == 0o600
    assert "ann.link" not in result.stderr.lower()


def test_portal_link_for_an_unknown_address_exits_3(tmp_path: Path) -> None:
    # given
    env = {"GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path}/cli.db", "GATEWAY_MASTER_KEY": MASTER_KEY,
           "GATEWAY_POLICY_DIR": str(REPO / "policies"),
           "GATEWAY_PORTAL_OUTBOX": str(tmp_path / "outbox.jsonl")}
    runner = CliRunner(env=env)
    runner.invoke(main, ["db", "upgrade"])
    # when
    result = runner.invoke(main, ["portal", "link", "--email", "nobody@example.org"])
    # then: no link, no outbox, no echo of the address
    assert result.exit_code == 3 and result.stdout == ""
    assert "nobody@" not in result.stderr and not (tmp_path / "outbox.jsonl").exists()


def test_portal_code_prints_a_code_stored_hashed_and_writes_the_outbox(tmp_path: Path) -> None:
    # given: a database with one customer who has a phone number
    outbox = tmp_path / "outbox.jsonl"
    env = {"GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path}/cli.db", "GATEWAY_MASTER_KEY": MASTER_KEY,
           "GATEWAY_POLICY_DIR": str(REPO / "policies"), "GATEWAY_PORTAL_OUTBOX": str(outbox)}
    runner = CliRunner(env=env)
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    added = runner.invoke(main, ["customers", "add", "--email", "bo.code@example.org",
                                 "--phone", "+447700900456", "--first-name", "Bo",
                                 "--last-name", "Code"])
    assert added.exit_code == 0, added.output
    # when: asking for a code by the number
    result = runner.invoke(main, ["portal", "code", "--phone", "+44 7700 900456"])
    # then: six digits on the last line; the database holds an HMAC of them, not the digits
    assert result.exit_code == 0, result.output
    code = result.stdout.strip().splitlines()[-1]
    assert len(code) == 6 and code.isdigit()
    engine = create_engine(env["GATEWAY_DATABASE_URL"])
    with engine.connect() as conn:
        stored = conn.execute(select(portal_codes)).all()
    engine.dispose()
    assert len(stored) == 1 and code not in repr(stored) and len(stored[0].code_hash) == 64
    # and: the outbox has the SMS with the code, never the number
    line = json.loads(outbox.read_text().strip())
    assert line["channel"] == "sms" and line["code"] == code and code in line["body"]
    assert "7700" not in outbox.read_text() and "7700" not in result.stderr
    # and: an unknown number exits 3 and writes nothing more
    unknown = runner.invoke(main, ["portal", "code", "--phone", "+447700900999"])
    assert unknown.exit_code == 3 and unknown.stdout == ""
    assert len(outbox.read_text().strip().splitlines()) == 1
