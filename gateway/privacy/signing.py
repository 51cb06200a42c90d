"""The gateway's Ed25519 signing key: consent receipts and audit checkpoints.

The key is derived from the master key (HKDF), so every worker and replica signs with the
same key without another secret to distribute; the public half is published as a JWKS.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from gateway.privacy.keys import derive_key


def b64url(data: bytes) -> str:
    """Unpadded base64url, as JOSE writes it."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    """Inverse of `b64url`; raises ValueError on malformed input."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """Signs with the gateway's Ed25519 key; `kid` is the RFC 7638 thumbprint of its JWK."""

    def __init__(self, master: bytes) -> None:
        self._private = Ed25519PrivateKey.from_private_bytes(derive_key(master, "signing:ed25519"))
        self.public_bytes = self._private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        thumb = f'{{"crv":"Ed25519","kty":"OKP","x":"{b64url(self.public_bytes)}"}}'
        self.kid = b64url(hashlib.sha256(thumb.encode()).digest())

    def sign(self, message: bytes) -> str:
        """The base64url signature of `message`."""
        return b64url(self._private.sign(message))

    def jwk(self) -> dict[str, str]:
        """The public key as a JWK (`kty: OKP`, `crv: Ed25519`)."""
        return {"kty": "OKP", "crv": "Ed25519", "x": b64url(self.public_bytes), "kid": self.kid,
                "use": "sig", "alg": "EdDSA"}

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """The JWKS published at `/.well-known/jwks.json`."""
        return {"keys": [self.jwk()]}


def verify(jwks: dict[str, object], kid: str, message: bytes, signature: str) -> bool:
    """True when `signature` over `message` verifies under key `kid` of `jwks` (offline use)."""
    keys = jwks.get("keys")
    if not isinstance(keys, list):
        return False
    for key in keys:
        if isinstance(key, dict) and key.get("kid") == kid and key.get("crv") == "Ed25519":
            try:
                public = Ed25519PublicKey.from_public_bytes(unb64url(str(key["x"])))
                public.verify(unb64url(signature), message)
            except (InvalidSignature, ValueError, KeyError):
                return False
            return True
    return False
