"""Compiled execution plans for persisted documents (issue 15, target 2).

A persisted document is known before any request runs it, so its execution can be worked
out once instead of by graphql-core per field and per row: which fields are selected, how
each value is serialised (the schema's own scalar functions), where each one goes in the
answer and which field node (and location) an error about it names. The policy's answer for
each selected field of a (role, purpose) is the compiled `gateway.policy.FieldPlan`, worked
into per-field steps once per selection (`gateway.profile.reader`): the rows are left only
the subject's decisions, the sealed identifiers and the pseudonyms.

The planner is strict: it compiles only the shapes it knows, `customers(first: <int>)
{ nodes { ... } }` over the profile's scalar fields, `id` and `orders { <scalars> }`, one
query operation, no variables, fragments, aliases, directives or `__typename`. Anything else
(or anything unexpected while running: a refusal, a value the schema would not accept) runs
through the general path from scratch, so an answer through a plan is the general path's
answer byte for byte (tests/api/test_plans.py compares them), errors and audit entry
included. The data is read by the same services (`gateway.profile.service`), and the
request's audit entry is noted by the same calls.

Plans are cached under the digests of the policy, the purposes and the schema: a change of
any of them makes new keys, so no plan outlives what it was compiled from.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from math import isfinite
from pathlib import Path
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
)
from strawberry.utils.str_converters import to_snake_case

from gateway.api.context import RequestContext
from gateway.api.limits import valid_document
from gateway.api.schema import GatewaySchema
from gateway.api.withhold import Withheld
from gateway.config import Settings
from gateway.errors import ServiceError
from gateway.policy.codes import Code
from gateway.profile import service
from gateway.profile.fields import COLUMNS

NESTED_PLANNED = frozenset({"orders"})  # nested lists the planner knows (scalars under them)
_MAX_PLANS = 4096


class _Refuse(Exception):
    """This document (or this run) is not for the planner: use the general path."""


@dataclass(frozen=True)
class Leaf:
    """One scalar field: its name, field node, the schema's serialiser, list-ness."""

    name: str
    node: FieldNode
    serialize: Callable[[Any], Any]
    is_list: bool
    attr: str  # the key of a nested item's dict (`ordered_at` for `orderedAt`)
    # A str is its own serialisation for String and ID (graphql-core returns it as is):
    # the common case skips the call.
    str_is_itself: bool = False
    kind: str = ""  # the scalar type's name


@dataclass(frozen=True)
class Field:
    """One field of a customer node: a leaf, or a nested list of leaves."""

    leaf: Leaf
    items: tuple[Leaf, ...] | None = None


@dataclass(frozen=True)
class Shape:
    """What a document asks, independent of who asks it."""

    operation: str | None  # the operation's name (None: anonymous)
    first: int | None
    fields: tuple[Field, ...]
    wanted: tuple[str, ...]  # the personal fields, as the resolver's `requested` finds them
    locations: dict[int, list[dict[str, int]]]  # of the node fields' errors, by id(node)
    nested: dict[str, tuple[str, ...]]  # the item keys served of each nested list
    # (name, leaf, kind, items, the locations of its errors) of each field: see `_node`
    steps: tuple[tuple[str, Leaf, int, tuple[Leaf, ...] | None, list[dict[str, int]]], ...]


def _leaf(node: FieldNode, parent: GraphQLObjectType) -> Leaf:
    name = node.name.value
    definition = parent.fields.get(name)
    if definition is None or node.alias is not None or node.directives or node.arguments:
        raise _Refuse(name)
    kind: Any = definition.type
    if isinstance(kind, GraphQLNonNull):
        kind = kind.of_type
    is_list = isinstance(kind, GraphQLList)
    if is_list:
        item = kind.of_type
        if not isinstance(item, GraphQLNonNull):
            raise _Refuse(name)  # a nullable item would need per-item completion
        kind = item.of_type
    if not isinstance(kind, GraphQLScalarType) or node.selection_set is not None:
        raise _Refuse(name)
    return Leaf(name, node, kind.serialize, is_list, to_snake_case(name), kind.name in ("String", "ID"),
                kind.name)


def _fields(node: FieldNode) -> list[FieldNode]:
    if node.selection_set is None or node.directives or node.alias is not None:
        raise _Refuse(node.name.value)
    out = []
    for selection in node.selection_set.selections:
        if not isinstance(selection, FieldNode):
            raise _Refuse("fragment")
        out.append(selection)
    names = [f.name.value for f in out]
    if len(set(names)) != len(names):
        raise _Refuse("duplicate")  # merged selections are graphql-core's business
    return out


def shape_of(schema: GatewaySchema, document: DocumentNode) -> Shape:
    """The plan-independent shape of `document`, or `_Refuse` when the planner does not know it."""
    types = schema._schema.type_map
    customer, order = types["Customer"], types["Order"]
    assert isinstance(customer, GraphQLObjectType) and isinstance(order, GraphQLObjectType)
    operations = document.definitions
    if len(operations) != 1 or not isinstance(operations[0], OperationDefinitionNode):
        raise _Refuse("operations")
    operation = operations[0]
    if operation.operation is not OperationType.QUERY or operation.variable_definitions or operation.directives:
        raise _Refuse("operation")
    roots = operation.selection_set.selections
    if len(roots) != 1 or not isinstance(roots[0], FieldNode):
        raise _Refuse("root")
    root = roots[0]
    if root.name.value != "customers" or root.alias is not None or root.directives:
        raise _Refuse("root")
    first: int | None = None
    for argument in root.arguments or ():
        if argument.name.value != "first" or not isinstance(argument.value, IntValueNode):
            raise _Refuse("argument")
        first = int(argument.value.value)
    nodes = _fields(root)
    if len(nodes) != 1 or nodes[0].name.value != "nodes":
        raise _Refuse("nodes")
    fields: list[Field] = []
    for node in _fields(nodes[0]):
        name = node.name.value
        if name in NESTED_PLANNED:
            if node.arguments or node.directives or node.alias is not None:
                raise _Refuse(name)
            wrapper = Leaf(name, node, lambda v: v, True, to_snake_case(name))
            fields.append(Field(wrapper, tuple(_leaf(n, order) for n in _fields(node))))
        elif name == "id" or name in COLUMNS:
            fields.append(Field(_leaf(node, customer)))
        else:
            raise _Refuse(name)
    wanted = tuple(f.leaf.name for f in fields if f.leaf.name != "id")
    locations = {id(f.leaf.node): Withheld.location_of(f.leaf.node) for f in fields}
    nested = {f.leaf.name: tuple(i.attr for i in f.items) for f in fields if f.items is not None}
    steps = tuple((f.leaf.name, f.leaf, _kind(f), f.items, locations[id(f.leaf.node)]) for f in fields)
    return Shape(operation.name.value if operation.name else None, first, tuple(fields), wanted,
                 locations, nested, steps)


# How `_node` completes a field: the id, a nested list, a list of scalars, or a scalar whose
# serialisation is known for the common Python type (String/ID: a str is itself; Int: an int
# within GraphQL's 32 bits is itself; Float: a finite float is itself), others through the
# schema's serialiser. These are graphql-core's own rules (serialize_int, serialize_float),
# checked first so the common value skips the call.
_ID, _NESTED, _LIST, _STR, _INT, _FLOAT, _OTHER = range(7)
_SCALAR_KINDS = {"String": _STR, "ID": _STR, "Int": _INT, "Float": _FLOAT}
_MIN_INT, _MAX_INT = -(2**31), 2**31 - 1


def _kind(field: Field) -> int:
    leaf = field.leaf
    if leaf.name == "id":
        return _ID
    if field.items is not None:
        return _NESTED
    if leaf.is_list:
        return _LIST
    return _SCALAR_KINDS.get(leaf.kind, _OTHER)


def run(shape: Shape, ctx: RequestContext, settings: Settings) -> dict[str, Any] | None:
    """The answer's `data` through the plan, or None: run the general path instead (with a
    fresh context: this one may hold notes of the abandoned run)."""
    first = settings.default_page_size if shape.first is None else shape.first
    if not 1 <= first <= settings.max_page_size:
        return None  # the general path says why, with its own code and location
    try:
        ctx.begin("customers")
        reader = ctx.reader()
        page = service.list_customers(ctx.conn, reader, service.CustomerQuery(first=first), shape.wanted,
                                      shape.nested)
        ctx.record("customers", page.views, shape.wanted)
        extensions: dict[Code, dict[str, str]] = {}
        return {"customers": {"nodes": [_node(shape, ctx, i, view, extensions)
                                        for i, view in enumerate(page.views)]}}
    except (ServiceError, GraphQLError, _Refuse, TypeError, ValueError, KeyError, AttributeError):
        return None


_ABSENT: Any = object()


def _node(shape: Shape, ctx: RequestContext, index: int, view: Any,
          extensions: dict[Code, dict[str, str]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    values, denied, error = view.values, view.denied, ctx.withheld.error
    for name, leaf, kind, items, location in shape.steps:
        if kind == _ID:
            out[name] = leaf.serialize(view.id)
            continue
        # A view holds each wanted field either in `values` (allowed) or in `denied` (its code).
        value = values.get(name, _ABSENT)
        if value is _ABSENT:
            code: Code | None = denied.get(name)
            if code is None:
                raise _Refuse(name)
            # As the general path's execution context: null, and an error at the field's path
            # (formatted here, as `Withheld.errors` formats the general path's notes).
            error(["customers", "nodes", index, name], location, code, extensions)
            out[name] = None
        elif value is None:
            out[name] = None
        elif ((kind == _STR and value.__class__ is str)
              or (kind == _INT and value.__class__ is int and _MIN_INT <= value <= _MAX_INT)
              or (kind == _FLOAT and value.__class__ is float and isfinite(value))):
            out[name] = value  # its own serialisation (see `_kind`)
        elif items is not None:
            if len(items) == 1:
                item_leaf = items[0]
                key, attr = item_leaf.name, item_leaf.attr
                out[name] = [{key: _scalar(item_leaf, item[attr])} for item in value]
            else:
                out[name] = [{f.name: _scalar(f, item[f.attr]) for f in items} for item in value]
        elif kind == _LIST:
            out[name] = [_scalar(leaf, item) for item in value]
        else:
            out[name] = _scalar(leaf, value)
    return out


def _scalar(leaf: Leaf, value: Any) -> Any:
    # Non-null leaves only below a node (list items, order fields): graphql-core would
    # answer an error for a null there, which the planner leaves to it.
    if value.__class__ is str and leaf.str_is_itself:
        return value
    if value is None:
        raise _Refuse(leaf.name)
    serialized = leaf.serialize(value)
    if serialized is None:
        raise _Refuse(leaf.name)
    return serialized


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()


class PlanCache:
    """Shapes of persisted documents, compiled once per (document, role, purpose) and the
    digests of the policy, the purposes and the schema."""

    def __init__(self, schema: GatewaySchema, settings: Settings) -> None:
        self.schema = schema
        self.settings = settings
        self._plans: dict[tuple[str, ...], Shape | None] = {}
        self._lock = threading.Lock()
        self._digests: tuple[str, str, str] | None = None

    def digests(self) -> tuple[str, str, str]:
        """(policy, purposes, schema): the sha256 of what a plan is compiled from."""
        if self._digests is None:
            folder = Path(self.settings.policy_dir)
            policy = _digest((folder / "model.conf").read_bytes(), (folder / "policy.csv").read_bytes())
            purposes = _digest((folder / "purposes.yaml").read_bytes())
            self._digests = (policy, purposes, _digest(self.schema.as_str().encode()))
        return self._digests

    def get(self, sha256: str, text: str, role: str, purpose: str | None) -> Shape | None:
        """The plan of document `sha256` for (role, purpose), or None (general path)."""
        key = (sha256, role, purpose or "", *self.digests())
        if key in self._plans:
            return self._plans[key]
        found = self._compile(text)
        with self._lock:
            if len(self._plans) >= _MAX_PLANS:
                self._plans.clear()
            self._plans[key] = found
        return found

    def _compile(self, text: str) -> Shape | None:
        document = valid_document(self.schema._schema, text, self.settings)
        if document is None:
            return None
        try:
            return shape_of(self.schema, document)
        except _Refuse:
            return None
