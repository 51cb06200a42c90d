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
    return f"{local[:1]}***@{domain}" if domain else "***"


def mask_phone(value: str) -> str:
    """`+7*******67`: only the last two digits stay."""
    digits = normalize_phone(value)
    return ("+" if digits.startswith("+") else "") + "*" * max(len(digits.lstrip("+")) - 2, 0) + digits[-2:]


def mask_code(value: str) -> str:
    """A card or account number: the last four characters stay."""
    return "*" * max(len(value) - 4, 0) + value[-4:]


def normalize_code(value: str) -> str:
    """A card or account number as typed, without surrounding blanks."""
    return value.strip()


NORMALIZERS: dict[str, Callable[[str], str]] = {
    "email": normalize_email, "phone": normalize_phone, "card": normalize_code,
}
MASKERS: dict[str, Callable[[str], str]] = {"email": mask_email, "phone": mask_phone, "card": mask_code}
