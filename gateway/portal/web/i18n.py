"""The portal's languages: catalogs of texts (locales/*.yaml) and dates in words.

A missing text falls back to English, then to its key (a test checks both catalogs hold the
same keys). The language comes from the person's choice (a cookie), else the browser's
Accept-Language, else English.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from gateway.portal.messages import LANGUAGES

LOCALES = Path(__file__).parent / "locales"

_MONTHS = {
    "en": ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"),
    "ru": ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа",
           "сентября", "октября", "ноября", "декабря"),
}


def _flatten(prefix: str, node: Any, out: dict[str, str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), value, out)
    else:
        out[prefix] = str(node)


@cache
def catalog(language: str) -> dict[str, str]:
    """Every text of `language`, by dotted key."""
    out: dict[str, str] = {}
    _flatten("", yaml.safe_load((LOCALES / f"{language}.yaml").read_text(encoding="utf-8")), out)
    return out


class Translator:
    """Texts and dates in one language."""

    def __init__(self, language: str) -> None:
        self.language = language if language in LANGUAGES else "en"
        self._texts = catalog(self.language)
        self._fallback = catalog("en")

    def __call__(self, key: str, default: str | None = None, **values: Any) -> str:
        text = self._texts.get(key) or self._fallback.get(key)
        if text is None:
            return default if default is not None else key
        return text.format(**values) if values else text

    def has(self, key: str) -> bool:
        """Whether a text exists for `key` (in this language or English)."""
        return key in self._texts or key in self._fallback

    def date(self, value: date | datetime | None) -> str:
        """`3 May 2026` / `3 мая 2026 г.`; empty for None."""
        if value is None:
            return ""
        day = value.date() if isinstance(value, datetime) else value
        month = _MONTHS[self.language][day.month - 1]
        suffix = " г." if self.language == "ru" else ""
        return f"{day.day} {month} {day.year}{suffix}"

    def datetime(self, value: datetime | None) -> str:
        """The date in words and the time (UTC)."""
        if value is None:
            return ""
        return f"{self.date(value)}, {value:%H:%M} UTC"


def negotiate(choice: str | None, accept_language: str | None) -> str:
    """The language to speak: the person's choice, else the browser's first we speak."""
    if choice in LANGUAGES:
        return str(choice)
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in LANGUAGES:
            return tag
    return "en"
