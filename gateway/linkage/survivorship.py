"""The golden record: each attribute chosen among a person's source records by a rule.

Rules (configurable per attribute in `policies/survivorship.yaml`):
- `most_recent`: the value of the record seen last;
- `most_trusted`: the value of the source ranked highest in `trust`;
- `most_frequent`: the value most records agree on (ties: most trusted, then most recent);
- `verified_first`: a value from a `verified` source if any, else most recent.
Address fields move together (`address`: street, house number, unit, city, postcode,
region, country come from one record). Each chosen value keeps its provenance: the source
record, the rule, when.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

RULES = ("most_recent", "most_trusted", "most_frequent", "verified_first")
ATTRIBUTES = ("first_name", "last_name", "birth_date", "email", "phone", "loyalty_card", "address")
ADDRESS = ("house_number", "street", "unit", "po_box", "city", "postcode", "region", "country")
DEFAULT_TRUST = ("crm", "loyalty", "orders", "call_center", "web", "email")


class SurvivorshipError(ValueError):
    """`survivorship.yaml` is invalid; `problems` lists every issue at its place."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Survivorship:
    """Which rule picks each attribute, and the source ranking the rules use."""

    rules: dict[str, str] = field(default_factory=lambda: {
        "first_name": "most_frequent", "last_name": "most_recent", "birth_date": "most_frequent",
        "email": "most_recent", "phone": "most_recent", "loyalty_card": "verified_first",
        "address": "most_recent",
    })
    trust: tuple[str, ...] = DEFAULT_TRUST
    verified: tuple[str, ...] = ("loyalty", "crm")


def load_survivorship(path: Path) -> Survivorship:
    """`policies/survivorship.yaml` (defaults when the file is absent)."""
    if not path.exists():
        return Survivorship()
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    problems: list[str] = []
    if not isinstance(raw, dict):
        raise SurvivorshipError([f"{path.name}: must be a mapping"])
    base = Survivorship()
    rules = dict(base.rules)
    for name, rule in (raw.get("attributes") or {}).items():
        if name not in ATTRIBUTES:
            problems.append(f"attributes.{name}: unknown attribute; one of {', '.join(ATTRIBUTES)}")
        elif rule not in RULES:
            problems.append(f"attributes.{name}: unknown rule {rule!r}; one of {', '.join(RULES)}")
        else:
            rules[name] = rule
    for key in ("trust", "verified"):
        value = raw.get(key)
        if value is not None and (not isinstance(value, list) or not all(isinstance(v, str) for v in value)):
            problems.append(f"{key}: must be a list of source names")
    if problems:
        raise SurvivorshipError(problems)
    return Survivorship(rules, tuple(raw.get("trust") or base.trust), tuple(raw.get("verified") or base.verified))


@dataclass(frozen=True)
class Candidate:
    """One source record as survivorship sees it."""

    record_id: int
    source: str
    seen_at: datetime
    values: Mapping[str, str]


@dataclass(frozen=True)
class Choice:
    """A chosen attribute: its value(s), the record it came from and the rule."""

    attribute: str
    values: dict[str, str]
    record_id: int
    rule: str


def _value_of(candidate: Candidate, attribute: str) -> tuple[str, ...] | None:
    if attribute == "address":
        parts = tuple(candidate.values.get(k, "") for k in ADDRESS)
        return parts if parts[1] or parts[4] or parts[5] else None  # a street, city or postcode
    value = candidate.values.get(attribute)
    return (value,) if value else None


def _rank(settings: Survivorship, candidate: Candidate) -> int:
    try:
        return len(settings.trust) - settings.trust.index(candidate.source)
    except ValueError:
        return 0


def choose(settings: Survivorship, candidates: Sequence[Candidate]) -> list[Choice]:
    """One choice per attribute some candidate has a value for."""
    out: list[Choice] = []
    for attribute in ATTRIBUTES:
        having = [(c, v) for c in candidates if (v := _value_of(c, attribute)) is not None]
        if not having:
            continue
        rule = settings.rules.get(attribute, "most_recent")
        def recent(item: tuple[Candidate, tuple[str, ...]]) -> tuple[datetime, int]:
            return item[0].seen_at, item[0].record_id

        def trusted(item: tuple[Candidate, tuple[str, ...]]) -> tuple[int, datetime, int]:
            return _rank(settings, item[0]), item[0].seen_at, item[0].record_id

        if rule == "most_trusted":
            best = max(having, key=trusted)
        elif rule == "most_frequent":
            counts = Counter(v for _, v in having)
            best = max(having, key=lambda item: (counts[item[1]], *trusted(item)))
        elif rule == "verified_first":
            verified = [h for h in having if h[0].source in settings.verified]
            best = max(verified or having, key=recent)
        else:
            best = max(having, key=recent)
        candidate, value = best
        keys = ADDRESS if attribute == "address" else (attribute,)
        out.append(Choice(attribute, dict(zip(keys, value, strict=True)), candidate.record_id, rule))
    return out


def golden_columns(choices: Sequence[Choice]) -> dict[str, Any]:
    """The `customers` columns (plaintext) the choices set."""
    from gateway.linkage import normalize as n

    out: dict[str, Any] = {}
    for choice in choices:
        v = choice.values
        if choice.attribute == "address":
            street = " ".join(x for x in (v.get("house_number"), v.get("street"), v.get("unit")) if x)
            out.update(street=street[:200] or None, city=(v.get("city") or None),
                       postcode=(v.get("postcode") or None), region=(v.get("region") or None),
                       country=(n.country(v.get("country")) or None) if v.get("country") else None)
            if out.get("country") and len(out["country"]) != 2:
                out["country"] = None
        elif choice.attribute == "birth_date":
            out["birth_date"] = n.as_date(n.date_digits(v["birth_date"]))
        elif choice.attribute == "phone":
            out["phone"] = v["phone"]
        else:
            out[choice.attribute] = v[choice.attribute][:100]
    return out
