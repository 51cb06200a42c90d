"""Per-audience pseudonyms: deterministic, authenticated and reversible only by the gateway.

Each audience (an app, the audit log) gets its own AES-SIV key derived from the master key,
so the same customer has unrelated ids for two apps, an id made for one app does not decrypt
under another's key, and the gateway turns an id back into the internal one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import struct
from functools import cached_property, lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

from gateway.privacy.keys import derive_key
from gateway.privacy.ordering import OrderKey, order_key

_ID = struct.Struct(">Q")
_NONCE = 16


class InvalidPseudonym(ValueError):
    """The token was not made by this gateway for this audience."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise InvalidPseudonym("malformed token") from exc
    # Fix: the decoder skips characters outside the alphabet and accepts `+`, `/`, `=` and
    # non-zero trailing bits, so many spellings (e.g. "c_Ab!c...") resolved to one customer.
    # Only the one spelling this gateway makes is accepted.
    if _b64(data) != text:
        raise InvalidPseudonym("malformed token")
    return data


class Pseudonymizer:
    """Makes and resolves the pseudonyms and opaque tokens of one audience."""

    def __init__(self, master: bytes, audience: str) -> None:
        self.audience = audience
        self._siv = AESSIV(derive_key(master, f"pseudonym:{audience}", 64))
        self._hmac_key = derive_key(master, f"identifier:{audience}")
        self._master = master

    @cached_property
    def order(self) -> OrderKey:
        """This audience's own default order of customers (gateway/privacy/ordering.py)."""
        return order_key(self._master, self.audience)

    def customer_id(self, internal_id: int) -> str:
        """The pseudonym of customer `internal_id` for this audience."""
        return "c_" + _b64(self._siv.encrypt(_ID.pack(internal_id), [b"customer"]))

    def resolve_customer(self, token: str) -> int:
        """The internal id behind `token`; `InvalidPseudonym` if it is not this audience's."""
        if not token.startswith("c_"):
            raise InvalidPseudonym("not a customer id")
        try:
            plain = self._siv.decrypt(_unb64(token[2:]), [b"customer"])
        except InvalidTag as exc:
            raise InvalidPseudonym("not this audience's token") from exc
        if len(plain) != _ID.size:
            raise InvalidPseudonym("malformed token")
        return int(_ID.unpack(plain)[0])

    def reference(self, kind: str, internal_id: int) -> str:
        """A deterministic id of object `internal_id` of `kind` for this audience (e.g. an
        activation message: the same message keeps its id across retries, so a destination
        can drop a duplicate). Unlinkable across kinds and audiences; `resolve_reference`
        turns it back."""
        return _b64(self._siv.encrypt(_ID.pack(internal_id), [b"ref", kind.encode()]))

    def resolve_reference(self, kind: str, token: str) -> int:
        """The internal id behind a `reference`; `InvalidPseudonym` if it is not one."""
        try:
            plain = self._siv.decrypt(_unb64(token), [b"ref", kind.encode()])
        except InvalidTag as exc:
            raise InvalidPseudonym("not this audience's token") from exc
        if len(plain) != _ID.size:
            raise InvalidPseudonym("malformed token")
        return int(_ID.unpack(plain)[0])

    def seal(self, payload: bytes, context: bytes) -> str:
        """An opaque, tamper-proof token (for cursors) readable only by this audience.

        Randomised (a fresh nonce each time): two tokens of one payload differ, so a token
        says nothing about its payload, not even whether two payloads are equal. Callers
        give fixed-width payloads, so the length says nothing either.
        """
        nonce = os.urandom(_NONCE)
        return _b64(nonce + self._siv.encrypt(payload, [context, nonce]))

    def unseal(self, token: str, context: bytes) -> bytes:
        """The payload of a token made by `seal` with the same context."""
        data = _unb64(token)
        if len(data) <= _NONCE:
            raise InvalidPseudonym("malformed token")
        try:
            return self._siv.decrypt(data[_NONCE:], [context, data[:_NONCE]])
        except InvalidTag as exc:
            raise InvalidPseudonym("not this audience's token") from exc

    def identifier(self, kind: str, normalized_value: str) -> str:
        """A keyed, non-reversible pseudonym of a raw identifier (email, phone) for this audience."""
        digest = hmac.new(self._hmac_key, f"{kind}:{normalized_value}".encode(), hashlib.sha256)
        return f"{kind}_{digest.hexdigest()[:32]}"


class PseudonymService:
    """Hands out one cached `Pseudonymizer` per audience (key derivation is not free)."""

    def __init__(self, master: bytes) -> None:
        self._master = master
        self._for = lru_cache(maxsize=1024)(self._make)

    def _make(self, audience: str) -> Pseudonymizer:
        return Pseudonymizer(self._master, audience)

    def for_app(self, app_id: int) -> Pseudonymizer:
        """The pseudonymizer of one calling app."""
        return self._for(f"app:{app_id}")

    def for_destination(self, audience: str) -> Pseudonymizer:
        """The pseudonymizer of one activation destination (its own audience: ids sent to one
        destination cannot be joined with another's, nor with any app's)."""
        return self._for(f"destination:{audience}")

    def for_audit(self) -> Pseudonymizer:
        """The pseudonymizer whose ids appear in the audit log (resolvable by officers)."""
        return self._for("audit")
