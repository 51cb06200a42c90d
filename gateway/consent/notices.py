"""Notices: the versioned texts shown when consent is asked, and what 152-FZ makes them state.

A notice version covers one or both jurisdictions (`gdpr`, `152-fz`). A version that covers
152-FZ carries the content Art. 9(4) requires of a written consent (the list of personal
data, the actions, the methods, the term, how to withdraw); a grant to it stores that content,
the operator and the purpose with the event, so the proof does not depend on this file
staying the same.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

JURISDICTIONS = frozenset({"gdpr", "152-fz"})
# 152-FZ Art. 3(3): the actions that make up processing (in English).
FZ_ACTIONS = frozenset({
    "collection", "recording", "systematisation", "accumulation", "storage", "clarification",
    "retrieval", "use", "transfer", "depersonalisation", "blocking", "deletion", "destruction",
})
NOTICE_KEYS = frozenset({"version", "material", "published", "jurisdictions", "texts", "fz152"})
FZ_KEYS = frozenset({"personal_data", "actions", "methods", "term_days", "withdrawal"})


@dataclass(frozen=True)
class FzContent:
    """What a consent under 152-FZ Art. 9(4) states besides the operator and the purpose."""

    personal_data: tuple[str, ...]
    actions: tuple[str, ...]
    methods: str
    term_days: int
    withdrawal: str


@dataclass(frozen=True)
class Notice:
    """One version of the text shown when consent is asked."""

    version: int
    material: bool
    published: date
    texts: dict[str, str]
    jurisdictions: frozenset[str] = JURISDICTIONS
    fz152: FzContent | None = None


def unknown_keys(where: str, raw: dict[Any, Any], known: Iterable[str], problems: list[str]) -> None:
    """Report keys of `raw` that are not `known` (a typo would otherwise be ignored silently)."""
    allowed = frozenset(known)
    extra = sorted(str(k) for k in raw if k not in allowed)
    if extra:
        problems.append(
            f"{where}: unknown key(s) {', '.join(extra)} (known: {', '.join(sorted(allowed))})"
        )


def string_list(where: str, value: Any, problems: list[str], *, required: bool = False) -> list[str]:
    """`value` as a list of non-empty strings; a problem (and []) when it is not one."""
    if value is None and not required:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        problems.append(f"{where}: must be a list of non-empty strings")
        return []
    if required and not value:
        problems.append(f"{where}: must not be empty")
    return list(value)


def _text(where: str, value: Any, problems: list[str]) -> str:
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{where}: must be a non-empty text")
        return ""
    return value


def _parse_fz(where: str, raw: Any, problems: list[str]) -> FzContent | None:
    if not isinstance(raw, dict):
        problems.append(f"{where}: must be a mapping with {', '.join(sorted(FZ_KEYS))}")
        return None
    before = len(problems)
    unknown_keys(where, raw, FZ_KEYS, problems)
    data = string_list(f"{where}.personal_data", raw.get("personal_data"), problems, required=True)
    actions = string_list(f"{where}.actions", raw.get("actions"), problems, required=True)
    bad = [a for a in actions if a not in FZ_ACTIONS]
    if bad:
        problems.append(
            f"{where}.actions: unknown {', '.join(bad)} (152-FZ Art. 3: {', '.join(sorted(FZ_ACTIONS))})"
        )
    methods = _text(f"{where}.methods", raw.get("methods"), problems)
    term = raw.get("term_days")
    if isinstance(term, bool) or not isinstance(term, int) or term < 1:
        problems.append(f"{where}.term_days: must be a positive integer (days the consent lasts)")
    withdrawal = _text(f"{where}.withdrawal", raw.get("withdrawal"), problems)
    if len(problems) > before:
        return None
    assert isinstance(term, int)
    return FzContent(tuple(data), tuple(actions), methods, term, withdrawal)


def parse_notice(where: str, raw: Any, problems: list[str]) -> Notice | None:
    """One notice of `purposes.yaml`; None (with problems noted at `where`) when invalid."""
    if not isinstance(raw, dict):
        problems.append(f"{where}: must be a mapping")
        return None
    before = len(problems)
    unknown_keys(where, raw, NOTICE_KEYS, problems)
    version, published, texts = raw.get("version"), raw.get("published"), raw.get("texts")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        problems.append(f"{where}.version: must be a positive integer")
    if not isinstance(published, date):
        problems.append(f"{where}.published: must be a date (YYYY-MM-DD)")
    if not isinstance(texts, dict) or not texts or not all(
        isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in texts.items()
    ):
        problems.append(f"{where}.texts: must map language codes to non-empty texts")
    if not isinstance(raw.get("material", False), bool):
        problems.append(f"{where}.material: must be true or false")
    places = string_list(f"{where}.jurisdictions", raw.get("jurisdictions"), problems, required=True)
    if "jurisdictions" not in raw:
        problems[-1] = f"{where}.jurisdictions: required, a list of gdpr and/or 152-fz"
    bad = [j for j in places if j not in JURISDICTIONS]
    if bad:
        problems.append(f"{where}.jurisdictions: unknown {', '.join(bad)} (gdpr or 152-fz)")
    fz: FzContent | None = None
    if "152-fz" in places:
        if raw.get("fz152") is None:
            problems.append(
                f"{where}.fz152: required for a 152-fz notice (Art. 9(4): "
                f"{', '.join(sorted(FZ_KEYS))})"
            )
        else:
            fz = _parse_fz(f"{where}.fz152", raw["fz152"], problems)
    elif raw.get("fz152") is not None and places and not bad:
        problems.append(f"{where}.fz152: only for a notice whose jurisdictions include 152-fz")
    if len(problems) > before:
        return None
    assert isinstance(version, int) and isinstance(published, date) and isinstance(texts, dict)
    return Notice(version, bool(raw.get("material", False)), published, dict(texts),
                  frozenset(places), fz)
