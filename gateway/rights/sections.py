"""What a person's export holds and what their erasure removes, section by section.

Each domain that holds data about a person registers a `Section`: how to export it and how
to erase it. The rights' own sections (profile, sources, orders, ...) are registered in
`gateway.rights.held`; domains still to come (segmentation, scoring, portal sessions) are
registered there as empty sections, so that the export already shows where their data will
appear and the erasure already calls them: a domain replaces its entry with `register`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from gateway.privacy.vault import Vault

# (connection, vault to open sealed values, customer id)
Exporter = Callable[[Connection, Vault, int], Any]
Eraser = Callable[[Connection, Vault, int], int]


@dataclass(frozen=True)
class Section:
    """One part of what is held about a person."""

    name: str
    export: Exporter
    erase: Eraser | None  # None: erased with the profile (the core deletion does it)
    description: str


_SECTIONS: dict[str, Section] = {}


def register(section: Section) -> None:
    """Add or replace a section (domains call this when their module is imported)."""
    _SECTIONS[section.name] = section


def sections() -> list[Section]:
    """Every registered section, in registration order."""
    return list(_SECTIONS.values())
