"""Receipts: signed with the gateway's Ed25519 key, verifiable with the published JWKS."""

from __future__ import annotations

import json

import pytest

from gateway.consent.receipts import ReceiptInvalid, verify_receipt
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
    assert len(claims["notice_sha256"]) == 64
    assert claims["receipt_id"] == receipt["id"]


def test_a_tampered_receipt_does_not_verify(gw: Gateway) -> None:
    # given
    cid, _ = add_person(gw)
    receipt = record_consent(gw, cid, "grant")["receipt"]
    jwks = gw.client.get("/.well-known/jwks.json").json()

    # when / then
    with pytest.raises(ReceiptInvalid):
        verify_receipt(_tamper(receipt["jws"]), jwks)


def test_a_152_fz_grant_carries_the_article_9_content(gw: Gateway) -> None:
    # given: a customer under 152-FZ
    cid, _ = add_person(gw, jurisdiction="152-fz", language="ru")

    # when
    receipt = record_consent(gw, cid, "grant")["receipt"]

    # then
    details = json.loads(receipt["payload"])["details"]
    assert details["operator"]["name"] == "Demo Retail LLC"
    assert details["purpose"]["name"] == "marketing_email"
    assert details["operator"]["address"] == "1 Example Street, Example City"
    assert "email address" in details["personal_data"]
    assert "collection" in details["actions"] and details["methods"]
    assert details["term_days"] == 1095
    assert "dpo@demo-retail.example" in details["withdrawal"]
