"""Other domains' events and the gateway's own changes go into the chain through one hook."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.audit.service import record_event
from gateway.audit.startup import policy_state, record_startup
from gateway.audit.tables import audit_events
from gateway.privacy.signing import Signer
from tests.audit.support import verify
from tests.harness import REPO, Gateway


def _events(gw: Gateway, action: str) -> list[object]:
    with gw.engine.connect() as conn:
        return list(conn.execute(select(audit_events).where(audit_events.c.action == action)
                                 .order_by(audit_events.c.seq)))


def _startup(gw: Gateway, policy_dir: Path | None = None, signer: Signer | None = None) -> object:
    services = gw.services
    settings = replace(services.settings, policy_dir=policy_dir or services.settings.policy_dir)
    return record_startup(gw.engine, settings, signer or services.signer, services.pseudonyms.for_audit())


def test_a_domain_records_a_step_with_pseudonymous_subjects(fresh_gateway: Gateway) -> None:
    # given
    gw = fresh_gateway
    cid = gw.add_customer()
    # when: e.g. a data subject request step, on the connection of its own change
    with gw.engine.begin() as conn:
        seq = record_event(conn, "dsr.erase.started", audit=gw.services.pseudonyms.for_audit(),
                           signer=gw.services.signer, actor="rights", subjects=[cid],
                           detail={"request": "dsr-1", "deadline_days": 30})
    # then
    entry = _events(gw, "dsr.erase.started")[0]
    assert entry.seq == seq and entry.decision == "allow"  # type: ignore[attr-defined]
    assert entry.subjects == [{"ref": gw.audit_ref(cid), "code": "ALLOWED"}]  # type: ignore[attr-defined]
    assert entry.detail["request"] == "dsr-1"  # type: ignore[attr-defined]
    assert verify(gw).ok


def test_a_refused_step_is_a_deny(fresh_gateway: Gateway) -> None:
    # when
    with fresh_gateway.engine.begin() as conn:
        record_event(conn, "activation.export", audit=fresh_gateway.services.pseudonyms.for_audit(),
                     signer=fresh_gateway.services.signer, subjects=[1], refused="CONSENT_REQUIRED")
    # then
    entry = _events(fresh_gateway, "activation.export")[0]
    assert entry.decision == "deny"  # type: ignore[attr-defined]
    assert entry.detail["errors"] == {"CONSENT_REQUIRED": 1}  # type: ignore[attr-defined]


@pytest.mark.parametrize("action", ["read", "nonsense.step", "dsr", "dsr." + "x" * 40])
def test_unknown_actions_are_refused(fresh_gateway: Gateway, action: str) -> None:
    with fresh_gateway.engine.begin() as conn, pytest.raises(ValueError, match="family"):
        record_event(conn, action, audit=fresh_gateway.services.pseudonyms.for_audit(),
                     signer=fresh_gateway.services.signer)


def test_policy_and_key_are_recorded_once_then_on_change(fresh_gateway: Gateway, tmp_path: Path) -> None:
    # given
    gw = fresh_gateway
    first = _startup(gw)
    again = _startup(gw)
    # when: a policy line changes, then the signing key
    changed = tmp_path / "policies"
    changed.mkdir()
    for name in ("model.conf", "policy.csv", "purposes.yaml"):
        (changed / name).write_bytes((REPO / "policies" / name).read_bytes())
    with (changed / "policy.csv").open("a") as out:
        out.write("p, marketing, marketing_email, derived, read\n")
    edited = _startup(gw, changed)
    rotated = _startup(gw, changed, Signer(bytes(range(32))))
    # then
    assert first.policy_seq is not None and first.key_seq is not None  # type: ignore[attr-defined]
    assert (again.policy_seq, again.key_seq) == (None, None)  # type: ignore[attr-defined]
    assert edited.policy_seq is not None and edited.key_seq is None  # type: ignore[attr-defined]
    assert rotated.policy_seq is None and rotated.key_seq is not None  # type: ignore[attr-defined]
    policy = _events(gw, "policy.change")
    assert [e.detail["digest"] for e in policy] == [  # type: ignore[attr-defined]
        policy_state(REPO / "policies")["digest"], policy_state(changed)["digest"]]
    assert policy[1].detail["files"]["policy.csv"] != policy[0].detail["files"]["policy.csv"]  # type: ignore[attr-defined]
    assert policy[1].detail["previous"] == policy[0].detail["digest"]  # type: ignore[attr-defined]
    assert [e.detail["kid"] for e in _events(gw, "key.change")][-1] == Signer(bytes(range(32))).kid  # type: ignore[attr-defined]


def test_the_app_records_its_policy_when_it_starts(fresh_gateway: Gateway) -> None:
    # when: the ASGI app starts (lifespan), twice
    for _ in range(2):
        with TestClient(create_app(services=fresh_gateway.services)) as client:
            assert client.get("/healthz").status_code == 200
    # then: recorded once
    assert len(_events(fresh_gateway, "policy.change")) == 1
    assert len(_events(fresh_gateway, "key.change")) == 1
