"""How a direct identifier leaves the gateway when policy does not grant `reveal`."""

from __future__ import annotations

import re
from collections.abc import Callable

_NON_DIGITS = re.compile(r"\D")


def normalize_email(value: str) -> str:
    """Lower-cased and trimmed: the form used for lookups and keyed pseudonyms."""
    return value.strip().lower()


def normalize_phone(value: str) -> str:
    """Digits only, with a leading + kept: the form used for lookups and keyed pseudonyms."""
    text = value.strip()
    digits = _NON_DIGITS.sub("", text)
    return ("+" + digits) if text.startswith("+") else digits


def mask_email(value: str) -> str:
    """`j***@example.com`: enough to recognise, not enough to write to."""
    local, _, domain = value.partition("@")
    # Fix: without a local part ("@example.com") the mask used to contain the whole value.
    return f"{local[:1]}***@{domain}" if domain and local else "***"


def _keep_tail(text: str, keep: int) -> int:
    """How many trailing characters of `text` a mask may show: `keep`, but only when at least
    as many characters stay hidden. (Fix: short values used to come back whole, e.g.
    mask_code("1234") == "1234" and mask_phone("12") == "12".)"""
    return keep if len(text) >= 2 * keep else 0


def mask_phone(value: str) -> str:
    """`+7*******67`: only the last two digits stay."""
    digits = normalize_phone(value)
    bare = digits.lstrip("+")
    kept = _keep_tail(bare, 2)
    return ("+" if digits.startswith("+") else "") + "*" * (len(bare) - kept) + bare[len(bare) - kept:]


def mask_code(value: str) -> str:
    """A card or account number: the last four characters stay."""
    kept = _keep_tail(value, 4)  # fix: a code of four characters or fewer came back whole
    return "*" * (len(value) - kept) + value[len(value) - kept:]


def mask_address(value: str) -> str:
    """A street address: only that there is one. House numbers and names identify."""
    return "***" if value.strip() else value


def normalize_address(value: str) -> str:
    """Lower-cased, single-spaced: the form used for keyed pseudonyms."""
    return " ".join(value.lower().split())


def normalize_code(value: str) -> str:
    """A card or account number as typed, without surrounding blanks."""
    return value.strip()


NORMALIZERS: dict[str, Callable[[str], str]] = {
    "email": normalize_email, "phone": normalize_phone, "card": normalize_code,
    "address": normalize_address,
}
MASKERS: dict[str, Callable[[str], str]] = {"email": mask_email, "phone": mask_phone, "card": mask_code, "address": mask_address}
