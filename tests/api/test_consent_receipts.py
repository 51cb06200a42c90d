"""Receipts: signed with the gateway's Ed25519 key, verifiable with the published JWKS."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from gateway.consent.receipts import ReceiptInvalid, verify_receipt
from gateway.consent.tables import consent_events
from gateway.privacy.signing import b64url, unb64url
from tests.api.support import add_person
from tests.consent.http import record_consent
from tests.harness import Gateway


def _tamper(jws: str) -> str:
    header, payload, signature = jws.split(".")
    claims = json.loads(unb64url(payload))
    claims["action"] = "withdraw"
    return ".".join([header, b64url(json.dumps(claims).encode()), signature])


def test_a_receipt_verifies_with_the_published_key(gw: Gateway) -> None:
    # given: a recorded grant and the JWKS the gateway publishes
    cid, _ = add_person(gw)
    receipt = record_consent(gw, cid, "grant")["receipt"]
    jwks = gw.client.get("/.well-known/jwks.json").json()

    # when
    claims = verify_receipt(receipt["jws"], jwks)

    # then: the claims name the purpose, action, notice and the caller's pseudonym
    assert claims == json.loads(receipt["payload"])
    assert claims["customer"] == gw.pseudonym(cid, "call_center")
    assert (claims["purpose"], claims["action"], claims["notice_version"]) == ("marketing_email", "grant", 2)
    assert claims["source_channel"] == "call_center"
    assert len(claims["notice_digest"]) == 64
    assert claims["receipt_id"] == receipt["id"]
    # and: nothing an app may not read (the text's language) nor a ledger counter
    assert "notice_sha256" not in claims and "event_id" not in claims


def test_a_tampered_receipt_does_not_verify(gw: Gateway) -> None:
    # given
    cid, _ = add_person(gw)
    receipt = record_consent(gw, cid, "grant")["receipt"]
    jwks = gw.client.get("/.well-known/jwks.json").json()

    # when / then
    with pytest.raises(ReceiptInvalid):
        verify_receipt(_tamper(receipt["jws"]), jwks)


def test_an_apps_receipt_of_a_152_fz_grant_does_not_reveal_the_jurisdiction(gw: Gateway) -> None:
    # given: a Russian customer under 152-FZ and an English one under the GDPR
    ru, _ = add_person(gw, jurisdiction="152-fz", language="ru")
    en, _ = add_person(gw, jurisdiction="gdpr", language="en")

    # when: the call center records the same grant for both
    claims = [json.loads(record_consent(gw, cid, "grant")["receipt"]["payload"]) for cid in (ru, en)]

    # then: the receipts differ only by what the app may know (pseudonym, times, ids)
    varying = {"customer", "receipt_id", "iat", "occurred_at"}
    assert {k: v for k, v in claims[0].items() if k not in varying} == {
        k: v for k, v in claims[1].items() if k not in varying}
    assert "details" not in claims[0]
    # and: the 152-FZ content is stored with the event, for the customer's own receipt
    with gw.engine.connect() as conn:
        details = conn.execute(select(consent_events.c.details).where(
            consent_events.c.customer_id == ru)).scalar_one()
    assert details["operator"]["name"] == "Demo Retail LLC"
    assert details["term_days"] == 1095
