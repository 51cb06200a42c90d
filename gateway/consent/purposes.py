"""Purposes of processing, their legal bases and notices, loaded from `purposes.yaml`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

BASES = frozenset({"contract", "legal_obligation", "legitimate_interest", "consent"})
OBJECTION_SCOPES = frozenset({"profiling", "direct_marketing"})
CATEGORIES = frozenset(
    {"identity", "contact", "location", "transactions", "interactions", "preferences",
     "derived", "special"}
)
IDENTIFIER_KINDS = frozenset({"email", "phone", "card", "address"})


class PurposesError(ValueError):
    """`purposes.yaml` is invalid; `problems` lists every issue found, each with its place."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Notice:
    """One version of the text shown when consent is asked."""

    version: int
    material: bool
    published: date
    texts: dict[str, str]


@dataclass(frozen=True)
class Purpose:
    """A purpose of processing and the rules the subject side applies to it."""

    name: str
    basis: str
    description: str
    categories: frozenset[str]
    reveals: frozenset[str]
    retention_days: int
    objection_scope: str | None = None
    restriction_exempt: bool = False
    notices: tuple[Notice, ...] = ()

    @property
    def min_valid_notice_version(self) -> int:
        """Grants to versions below this were superseded by a material change."""
        material = [n.version for n in self.notices if n.material]
        return max(material) if material else 0

    @property
    def current_notice(self) -> Notice | None:
        """The latest version of the notice, if the purpose has one."""
        return max(self.notices, key=lambda n: n.version) if self.notices else None


@dataclass(frozen=True)
class Purposes:
    """Every purpose by name, plus the operator's identity (for 152-FZ consent content)."""

    by_name: dict[str, Purpose]
    operator: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> Purpose | None:
        """The purpose called `name`, or None."""
        return self.by_name.get(name)


def _parse_notice(where: str, raw: Any, problems: list[str]) -> Notice | None:
    if not isinstance(raw, dict):
        problems.append(f"{where}: must be a mapping")
        return None
    version, published, texts = raw.get("version"), raw.get("published"), raw.get("texts")
    if not isinstance(version, int) or version < 1:
        problems.append(f"{where}.version: must be a positive integer")
    if not isinstance(published, date):
        problems.append(f"{where}.published: must be a date (YYYY-MM-DD)")
    if not isinstance(texts, dict) or not texts or not all(
        isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in texts.items()
    ):
        problems.append(f"{where}.texts: must map language codes to non-empty texts")
    if not isinstance(raw.get("material", False), bool):
        problems.append(f"{where}.material: must be true or false")
    if problems and any(p.startswith(where) for p in problems):
        return None
    assert isinstance(version, int) and isinstance(published, date) and isinstance(texts, dict)
    return Notice(version, bool(raw.get("material", False)), published, dict(texts))


def _parse_purpose(name: str, raw: Any, problems: list[str]) -> Purpose | None:
    where = f"purposes.{name}"
    if not isinstance(raw, dict):
        problems.append(f"{where}: must be a mapping")
        return None
    before = len(problems)
    basis = raw.get("basis")
    if basis not in BASES:
        problems.append(f"{where}.basis: must be one of {', '.join(sorted(BASES))}")
    categories = raw.get("categories") or []
    unknown = [c for c in categories if c not in CATEGORIES]
    if unknown:
        problems.append(f"{where}.categories: unknown {', '.join(map(str, unknown))}")
    reveals = raw.get("reveals") or []
    bad = [r for r in reveals if r not in IDENTIFIER_KINDS]
    if bad:
        problems.append(f"{where}.reveals: unknown identifiers {', '.join(map(str, bad))}")
    scope = raw.get("objection_scope")
    if scope is not None and scope not in OBJECTION_SCOPES:
        problems.append(f"{where}.objection_scope: must be profiling or direct_marketing")
    retention = raw.get("retention_days")
    if not isinstance(retention, int) or retention < 0:
        problems.append(f"{where}.retention_days: must be a non-negative integer")
    notices = [
        _parse_notice(f"{where}.notices[{i}]", n, problems)
        for i, n in enumerate(raw.get("notices") or [])
    ]
    versions = [n.version for n in notices if n]
    if len(versions) != len(set(versions)):
        problems.append(f"{where}.notices: versions must be unique")
    # Fix: count the notices given, not the valid ones, so that one bad notice is reported
    # once at its place instead of also as "needs at least one notice".
    if basis == "consent" and not notices:
        problems.append(f"{where}.notices: a consent-based purpose needs at least one notice")
    if len(problems) > before:
        return None
    return Purpose(
        name=name,
        basis=str(basis),
        description=str(raw.get("description", "")),
        categories=frozenset(categories),
        reveals=frozenset(reveals),
        retention_days=int(retention or 0),
        objection_scope=scope,
        restriction_exempt=bool(raw.get("restriction_exempt", False)),
        notices=tuple(sorted((n for n in notices if n), key=lambda n: n.version)),
    )


def parse_purposes(document: Any) -> Purposes:
    """Validate a parsed `purposes.yaml`; raise `PurposesError` listing every problem."""
    problems: list[str] = []
    if not isinstance(document, dict) or not isinstance(document.get("purposes"), dict):
        raise PurposesError(["top level: must be a mapping with a `purposes` mapping"])
    parsed = {
        str(name): _parse_purpose(str(name), raw, problems)
        for name, raw in document["purposes"].items()
    }
    if problems:
        raise PurposesError(problems)
    operator = document.get("operator") or {}
    return Purposes({k: v for k, v in parsed.items() if v}, {k: str(v) for k, v in operator.items()})


def load_purposes(path: Path) -> Purposes:
    """Load and validate `path`."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise PurposesError([f"{path.name}: not valid YAML ({exc})"]) from exc
    return parse_purposes(document)
