"""Webhook signing secrets, sealed at rest under a master key version (not a customer's key).

A secret belongs to a destination, not to a person, so it is sealed directly under the
keyring's current key-encryption key, bound to the destination's name; the version is kept
so a secret sealed before a rotation still opens while that version is configured.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag

from gateway.privacy.envelope import NONCE_BYTES, SealedValueError
from gateway.privacy.vault import Vault


def _aad(destination: str) -> bytes:
    return f"activation_destinations:secret:{destination}".encode()


def seal_secret(vault: Vault, destination: str, secret: str) -> tuple[bytes, int]:
    """`secret` sealed for `destination`, and the master key version that seals it."""
    keyring = vault.envelope.keyring
    version = keyring.current
    nonce = os.urandom(NONCE_BYTES)
    return nonce + keyring.kek(version).encrypt(nonce, secret.encode(), _aad(destination)), version


def open_secret(vault: Vault, destination: str, sealed: bytes, version: int) -> str:
    """The secret sealed by `seal_secret`."""
    try:
        plain = vault.envelope.keyring.kek(version).decrypt(
            sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], _aad(destination))
    except InvalidTag as exc:
        raise SealedValueError("a destination's secret does not open under its key") from exc
    return plain.decode()


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The `X-Gateway-Signature` header: `t=<unix time>,v1=<hex HMAC-SHA256 of "t.body">`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, header: str, body: bytes, tolerance: int, now: int) -> bool:
    """Check a signature header as a receiver would (used by tests and the bench receiver)."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), header)
