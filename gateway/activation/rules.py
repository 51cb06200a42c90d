"""`policies/activation.yaml`: message templates and event-triggered rules, validated.

A template names the fields it needs; a rule says "when EVENT (and CONDITION), after DELAY,
send TEMPLATE to DESTINATION for PURPOSE, at most N per PERIOD", possibly in several steps
("welcome day 0, follow-up day 3 unless purchased"). Every problem is reported at its place
(`triggers.welcome.steps[1].after: ...`), all at once, like `purposes check`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from gateway.consent.notices import unknown_keys
from gateway.profile.fields import COLUMNS

# The events source systems send, and the categories of data each one reveals (a purchase
# reveals that an order was made; a birthday, the birth date): a rule may act on an event
# only for a purpose and destination whose policy may use all of them (DESIGN.md rule 7).
EVENT_KINDS: dict[str, tuple[str, ...]] = {
    "purchase": ("transactions",),
    "cart_abandoned": ("interactions",),
    "email_open": ("interactions",),
    "email_click": ("interactions",),
    "web_visit": ("interactions",),
    "loyalty_threshold": ("transactions",),
    "lifecycle_change": ("derived",),
    "birthday": ("identity",),
    "signup": ("interactions",),
}
OPERATORS = frozenset({"eq", "ne", "gt", "gte", "lt", "lte", "in"})
_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class RulesError(ValueError):
    """`activation.yaml` is invalid; `problems` lists every issue, each with its place."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Template:
    """A message template: its id and the fields it fills in."""

    name: str
    fields: tuple[str, ...]
    description: str = ""


@dataclass(frozen=True)
class Condition:
    """One test on an event attribute: `attribute op value`."""

    attribute: str
    op: str
    value: Any

    def holds(self, attributes: dict[str, Any]) -> bool:
        """True when the event's attribute passes; a missing attribute never passes."""
        if self.attribute not in attributes:
            return False
        got = attributes[self.attribute]
        try:
            if self.op == "eq":
                return bool(got == self.value)
            if self.op == "ne":
                return bool(got != self.value)
            if self.op == "in":
                return got in self.value
            return bool({"gt": got > self.value, "gte": got >= self.value,
                         "lt": got < self.value, "lte": got <= self.value}[self.op])
        except TypeError:  # a text compared with a number: the condition does not hold
            return False


@dataclass(frozen=True)
class Step:
    """One message of a script: after a delay from the event, unless another event came."""

    after: timedelta
    template: str
    unless: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rule:
    """When `event` (and every condition), send the steps to `destination` for `purpose`."""

    name: str
    event: str
    destination: str
    purpose: str
    steps: tuple[Step, ...]
    conditions: tuple[Condition, ...] = ()
    limit: tuple[int, int] | None = None  # at most `count` messages per `period_days`

    def matches(self, kind: str, attributes: dict[str, Any]) -> bool:
        """The rule fires on this event."""
        return kind == self.event and all(c.holds(attributes) for c in self.conditions)


@dataclass(frozen=True)
class ActivationRules:
    """Templates and trigger rules, by name."""

    templates: dict[str, Template] = field(default_factory=dict)
    rules: dict[str, Rule] = field(default_factory=dict)

    def for_event(self, kind: str) -> list[Rule]:
        """The rules listening to `kind`, in file order."""
        return [r for r in self.rules.values() if r.event == kind]


def parse_duration(raw: Any) -> timedelta | None:
    """`30m`, `12h`, `3d`, `45s` or a number of seconds; None when malformed."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int) and raw >= 0:
        return timedelta(seconds=raw)
    if isinstance(raw, str):
        found = _DURATION.match(raw.strip())
        if found:
            return timedelta(**{_UNITS[found.group(2)]: int(found.group(1))})
    return None


def _templates(raw: Any, problems: list[str]) -> dict[str, Template]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.append("templates: must be a mapping of template names")
        return {}
    out: dict[str, Template] = {}
    for name, body in raw.items():
        where = f"templates.{name}"
        if not isinstance(name, str) or not _NAME.match(name):
            problems.append(f"{where}: a name is lower-case letters, digits and _")
            continue
        if not isinstance(body, dict):
            problems.append(f"{where}: must be a mapping with `fields`")
            continue
        unknown_keys(where, body, ("fields", "description"), problems)
        fields = body.get("fields")
        if not isinstance(fields, list) or not fields or not all(isinstance(f, str) for f in fields):
            problems.append(f"{where}.fields: a non-empty list of field names")
            continue
        bad = [f for f in fields if f not in COLUMNS]
        if bad:
            problems.append(f"{where}.fields: unknown fields {', '.join(bad)}")
            continue
        out[name] = Template(name, tuple(fields), str(body.get("description", "")))
    return out


def _conditions(where: str, raw: Any, problems: list[str]) -> tuple[Condition, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        problems.append(f"{where}: a mapping of attribute: {{operator: value}}")
        return ()
    out = []
    for attribute, test in raw.items():
        place = f"{where}.{attribute}"
        if not isinstance(test, dict) or len(test) != 1:
            problems.append(f"{place}: one operator ({', '.join(sorted(OPERATORS))}) and its value")
            continue
        op, value = next(iter(test.items()))
        if op not in OPERATORS:
            problems.append(f"{place}: unknown operator {op}; use {', '.join(sorted(OPERATORS))}")
        elif op == "in" and not isinstance(value, list):
            problems.append(f"{place}.in: a list of values")
        else:
            out.append(Condition(str(attribute), str(op), value))
    return tuple(out)


def _steps(where: str, raw: Any, templates: dict[str, Template], problems: list[str]) -> tuple[Step, ...]:
    if not isinstance(raw, list) or not raw:
        problems.append(f"{where}: a non-empty list of steps (after, template, unless)")
        return ()
    out = []
    for i, body in enumerate(raw):
        place = f"{where}[{i}]"
        if not isinstance(body, dict):
            problems.append(f"{place}: a mapping with after and template")
            continue
        unknown_keys(place, body, ("after", "template", "unless"), problems)
        after = parse_duration(body.get("after", 0))
        if after is None:
            problems.append(f"{place}.after: a delay such as 0m, 30m, 12h or 3d")
        template = body.get("template")
        if template not in templates:
            problems.append(f"{place}.template: unknown template {template}")
        unless = body.get("unless") or []
        if not isinstance(unless, list) or any(u not in EVENT_KINDS for u in unless):
            problems.append(f"{place}.unless: a list of event kinds ({', '.join(EVENT_KINDS)})")
            unless = []
        if after is not None and template in templates:
            out.append(Step(after, str(template), tuple(unless)))
    return tuple(out)


def _limit(where: str, raw: Any, problems: list[str]) -> tuple[int, int] | None:
    if raw is None:
        return None
    count = raw.get("count") if isinstance(raw, dict) else None
    days = raw.get("period_days") if isinstance(raw, dict) else None
    if not (isinstance(count, int) and count >= 1 and isinstance(days, int) and 1 <= days <= 366):
        problems.append(f"{where}: count (>= 1) and period_days (1-366)")
        return None
    return count, days


def _rule(name: str, body: Any, templates: dict[str, Template], purposes: frozenset[str],
          problems: list[str]) -> Rule | None:
    where = f"triggers.{name}"
    if not _NAME.match(name):
        problems.append(f"{where}: a name is lower-case letters, digits and _")
        return None
    if not isinstance(body, dict):
        problems.append(f"{where}: must be a mapping")
        return None
    before = len(problems)
    unknown_keys(where, body, ("when", "if", "destination", "purpose", "limit", "steps"), problems)
    event = body.get("when")
    if event not in EVENT_KINDS:
        problems.append(f"{where}.when: one of {', '.join(EVENT_KINDS)}")
    destination = body.get("destination")
    if not isinstance(destination, str) or not destination:
        problems.append(f"{where}.destination: the name of a configured destination")
    purpose = body.get("purpose")
    if purpose not in purposes:
        problems.append(f"{where}.purpose: unknown purpose {purpose}")
    conditions = _conditions(f"{where}.if", body.get("if"), problems)
    limit = _limit(f"{where}.limit", body.get("limit"), problems)
    steps = _steps(f"{where}.steps", body.get("steps"), templates, problems)
    if len(problems) > before:
        return None
    return Rule(name, str(event), str(destination), str(purpose), steps, conditions, limit)


def parse_rules(document: Any, purposes: frozenset[str]) -> ActivationRules:
    """Validate a parsed `activation.yaml`; raise `RulesError` listing every problem."""
    if document is None:
        return ActivationRules()
    if not isinstance(document, dict):
        raise RulesError(["top level: a mapping with templates and triggers"])
    problems: list[str] = []
    unknown_keys("top level", document, ("templates", "triggers"), problems)
    templates = _templates(document.get("templates"), problems)
    raw_rules = document.get("triggers") or {}
    rules: dict[str, Rule] = {}
    if not isinstance(raw_rules, dict):
        problems.append("triggers: must be a mapping of rule names")
    else:
        for name, body in raw_rules.items():
            rule = _rule(str(name), body, templates, purposes, problems)
            if rule is not None:
                rules[rule.name] = rule
    if problems:
        raise RulesError(problems)
    return ActivationRules(templates, rules)


def load_rules(path: Path, purposes: frozenset[str]) -> ActivationRules:
    """Load and validate `path`; no file means no templates and no triggers."""
    if not path.exists():
        return ActivationRules()
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise RulesError([f"{path.name}: not valid YAML ({exc})"]) from exc
    return parse_rules(document, purposes)
