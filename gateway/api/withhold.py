"""Withheld fields become `null` plus an error, without raising an exception per field.

A withheld field's value is a `FieldDenied` marker. graphql-core would raise it at the
field's path, which costs a traceback, a located error and garbage for the cyclic collector
per field (hundreds per page). The execution context below notes the (path, node, code)
instead and answers null; the endpoint formats those notes as GraphQL errors with the same
message, path, locations and `extensions.code`.
"""

from __future__ import annotations

from typing import Any

from graphql import FieldNode, SourceLocation
from graphql.language.location import get_location
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from gateway.api.errors import FieldDenied
from gateway.policy.codes import Code


class Withheld:
    """The withheld fields of one request, in execution order."""

    __slots__ = ("_locations", "notes")

    def __init__(self) -> None:
        self.notes: list[tuple[list[str | int], FieldNode, Code]] = []
        self._locations: dict[int, list[dict[str, int]]] = {}

    def add(self, path: list[str | int], node: FieldNode, code: Code) -> None:
        self.notes.append((path, node, code))

    def know(self, locations: dict[int, list[dict[str, int]]]) -> None:
        """Locations of field nodes worked out beforehand (a compiled plan's), by `id(node)`;
        the plan keeps its nodes alive, so the ids stay theirs."""
        self._locations.update(locations)

    @staticmethod
    def location_of(node: FieldNode) -> list[dict[str, int]]:
        """The `locations` entry of an error about `node`."""
        if node.loc is None:
            return []
        where: SourceLocation = get_location(node.loc.source, node.loc.start)
        return [{"line": where.line, "column": where.column}]

    def _location(self, node: FieldNode) -> list[dict[str, int]]:
        # One location per field node of the query, not per row of the answer.
        found = self._locations.get(id(node))
        if found is None:
            found = self._locations[id(node)] = self.location_of(node)
        return found

    def errors(self) -> list[dict[str, Any]]:
        """The notes as formatted GraphQL errors.

        A page can withhold hundreds of fields with a handful of codes: the message and
        `extensions` of one code, and the locations of one field node, are one object each,
        shared by every error that carries them (the answer is serialised, never mutated).
        """
        extensions: dict[Code, dict[str, str]] = {}
        out = []
        for path, node, code in self.notes:
            ext = extensions.get(code)
            if ext is None:
                ext = extensions[code] = {"code": code.value}
            out.append({"message": FieldDenied.MESSAGES[code], "locations": self._location(node),
                        "path": path, "extensions": ext})
        return out


class WithholdingExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Completes a `FieldDenied` value as null and notes it on the request's context."""

    # graphql-core calls this once per value of the answer (about a thousand per page), so
    # the override keeps graphql-core 3.3's exact signature and calls the base function
    # directly: no `super()` lookup, no packing of positional arguments.
    def complete_value(self, return_type: Any, field_details_list: Any, info: Any, path: Any,
                       result: Any, position_context: Any) -> Any:
        if result.__class__ is FieldDenied:
            withheld: Withheld | None = getattr(self.context_value, "withheld", None)
            if withheld is not None:
                withheld.add(path.as_list(), field_details_list[0].node, result.code)
                return None
        return _complete_value(self, return_type, field_details_list, info, path, result,
                               position_context)


_complete_value = StrawberryGraphQLCoreExecutionContext.complete_value
