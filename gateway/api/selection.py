"""Which fields a query asks for, so services load and audit only those."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField


def _excluded(node: Any) -> bool:
    """`@skip(if: true)` or `@include(if: false)`: graphql-core will not resolve the node.

    Without this check a skipped field was still loaded and written to the audit entry as
    read (decided ALLOWED), though the caller never received it.
    """
    directives = node.directives
    skipped = directives.get("skip", {}).get("if") is True
    return skipped or directives.get("include", {}).get("if") is False


def _children(selections: Iterable[Any]) -> Iterable[SelectedField]:
    for node in selections:
        if _excluded(node):
            continue
        if isinstance(node, SelectedField):
            yield node
        elif isinstance(node, (FragmentSpread, InlineFragment)):
            yield from _children(node.selections)


def requested(selected: Iterable[Any], *path: str) -> tuple[str, ...]:
    """GraphQL names selected under `path` (e.g. `nodes`) of the current field, deduplicated."""
    level: list[Any] = list(selected)
    for step in ("<root>", *path):
        nxt: list[Any] = []
        for field in _children(level):
            if step == "<root>" or field.name == step:
                nxt.extend(field.selections)
        level = nxt
    return tuple(dict.fromkeys(f.name for f in _children(level) if f.name != "__typename"))
