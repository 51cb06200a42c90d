"""Purposes of processing, their legal bases and notices, loaded from `purposes.yaml`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gateway.consent.notices import Notice, parse_notice, string_list, unknown_keys

# Notice is re-exported: it was defined here first and other modules import it from here.
__all__ = [
    "BASES", "CATEGORIES", "CHANNELS", "IDENTIFIER_KINDS", "OBJECTION_SCOPES", "Notice", "Purpose",
    "Purposes", "PurposesError", "load_purposes", "parse_purposes",
]

BASES = frozenset({"contract", "legal_obligation", "legitimate_interest", "consent"})
OBJECTION_SCOPES = frozenset({"profiling", "direct_marketing", "identity_resolution"})
CATEGORIES = frozenset(
    {"identity", "contact", "location", "transactions", "interactions", "preferences",
     "derived", "special"}
)
IDENTIFIER_KINDS = frozenset({"email", "phone", "card", "address"})
# The channels a customer can opt in to or out of (the preference center's `channel` kind).
CHANNELS = frozenset({"email", "sms", "push", "phone", "post"})


class PurposesError(ValueError):
    """`purposes.yaml` is invalid; `problems` lists every issue found, each with its place."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


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
    # The channel through which the purpose contacts the customer: an opt-out of it stops
    # the purpose for that customer (see gateway.policy.decide_subject).
    channel: str | None = None
    # A sale or sharing of personal data (CCPA/CPRA): a Global Privacy Control signal
    # (`Sec-GPC: 1`) on the customer's own visit opts them out of it.
    sale_or_sharing: bool = False

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


PURPOSE_KEYS = frozenset({
    "basis", "description", "categories", "reveals", "retention_days", "objection_scope",
    "restriction_exempt", "notices", "channel", "sale_or_sharing",
})
OPERATOR_KEYS = frozenset({"name", "address", "contact"})


def _parse_purpose(name: str, raw: Any, problems: list[str]) -> Purpose | None:
    where = f"purposes.{name}"
    if not isinstance(raw, dict):
        problems.append(f"{where}: must be a mapping")
        return None
    before = len(problems)
    unknown_keys(where, raw, PURPOSE_KEYS, problems)
    basis = raw.get("basis")
    if basis not in BASES:
        problems.append(f"{where}.basis: must be one of {', '.join(sorted(BASES))}")
    description = raw.get("description", "")
    if not isinstance(description, str):
        problems.append(f"{where}.description: must be a text")
    categories = string_list(f"{where}.categories", raw.get("categories"), problems)
    unknown = [c for c in categories if c not in CATEGORIES]
    if unknown:
        problems.append(f"{where}.categories: unknown {', '.join(map(str, unknown))}")
    reveals = string_list(f"{where}.reveals", raw.get("reveals"), problems)
    bad = [r for r in reveals if r not in IDENTIFIER_KINDS]
    if bad:
        problems.append(f"{where}.reveals: unknown identifiers {', '.join(map(str, bad))}")
    scope = raw.get("objection_scope")
    if scope is not None and scope not in OBJECTION_SCOPES:
        problems.append(f"{where}.objection_scope: must be one of {', '.join(sorted(OBJECTION_SCOPES))}")
    channel = raw.get("channel")
    if channel is not None and (not isinstance(channel, str) or channel not in CHANNELS):
        problems.append(f"{where}.channel: must be one of {', '.join(sorted(CHANNELS))}")
    retention = raw.get("retention_days")
    if isinstance(retention, bool) or not isinstance(retention, int) or retention < 0:
        problems.append(f"{where}.retention_days: must be a non-negative integer")
    if not isinstance(raw.get("restriction_exempt", False), bool):
        problems.append(f"{where}.restriction_exempt: must be true or false")
    if not isinstance(raw.get("sale_or_sharing", False), bool):
        problems.append(f"{where}.sale_or_sharing: must be true or false")
    raw_notices = raw.get("notices") or []
    if not isinstance(raw_notices, list):
        problems.append(f"{where}.notices: must be a list of notices")
        raw_notices = []
    notices = [parse_notice(f"{where}.notices[{i}]", n, problems) for i, n in enumerate(raw_notices)]
    versions = [n.version for n in notices if n]
    if len(versions) != len(set(versions)):
        problems.append(f"{where}.notices: versions must be unique")
    # Count the notices given, not the valid ones, so that one bad notice is reported once
    # at its place instead of also as "needs at least one notice".
    if basis == "consent" and not notices:
        problems.append(f"{where}.notices: a consent-based purpose needs at least one notice")
    if basis != "consent" and basis in BASES and notices:
        problems.append(f"{where}.notices: only a consent-based purpose asks for consent")
    if len(problems) > before:
        return None
    return Purpose(
        name=name,
        basis=str(basis),
        description=str(description),
        categories=frozenset(categories),
        reveals=frozenset(reveals),
        retention_days=int(retention or 0),
        objection_scope=scope,
        restriction_exempt=bool(raw.get("restriction_exempt", False)),
        notices=tuple(sorted((n for n in notices if n), key=lambda n: n.version)),
        channel=channel,
        sale_or_sharing=bool(raw.get("sale_or_sharing", False)),
    )


def _parse_operator(raw: Any, needed: bool, problems: list[str]) -> dict[str, str]:
    """The operator block; 152-FZ Art. 9(4) needs its name and address in every consent."""
    if raw is None:
        if needed:
            problems.append("operator: required (name, address) when a notice covers 152-fz")
        return {}
    if not isinstance(raw, dict):
        problems.append("operator: must be a mapping with name, address, contact")
        return {}
    unknown_keys("operator", raw, OPERATOR_KEYS, problems)
    for key in ("name", "address") if needed else ():
        value = raw.get(key)
        if not isinstance(value, str) or not value.strip():
            problems.append(f"operator.{key}: required when a notice covers 152-fz")
    return {str(k): str(v) for k, v in raw.items() if k in OPERATOR_KEYS}


def parse_purposes(document: Any) -> Purposes:
    """Validate a parsed `purposes.yaml`; raise `PurposesError` listing every problem."""
    problems: list[str] = []
    if not isinstance(document, dict) or not isinstance(document.get("purposes"), dict):
        raise PurposesError(["top level: must be a mapping with a `purposes` mapping"])
    unknown_keys("top level", document, ("operator", "purposes"), problems)
    parsed = {
        str(name): _parse_purpose(str(name), raw, problems)
        for name, raw in document["purposes"].items()
    }
    fz = any("152-fz" in n.jurisdictions for p in parsed.values() if p for n in p.notices)
    operator = _parse_operator(document.get("operator"), fz, problems)
    if problems:
        raise PurposesError(problems)
    return Purposes({k: v for k, v in parsed.items() if v}, operator)


def load_purposes(path: Path) -> Purposes:
    """Load and validate `path`."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise PurposesError([f"{path.name}: not valid YAML ({exc})"]) from exc
    return parse_purposes(document)
