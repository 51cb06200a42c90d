"""Blind indexes: keyed HMAC-SHA256 of a normalized identifier, for exact lookups only.

The gateway finds a customer by email, phone or loyalty card without storing any of them in
plaintext: the lookup value is normalized the way it was at write time, then hashed under a
key derived from the master key (one key per kind, so digests of two kinds never compare).
A blind index answers equality and nothing else: no prefix, range or order.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable

from gateway.privacy.keys import derive_key
from gateway.privacy.masking import normalize_email

_SEPARATORS = re.compile(r"[\s\-./()]")
_NON_DIGITS = re.compile(r"\D")


def normalize_phone_e164(value: str) -> str:
    """E.164-ish: `+` and digits; `00` as an international prefix becomes `+`.

    National forms ("07700 900123") stay national: without the subscriber's country the
    gateway cannot know the country code, so lookups must use the international form.
    """
    text = value.strip()
    digits = _NON_DIGITS.sub("", text)
    if text.startswith("+"):
        return "+" + digits
    if digits.startswith("00") and len(digits) > 2:
        return "+" + digits[2:]
    return digits


def normalize_card(value: str) -> str:
    """A card number as digits and letters only (spaces and dashes dropped)."""
    return _SEPARATORS.sub("", value).upper()


def normalize_source_id(value: str) -> str:
    """A source system's own id, as it sends it (only surrounding blanks dropped)."""
    return value.strip()


NORMALIZERS: dict[str, Callable[[str], str]] = {
    "email": normalize_email,
    "phone": normalize_phone_e164,
    "card": normalize_card,
    "source": normalize_source_id,
    # Free-text evidence kept as proof after an erasure: keyed, so that the operator can still
    # match a proof against the original form or call, but a guess cannot be confirmed
    # without the master key.
    "evidence": str.strip,
    # Identity resolution's blocking and matching keys ("kind:value", normalised by
    # gateway/linkage/keys.py before hashing).
    "linkage": str.strip,
}
KINDS = frozenset(NORMALIZERS)


class BlindIndex:
    """Computes blind-index digests (64 hex characters) per identifier kind."""

    def __init__(self, master: bytes) -> None:
        self._keys = {kind: derive_key(master, f"blind-index:{kind}") for kind in NORMALIZERS}

    def digest(self, kind: str, value: str | None) -> str | None:
        """The digest of `value` as a `kind`; None for a missing or blank value.

        `ValueError` for a kind that has no blind index.
        """
        if kind not in self._keys:
            raise ValueError(f"no blind index for {kind!r}; kinds: {sorted(KINDS)}")
        if value is None:
            return None
        normal = NORMALIZERS[kind](value)
        if not normal:
            return None
        return hmac.new(self._keys[kind], normal.encode(), hashlib.sha256).hexdigest()
