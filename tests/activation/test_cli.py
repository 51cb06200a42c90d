"""`consent-gateway activation ...` in process against a temporary SQLite database, and the
worker inside `serve` (the app's lifespan) when GATEWAY_ACTIVATION_WORKER is set."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from gateway.app import build_services, create_app
from gateway.cli import main
from gateway.consent.ledger import append_consent
from gateway.privacy.vault import vault_for
from gateway.profile.write import create_customer
from gateway.store.db import make_engine
from tests.activation.receiver import Receiver
from tests.activation.support import campaign, customer, plan, statuses, webhook
from tests.api.support import person
from tests.harness import MASTER_KEY, REPO, Gateway, settings_for


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "drops").mkdir()
    return {"GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path}/cli.db", "GATEWAY_MASTER_KEY": MASTER_KEY,
            "GATEWAY_POLICY_DIR": str(REPO / "policies"),
            "GATEWAY_ACTIVATION_DROP_DIR": str(tmp_path / "drops"),
            "GATEWAY_ACTIVATION_ALLOWED_URLS": "https://hooks.example.com/"}


@pytest.fixture
def two(env: dict[str, str], tmp_path: Path) -> list[int]:
    """A migrated database with two customers: one consented to marketing_email, one not."""
    assert CliRunner().invoke(main, ["db", "upgrade"], env=env).exit_code == 0
    url = env["GATEWAY_DATABASE_URL"]
    engine = make_engine(url)
    ids = []
    with engine.begin() as conn:
        for consented in (True, False):
            cid = create_customer(conn, vault_for(settings_for(url, tmp_path)), person())
            if consented:
                append_consent(conn, customer_id=cid, purpose="marketing_email", notice_version=2,
                               action="grant", source_channel="portal")
            ids.append(cid)
    engine.dispose()
    return ids


def _ok(env: dict[str, str], *args: str) -> Any:
    result = CliRunner(env=env).invoke(main, ["activation", *args])
    assert result.exit_code == 0, result.output
    return result


def test_the_operator_configures_plans_sends_and_reads_from_the_command_line(
        env: dict[str, str], two: list[int], tmp_path: Path) -> None:
    # when: a webhook to a private address, outside the allow-list, is configured
    refused = CliRunner(env=env).invoke(main, ["activation", "destinations", "add", "evil",
                                               "--kind", "webhook", "--channel", "email",
                                               "--purpose", "marketing_email", "--fields", "email",
                                               "--url", "http://169.254.169.254/latest/"])
    # then: refused with its code, and nothing configured
    assert refused.exit_code != 0 and "DESTINATION_NOT_ALLOWED" in refused.output
    assert "evil" not in _ok(env, "destinations", "list").output
    # when: a file drop, a campaign over both customers, a dry run, two runs and the worker
    _ok(env, "destinations", "add", "drop", "--kind", "file", "--channel", "email",
        "--purpose", "marketing_email", "--fields", "firstName,email", "--path", "esp")
    ref = _ok(env, "campaigns", "create", "--name", "cli", "--destination", "drop",
              "--purpose", "marketing_email", "--template", "newsletter",
              "--ids", ",".join(map(str, two))).stdout.strip()
    dry = json.loads(_ok(env, "campaigns", "dry-run", ref).stdout)
    first = json.loads(_ok(env, "campaigns", "run", ref).stdout)
    again = json.loads(_ok(env, "campaigns", "run", ref).stdout)
    _ok(env, "work", "--once")
    # then: counts per reason, planned once, one line dropped, statuses and results readable
    assert (dry["eligible"], dry["excluded"], dry["enqueued"]) == (1, {"CONSENT_REQUIRED": 1}, 0)
    assert (first["enqueued"], again["enqueued"], again["already_planned"]) == (1, 0, 1)
    files = list((tmp_path / "drops" / "esp").glob("*.jsonl"))
    assert len(files) == 1 and len(files[0].read_text().splitlines()) == 1
    status = json.loads(_ok(env, "outbox", "status", "--campaign", ref).stdout)
    assert status["statuses"] == {"sent": 1}
    results = json.loads(_ok(env, "campaigns", "results", ref).stdout)
    assert [(r["arm"], r["sent"]) for r in results] == [("A", 1)]
    # and: an unknown campaign is a code, not a traceback
    unknown = CliRunner(env=env).invoke(main, ["activation", "campaigns", "dry-run", "nope"])
    assert unknown.exit_code != 0 and "NOT_FOUND" in unknown.output


@pytest.mark.parametrize("configured", [True, False], ids=["worker-on", "worker-off-control"])
def test_serve_runs_the_worker_when_configured(fresh_gateway: Gateway, configured: bool) -> None:
    gw = fresh_gateway
    with Receiver() as receiver:
        settings = dataclasses.replace(
            gw.services.settings, activation_worker=configured,
            activation_allowed_urls=receiver.prefix, activation_private_networks="127.0.0.0/8",
            activation_poll_seconds=0.1)
        services = build_services(settings)
        act = services.activation
        assert act is not None
        webhook(gw, act, receiver.url, name="esp")
        cid = customer(gw)
        result = plan(gw, act, campaign(gw, act, "esp", [cid]))
        # when: the gateway serves for a while (its lifespan starts and stops the worker)
        with TestClient(create_app(services=services)) as client:
            assert client.get("/livez").status_code == 200
            deadline = time.monotonic() + (20 if configured else 2)
            while not receiver.messages("message") and time.monotonic() < deadline:
                time.sleep(0.1)
        # then: the message left only where the worker was configured
        expected = {cid: ("sent", None)} if configured else {cid: ("pending", None)}
        assert statuses(gw, campaign_id=result.campaign.id) == expected
        assert len(receiver.messages("message")) == (1 if configured else 0)
