"""Consent receipts: compact JWS (EdDSA) over what was recorded, verifiable offline."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.privacy.signing import Signer, b64url, unb64url, verify

TYPE = "consent-receipt+jws"


@dataclass(frozen=True)
class Receipt:
    """A signed receipt: its id, the compact JWS and the payload it signs."""

    id: str
    jws: str
    payload: dict[str, Any]


def _canonical(data: dict[str, Any]) -> bytes:
    return json.dumps(data, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


def new_receipt_id() -> str:
    """A fresh receipt id (also the event's idempotency key, so one finds the other)."""
    return f"rcpt_{uuid.uuid4().hex}"


def issue_receipt(
    signer: Signer, claims: dict[str, Any], issued_at: datetime, receipt_id: str | None = None
) -> Receipt:
    """Sign `claims` (plus the receipt id, fresh unless given, and the issue time) as a compact JWS."""
    receipt_id = receipt_id or new_receipt_id()
    payload = {"receipt_id": receipt_id, "iat": issued_at.isoformat(), **claims}
    header = {"alg": "EdDSA", "kid": signer.kid, "typ": TYPE}
    signing_input = f"{b64url(_canonical(header))}.{b64url(_canonical(payload))}"
    signature = signer.sign(signing_input.encode())
    return Receipt(receipt_id, f"{signing_input}.{signature}", payload)


class ReceiptInvalid(ValueError):
    """The receipt is malformed or its signature does not verify."""


def verify_receipt(jws: str, jwks: dict[str, Any]) -> dict[str, Any]:
    """The payload of `jws` when its EdDSA signature verifies under `jwks`; else ReceiptInvalid."""
    parts = jws.strip().split(".")
    if len(parts) != 3:
        raise ReceiptInvalid("not a compact JWS (three dot-separated parts)")
    try:
        header = json.loads(unb64url(parts[0]))
        payload = json.loads(unb64url(parts[1]))
    except ValueError as exc:
        raise ReceiptInvalid("header or payload is not base64url JSON") from exc
    if not isinstance(header, dict) or header.get("alg") != "EdDSA" or header.get("typ") != TYPE:
        raise ReceiptInvalid("not a consent receipt (alg EdDSA, typ consent-receipt+jws)")
    if not isinstance(payload, dict):
        raise ReceiptInvalid("payload is not a JSON object")
    if not verify(jwks, str(header.get("kid")), f"{parts[0]}.{parts[1]}".encode(), parts[2]):
        raise ReceiptInvalid("signature does not verify under the given key set")
    return payload
