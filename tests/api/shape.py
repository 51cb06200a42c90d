"""Does a GraphQL answer fit the schema? Types of leaves, nulls only where an error says why.

For the property-based API test: schemathesis generates the queries from the SDL; this
checks each answer against the same SDL and the query's selections.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode,
    GraphQLEnumType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    parse,
)

_SCALARS: dict[str, tuple[type, ...]] = {
    "String": (str,), "ID": (str,), "Boolean": (bool,), "Int": (int,), "Float": (int, float),
    "DateTime": (str,), "Date": (str,), "Decimal": (str,),
}


def violations(schema: GraphQLSchema, query: str, body: dict[str, Any]) -> list[str]:
    """What in `body` does not fit the schema for `query` (empty when it fits)."""
    data = body.get("data")
    if data is None:
        return []
    errored = {tuple(e["path"]) for e in body.get("errors", []) if "path" in e}
    operation = next(d for d in parse(query).definitions if isinstance(d, OperationDefinitionNode))
    root = schema.mutation_type if operation.operation.value == "mutation" else schema.query_type
    assert root is not None
    found: list[str] = []
    _object(root, operation.selection_set, data, (), errored, found)
    return found


def _object(kind: GraphQLObjectType, selections: SelectionSetNode, value: dict[str, Any],
            path: tuple[Any, ...], errored: set[tuple[Any, ...]], found: list[str]) -> None:
    for selection in selections.selections:
        if isinstance(selection, InlineFragmentNode):
            condition = selection.type_condition
            if condition is None or condition.name.value == kind.name:
                _object(kind, selection.selection_set, value, path, errored, found)
            continue
        if not isinstance(selection, FieldNode):
            continue
        name = selection.name.value
        key = selection.alias.value if selection.alias else name
        if name == "__typename":
            if value.get(key) != kind.name:
                found.append(f"{path + (key,)}: __typename {value.get(key)!r} is not {kind.name}")
            continue
        if key not in value:
            found.append(f"{path + (key,)}: missing")
            continue
        field_type = kind.fields[name].type
        _value(field_type, selection, value[key], path + (key,), errored, found)


def _value(kind: GraphQLOutputType, node: FieldNode, value: Any, path: tuple[Any, ...],
           errored: set[tuple[Any, ...]], found: list[str]) -> None:
    if value is None:
        if isinstance(kind, GraphQLNonNull) and not any(p[:len(path)] == path or path[:len(p)] == p
                                                        for p in errored):
            found.append(f"{path}: null for a non-null {kind} without an error")
        return
    if isinstance(kind, GraphQLNonNull):
        kind = kind.of_type
    if isinstance(kind, GraphQLList):
        if not isinstance(value, list):
            found.append(f"{path}: not a list")
            return
        for i, item in enumerate(value):
            _value(kind.of_type, node, item, path + (i,), errored, found)
    elif isinstance(kind, GraphQLScalarType):
        if not isinstance(value, _SCALARS.get(kind.name, (object,))) or (
                kind.name in ("Int", "Float") and isinstance(value, bool)):
            found.append(f"{path}: {value!r} is not a {kind.name}")
    elif isinstance(kind, GraphQLEnumType):
        if value not in kind.values:
            found.append(f"{path}: {value!r} is not a value of {kind.name}")
    elif isinstance(kind, GraphQLObjectType | GraphQLUnionType):
        if not isinstance(value, dict) or node.selection_set is None:
            found.append(f"{path}: not an object")
            return
        concrete = kind
        if isinstance(kind, GraphQLUnionType):
            named = value.get("__typename")
            matches = [t for t in kind.types if t.name == named]
            if not matches:
                return  # no __typename selected: the members' fields are checked loosely
            concrete = matches[0]
        assert isinstance(concrete, GraphQLObjectType)
        _object(concrete, node.selection_set, value, path, errored, found)
