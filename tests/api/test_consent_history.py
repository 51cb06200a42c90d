"""Histories over HTTP: objections, restriction and channels each keep theirs; policy decides
who reads them; a request mixing a good and a bad mutation keeps the good one only; a
receipt checks out with the CLI against the key set the gateway serves."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select

from gateway.audit.tables import audit_events
from gateway.cli import main
from gateway.privacy.signing import b64url, unb64url
from tests.api.support import add_person, codes
from tests.consent.http import (
    CALL_EVIDENCE,
    RECORD_OBJECTION,
    RESTRICT,
    SET_CHANNEL,
    ledger_counts,
    mutate,
    record_consent,
)
from tests.harness import Gateway

HISTORY = (
    "query($id: ID!, $kind: String) { preferenceHistory(customerId: $id, kind: $kind) "
    "{ kind key value capCount capPeriodDays sourceChannel } }"
)
TWO_MUTATIONS = (
    "mutation($good: RecordConsentInput!, $bad: RecordConsentInput!) { "
    "ok: recordConsent(input: $good) { __typename } "
    "ko: recordConsent(input: $bad) { __typename ... on MutationError { code field } } }"
)


def _history(gw: Gateway, cid: int, kind: str | None = None, app: str = "support",
             purpose: str = "support") -> dict[str, object]:
    return dict(gw.post(HISTORY, app=app, purpose=purpose,
                        variables={"id": gw.pseudonym(cid, app), "kind": kind}).json())


def test_each_kind_of_choice_keeps_its_own_history(gw: Gateway) -> None:
    # given: an objection raised then lifted, a restriction, an opt-in with a cap then an opt-out
    cid, _ = add_person(gw)
    mutate(gw, RECORD_OBJECTION, "recordObjection", cid, scope="profiling", objected=True)
    mutate(gw, RECORD_OBJECTION, "recordObjection", cid, scope="profiling", objected=False)
    mutate(gw, RESTRICT, "restrictProcessing", cid, restricted=True)
    mutate(gw, SET_CHANNEL, "setChannelPreference", cid, channel="sms", optedIn=True,
           frequencyCap={"count": 3, "periodDays": 30})
    mutate(gw, SET_CHANNEL, "setChannelPreference", cid, channel="sms", optedIn=False)

    # when: support reads the whole history, then only the objections
    everything = _history(gw, cid)["data"]
    objections = _history(gw, cid, "objection")["data"]

    # then: every event is kept, newest first, each with its kind
    rows = [(e["kind"], e["key"], e["value"], e["capCount"]) for e in everything["preferenceHistory"]]  # type: ignore[index]
    assert rows == [
        ("channel", "sms", "opt_out", None), ("channel", "sms", "opt_in", 3),
        ("restriction", "processing", "on", None),
        ("objection", "profiling", "off", None), ("objection", "profiling", "on", None),
    ]
    assert [e["value"] for e in objections["preferenceHistory"]] == ["off", "on"]  # type: ignore[index]


def test_preference_history_is_policy_and_checks_its_input(gw: Gateway) -> None:
    # given
    cid, _ = add_person(gw)

    # when: marketing asks (no rule), support asks with an unknown kind
    marketing = _history(gw, cid, app="marketing", purpose="marketing_email")
    bad_kind = _history(gw, cid, "mood")

    # then
    assert codes(marketing) == ["POLICY_DENIED"]
    assert codes(bad_kind) == ["INVALID_INPUT"]


def test_a_bad_mutation_next_to_a_good_one_writes_nothing_of_its_own(gw: Gateway) -> None:
    # given: one valid grant and one to a notice version that does not exist
    cid, _ = add_person(gw)
    token = gw.pseudonym(cid, "call_center")
    good = {"customerId": token, "purpose": "marketing_email", "noticeVersion": 2, "action": "grant",
            "sourceChannel": "call_center", "evidence": CALL_EVIDENCE}
    bad = {**good, "purpose": "marketing_sms", "noticeVersion": 9}
    before = ledger_counts(gw)

    # when
    body = gw.post(TWO_MUTATIONS, app="call_center", purpose="support",
                   variables={"good": good, "bad": bad}).json()

    # then: the good one is written (one event, one state row), the bad one answered with its code
    assert body["data"]["ok"]["__typename"] == "RecordConsentSuccess"
    assert body["data"]["ko"] == {"__typename": "MutationError", "code": "NOT_FOUND", "field": "noticeVersion"}
    after = ledger_counts(gw)
    assert (after[0] - before[0], after[1] - before[1]) == (1, 1)
    # and: the request's audit entry names the refusal by its code only
    with gw.engine.connect() as conn:
        entry = conn.execute(select(audit_events).order_by(audit_events.c.seq.desc()).limit(1)).one()
    assert entry.action == "consent.record" and entry.detail["refused"] == "NOT_FOUND"
    assert token not in json.dumps([entry.subjects, entry.detail])


def test_the_cli_verifies_a_receipt_against_the_served_key_set(gw: Gateway, tmp_path: Path) -> None:
    # given: a receipt from recordConsent, a tampered copy, and the JWKS the gateway serves
    cid, _ = add_person(gw)
    jws = record_consent(gw, cid, "grant")["receipt"]["jws"]
    header, payload, signature = jws.split(".")
    claims = json.loads(unb64url(payload))
    forged = b64url(json.dumps({**claims, "purpose": "marketing_sms"}).encode())
    (tmp_path / "good.jws").write_text(jws, encoding="utf-8")
    (tmp_path / "bad.jws").write_text(f"{header}.{forged}.{signature}", encoding="utf-8")
    jwks = tmp_path / "jwks.json"
    jwks.write_text(gw.client.get("/.well-known/jwks.json").text, encoding="utf-8")

    # when
    ok = CliRunner().invoke(main, ["receipts", "verify", str(tmp_path / "good.jws"), "--jwks", str(jwks)])
    tampered = CliRunner().invoke(main, ["receipts", "verify", str(tmp_path / "bad.jws"), "--jwks", str(jwks)])

    # then
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["receipt_id"] == claims["receipt_id"]
    assert tampered.exit_code == 1
    assert "signature does not verify" in tampered.output
