"""Withheld fields become `null` plus an error, without raising an exception per field.

A withheld field's value is a `FieldDenied` marker. graphql-core would raise it at the
field's path, which costs a traceback, a located error and garbage for the cyclic collector
per field (hundreds per page). The execution context below notes the (path, node, code)
instead and answers null; the endpoint formats those notes as GraphQL errors with the same
message, path, locations and `extensions.code`.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode,
    GraphQLNonNull,
    GraphQLObjectType,
    SourceLocation,
    Undefined,
    is_leaf_type,
)
from graphql.language.location import get_location
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from gateway.api.errors import FieldDenied
from gateway.policy.codes import Code


class Withheld:
    """The withheld fields of one request, in execution order."""

    __slots__ = ("_locations", "formatted", "notes")

    def __init__(self) -> None:
        self.notes: list[tuple[list[str | int], FieldNode, Code]] = []
        self._locations: dict[int, list[dict[str, int]]] = {}
        # Errors a compiled plan formatted itself (gateway/api/plans.py), in answer order;
        # a request has these or notes, never both (a plan that gives way starts afresh).
        self.formatted: list[dict[str, Any]] = []

    def add(self, path: list[str | int], node: FieldNode, code: Code) -> None:
        self.notes.append((path, node, code))

    def error(self, path: list[str | int], location: list[dict[str, int]], code: Code,
              extensions: dict[Code, dict[str, str]]) -> None:
        """Note a withheld field already formatted, as `errors` would format its note: the
        same message, locations, path and `extensions` (one object per code, `extensions`
        keeping them for the request)."""
        ext = extensions.get(code)
        if ext is None:
            ext = extensions[code] = {"code": code.value}
        self.formatted.append({"message": FieldDenied.MESSAGES[code], "locations": location,
                               "path": path, "extensions": ext})

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
        if not self.notes:
            return self.formatted
        extensions: dict[Code, dict[str, str]] = {}
        out = list(self.formatted)
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


    def execute_field(self, parent_type: GraphQLObjectType, source: Any, field_details_list: Any,
                      path: Any, position_context: Any) -> Any:
        """A scalar field read from its attribute (strawberry's basic field: no resolver, no
        extension) completes here, without graphql-core's resolve info, argument values and
        completion chain; anything else (a value to report, an exception, a null where none
        may be, a value the scalar refuses) goes to graphql-core, which answers as always."""
        node = field_details_list[0].node
        fast = _fast_leaf(self.schema, parent_type, node.name.value)
        middleware = self.middleware_manager  # strawberry's, empty unless an extension resolves
        if (fast is None or len(field_details_list) != 1 or node.arguments or node.directives
                or (middleware is not None and middleware.middlewares)):
            return _execute_field(self, parent_type, source, field_details_list, path, position_context)
        resolve, python_name, coerce, nullable = fast
        value = resolve(source, python_name)
        if value is None or value is Undefined:
            if nullable:
                return None
        elif value.__class__ is FieldDenied:
            withheld: Withheld | None = getattr(self.context_value, "withheld", None)
            if withheld is not None:
                withheld.add(path.as_list(), node, value.code)
                return None
        elif not isinstance(value, Exception):
            try:
                coerced = coerce(value)
            except Exception:  # noqa: BLE001 - graphql-core reports it, located, below
                coerced = None
            if coerced is not None and coerced is not Undefined:
                return coerced
        return _execute_field(self, parent_type, source, field_details_list, path, position_context)


_complete_value = StrawberryGraphQLCoreExecutionContext.complete_value
_execute_field = StrawberryGraphQLCoreExecutionContext.execute_field
_NOT_FAST = None
_FAST_CACHE = "_gateway_fast_leaves"


def _fast_leaf(schema: Any, parent_type: GraphQLObjectType, name: str) -> Any:
    """(resolver, attribute, coerce, nullable) of a basic scalar field of `parent_type`, or
    None; worked out once per schema, type and field."""
    cache: dict[tuple[str, str], Any] | None = getattr(schema, _FAST_CACHE, None)
    if cache is None:
        cache = {}
        setattr(schema, _FAST_CACHE, cache)
    key = (parent_type.name, name)
    try:
        return cache[key]
    except KeyError:
        pass
    found = _NOT_FAST
    field_def = parent_type.fields.get(name)
    definition = None if field_def is None else (field_def.extensions or {}).get("strawberry-definition")
    resolve = None if field_def is None else field_def.resolve
    if (definition is not None and getattr(resolve, "_is_default", False)
            and definition.is_basic_field and not field_def.args):
        kind = field_def.type
        nullable = not isinstance(kind, GraphQLNonNull)
        leaf = kind if nullable else kind.of_type
        if is_leaf_type(leaf):
            found = (definition.default_resolver, definition.python_name, leaf.coerce_output_value,
                     nullable)
    cache[key] = found
    return found
