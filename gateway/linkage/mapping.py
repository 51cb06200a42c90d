"""Mappings: which column of a source's file is which canonical field, and how it is cleaned.

A mapping is YAML (one per source, in `policies/sources/` or next to the data)::

    source: crm                      # the source system (a name, [a-z0-9_]{1,16})
    key: customer_no                 # the column holding the source's own record id
    country: DE                      # default country for national phone numbers
    day_first: true                  # 03/07/1980 is 3 July (false: US order)
    identity_resolution: probabilistic   # probabilistic | exact_only | none (see README)
    columns:
      Vorname: first_name            # column -> canonical field
      Nachname: {field: last_name, normalise: [trim, title]}
      Telefon: {field: phone, normalise: [phone_e164]}

Every problem is reported at its place (`columns.Vorname.field: ...`, with the YAML line),
all at once, and nothing is ingested with a mapping that has one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from gateway.linkage import normalize as n
from gateway.linkage.fields import CANONICAL, CANONICAL_SET

LAWFUL = ("probabilistic", "exact_only", "none")
SOURCE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,15}$")
TOP_KEYS = frozenset({"source", "key", "country", "day_first", "identity_resolution", "columns"})
COLUMN_KEYS = frozenset({"field", "normalise"})


def _translit(value: str) -> str:
    return n.fold_text(value) if any("\u0400" <= c <= "\u04ff" for c in value) else value


NORMALISERS: dict[str, Callable[[str], str]] = {
    "trim": str.strip,
    "lower": str.lower,
    "upper": str.upper,
    "title": str.title,
    "collapse_spaces": lambda v: " ".join(v.split()),
    "translit": lambda v: _translit(v).title() if any("\u0400" <= c <= "\u04ff" for c in v) else v,
    "email": lambda v: v.strip().lower(),
    "digits": lambda v: re.sub(r"\D", "", v),
}
# Applied whatever the mapping says (after its own normalisers): the canonical form.
ALWAYS: dict[str, tuple[str, ...]] = {name: ("trim", "collapse_spaces") for name in CANONICAL}
ALWAYS["email"] = ("trim", "email")


class MappingError(ValueError):
    """A mapping is invalid; `problems` lists every issue, each with its place."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class SourceMapping:
    """A validated mapping (see the module docstring)."""

    source: str | None
    key: str | None
    country: str | None
    day_first: bool | None
    identity_resolution: str
    columns: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)

    def fields(self) -> frozenset[str]:
        """The canonical fields this mapping fills."""
        return frozenset(f for f, _ in self.columns.values())



def identity_mapping(columns: list[str], source: str | None = None) -> SourceMapping:
    """Without a mapping file: columns named as canonical fields are taken as they are,
    `record_id` is the key, other columns are ignored."""
    none: tuple[str, ...] = ()
    mapped = {c: (c, none) for c in columns if c in CANONICAL_SET}
    return SourceMapping(source=source, key="record_id" if "record_id" in columns else None,
                    country=None, day_first=None, identity_resolution="probabilistic",
                    columns=mapped)


def _line(node: yaml.Node | None) -> str:
    return f" (line {node.start_mark.line + 1})" if node is not None else ""


def _nodes(node: yaml.Node) -> dict[str, yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return {str(k.value): v for k, v in node.value if isinstance(k, yaml.ScalarNode)}
    return {}


def parse_mapping(text: str, where: str = "mapping") -> SourceMapping:
    """Validate the YAML text of a mapping; `MappingError` lists every problem at its place."""
    try:
        root = yaml.compose(text)
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise MappingError([f"{where}: not valid YAML ({exc})"]) from exc
    if not isinstance(document, dict):
        raise MappingError([f"{where}: must be a mapping with `columns`"])
    nodes = _nodes(root) if root is not None else {}
    problems: list[str] = []
    for unknown in sorted(set(map(str, document)) - TOP_KEYS):
        problems.append(f"{unknown}{_line(nodes.get(unknown))}: unknown key; keys: "
                        f"{', '.join(sorted(TOP_KEYS))}")
    source = document.get("source")
    if source is not None and (not isinstance(source, str) or not SOURCE_NAME.match(source)):
        problems.append(f"source{_line(nodes.get('source'))}: must be a lower-case name of 1-16 "
                        "letters, digits or _")
    key = document.get("key")
    if key is not None and not isinstance(key, str):
        problems.append(f"key{_line(nodes.get('key'))}: must be a column name")
    country = document.get("country")
    if country is not None and (not isinstance(country, str) or not re.match(r"^[A-Z]{2}$", country)):
        problems.append(f"country{_line(nodes.get('country'))}: must be an ISO 3166 alpha-2 code like DE")
    day_first = document.get("day_first")
    if day_first is not None and not isinstance(day_first, bool):
        problems.append(f"day_first{_line(nodes.get('day_first'))}: must be true or false")
    lawful = document.get("identity_resolution", "probabilistic")
    if lawful not in LAWFUL:
        problems.append(f"identity_resolution{_line(nodes.get('identity_resolution'))}: must be one of "
                        f"{', '.join(LAWFUL)}")
    columns = _columns(document.get("columns"), _nodes(nodes["columns"]) if "columns" in nodes else {},
                       _line(nodes.get("columns")), problems)
    if problems:
        raise MappingError(problems)
    return SourceMapping(source=source, key=key, country=country, day_first=day_first,
                    identity_resolution=str(lawful), columns=columns)


def _columns(raw: Any, nodes: Mapping[str, yaml.Node], line: str,
             problems: list[str]) -> dict[str, tuple[str, tuple[str, ...]]]:
    if not isinstance(raw, dict) or not raw:
        problems.append(f"columns{line}: must map source columns to canonical fields")
        return {}
    out: dict[str, tuple[str, tuple[str, ...]]] = {}
    targets: dict[str, str] = {}
    for column, spec in raw.items():
        where = f"columns.{column}{_line(nodes.get(str(column)))}"
        if isinstance(spec, str):
            spec = {"field": spec}
        if not isinstance(spec, dict):
            problems.append(f"{where}: must be a canonical field or {{field, normalise}}")
            continue
        for key in sorted(set(map(str, spec)) - COLUMN_KEYS):
            problems.append(f"{where}.{key}: unknown key; keys: field, normalise")
        target = spec.get("field")
        if target not in CANONICAL_SET:
            problems.append(f"{where}.field: unknown canonical field {target!r}; one of "
                            f"{', '.join(CANONICAL)}")
            continue
        if target in targets:
            problems.append(f"{where}.field: {target} is already mapped from column {targets[target]}")
            continue
        steps = spec.get("normalise", [])
        if isinstance(steps, str):
            steps = [steps]
        if not isinstance(steps, list):
            problems.append(f"{where}.normalise: must be a list of {', '.join(sorted(NORMALISERS))}")
            continue
        bad = [s for s in steps if s not in NORMALISERS]
        if bad:
            problems.append(f"{where}.normalise: unknown {', '.join(map(str, bad))}; one of "
                            f"{', '.join(sorted(NORMALISERS))}")
            continue
        targets[str(target)] = str(column)
        out[str(column)] = (str(target), tuple(map(str, steps)))
    return out


def load_mapping(path: Path) -> SourceMapping:
    """Load and validate the mapping file at `path` (problems name the file)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MappingError([f"{path}: cannot be read ({exc.strerror})"]) from exc
    return parse_mapping(text, str(path))


def apply_frame(mapping: SourceMapping, raw: pd.DataFrame) -> pd.DataFrame:
    """`apply` over a whole table of text columns, once per distinct value of each column."""
    out = pd.DataFrame(index=raw.index)
    for column, (target, steps) in mapping.columns.items():
        if column not in raw.columns:
            continue
        values = raw[column].fillna("").astype(str)

        def clean(text: str, steps: tuple[str, ...] = (*steps, *ALWAYS[target])) -> str:
            for step in steps:
                text = NORMALISERS[step](text)
            return text

        table = {v: clean(v) for v in pd.unique(values)}
        out[target] = values.map(table).replace("", None)
    return out


def apply(mapping: SourceMapping, row: Mapping[str, Any]) -> dict[str, str]:
    """The canonical fields of one raw row (only non-empty values), normalised."""
    out: dict[str, str] = {}
    for column, (target, steps) in mapping.columns.items():
        value = row.get(column)
        if value is None:
            continue
        text = str(value)
        for step in (*steps, *ALWAYS[target]):
            text = NORMALISERS[step](text)
        if text:
            out[target] = text
    return out
