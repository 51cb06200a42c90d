"""Compiled plans for the preference center's mutations (issue 15, target 6).

A mutation document is worked out once per text: its one root field (`recordConsent`,
`recordObjection`, `restrictProcessing`), the variable carrying the input, and, for each
concrete type of the result union, which fields go where in the answer (`__typename`,
inline fragments, aliases, the schema's own scalar serialisers). A request through the plan
then coerces its variables with graphql-core's own function (same rules, same values), builds
the input object the resolver would get, calls the same function the resolver calls
(`gateway.api.consent.PLANNED_MUTATIONS`: the same access checks, service, writes and audit
notes) and shapes the returned object: no strawberry execution, argument conversion or
per-field completion.

The planner is strict: one mutation operation with one root field whose only argument is
`input: $var`, `$var` declared as the field's non-null input type, a flat input type (scalars
only), selections of scalars, `__typename` and inline fragments without directives, no named
fragments. Anything else, a variable that does not coerce, or anything unexpected while
shaping, goes to the general path from scratch (`run` rolls back whatever the plan wrote
first), so an answer through a plan is the general path's answer byte for byte
(tests/api/test_mutation_plans.py compares them, errors and audit entries included).

A plan holds no policy decision (the checks run per request, as in the resolver): it depends
on the document's text and the schema only, so it is cached by text and never invalidated.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    GraphQLInputObjectType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLUnionType,
    InlineFragmentNode,
    NamedTypeNode,
    NonNullTypeNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
)
from graphql.execution.values import get_variable_values

from gateway.api.consent import PLANNED_MUTATIONS
from gateway.api.context import RequestContext
from gateway.api.limits import valid_document
from gateway.api.schema import GatewaySchema
from gateway.config import Settings

_MAX_PLANS = 1024
_TYPENAME = "__typename"


class _Refuse(Exception):
    """This document (or this run) is not for the planner: use the general path."""


@dataclass(frozen=True)
class Out:
    """One key of an answer object: `__typename`, a scalar, or a nested object."""

    key: str
    attr: str  # the Python attribute of the strawberry object ("" for __typename)
    serialize: Callable[[Any], Any] | None  # None: a nested object (`sub`) or __typename
    nullable: bool
    sub: tuple[Out, ...] = ()


@dataclass(frozen=True)
class MutationPlan:
    """What a mutation document asks, worked out once."""

    operation: str | None
    key: str  # the root field's response key
    variable: str
    definitions: tuple[Any, ...]  # the operation's variable definitions
    build: Callable[..., Any]  # the input class
    attrs: dict[str, str]  # input field name -> keyword of the input class
    answer: Callable[[RequestContext, Any], Any]
    by_type: dict[str, tuple[Out, ...]]  # concrete result type -> its keys, in answer order
    schema: Any  # the graphql-core schema (variables are coerced against it)


def _collect(selection_sets: Iterable[SelectionSetNode], applies: frozenset[str],
             known: frozenset[str]) -> dict[str, list[FieldNode]]:
    """graphql-core's field collection for one concrete type: response key -> its field nodes,
    in the order the keys first appear. An inline fragment applies when it names a type in
    `applies` (the concrete type, and the union it is answered as); one naming another type
    of `known` (the union's other members) is skipped; any other condition (an interface) is
    refused."""
    fields: dict[str, list[FieldNode]] = {}
    for selection_set in selection_sets:
        for selection in selection_set.selections:
            if selection.directives:
                raise _Refuse("directive")
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                fields.setdefault(key, []).append(selection)
            elif isinstance(selection, InlineFragmentNode):
                condition = None if selection.type_condition is None else selection.type_condition.name.value
                if condition is not None and condition not in known:
                    raise _Refuse("fragment condition")
                if condition is None or condition in applies:
                    for key, nodes in _collect([selection.selection_set], applies, known).items():
                        fields.setdefault(key, []).extend(nodes)
            else:
                raise _Refuse("named fragment")
    return fields


def _object(kind: GraphQLObjectType, nodes: list[FieldNode], union: str | None = None,
            known: frozenset[str] = frozenset()) -> tuple[Out, ...]:
    """The keys of an answer object of type `kind` for the merged selections of `nodes`
    (answered as a member of `union`, whose types are `known`, when given)."""
    sets = [n.selection_set for n in nodes if n.selection_set is not None]
    applies = frozenset({kind.name} if union is None else {kind.name, union})
    outs = []
    for key, found in _collect(sets, applies, known | applies).items():
        name = found[0].name.value
        if any(n.name.value != name or n.arguments for n in found):
            raise _Refuse(key)
        if name == _TYPENAME:
            outs.append(Out(key, "", None, False))
            continue
        field_def = kind.fields.get(name)
        strawberry_field = None if field_def is None else \
            (field_def.extensions or {}).get("strawberry-definition")
        if field_def is None or strawberry_field is None or strawberry_field.base_resolver is not None:
            raise _Refuse(name)  # a resolver of its own is graphql-core's business
        target: Any = field_def.type
        nullable = not isinstance(target, GraphQLNonNull)
        if not nullable:
            target = target.of_type
        attr = strawberry_field.python_name
        if isinstance(target, GraphQLScalarType):
            outs.append(Out(key, attr, target.serialize, nullable))
        elif isinstance(target, GraphQLObjectType):
            outs.append(Out(key, attr, None, nullable, _object(target, found)))
        else:
            raise _Refuse(name)
    return tuple(outs)


def _input(variable_type: Any, expected: Any) -> tuple[Callable[..., Any], dict[str, str]]:
    """The input class and keyword names of a flat input type, as the variable declares it."""
    if not (isinstance(variable_type, NonNullTypeNode) and isinstance(variable_type.type, NamedTypeNode)
            and isinstance(expected, GraphQLNonNull)
            and isinstance(expected.of_type, GraphQLInputObjectType)
            and variable_type.type.name.value == expected.of_type.name):
        raise _Refuse("variable type")
    kind = expected.of_type
    attrs = {}
    for name, field in kind.fields.items():
        inner = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
        if not isinstance(inner, GraphQLScalarType):
            raise _Refuse(name)  # a nested input would need strawberry's conversion
        definition = (field.extensions or {}).get("strawberry-definition")
        if definition is None:
            raise _Refuse(name)
        attrs[name] = definition.python_name
    return kind.extensions["strawberry-definition"].origin, attrs


def shape_of(schema: GatewaySchema, operation: OperationDefinitionNode) -> MutationPlan:
    """The plan of a (validated) mutation operation, or `_Refuse`."""
    if operation.operation is not OperationType.MUTATION or operation.directives:
        raise _Refuse("operation")
    roots = operation.selection_set.selections
    if len(roots) != 1 or not isinstance(roots[0], FieldNode) or roots[0].directives:
        raise _Refuse("root")
    root = roots[0]
    planned = PLANNED_MUTATIONS.get(root.name.value)
    mutation = schema._schema.mutation_type
    if planned is None or mutation is None or root.selection_set is None:
        raise _Refuse("root")
    field_def = mutation.fields[root.name.value]
    arguments = root.arguments or ()
    if len(arguments) != 1 or arguments[0].name.value != "input" or \
            not isinstance(arguments[0].value, VariableNode):
        raise _Refuse("argument")
    variable = arguments[0].value.name.value
    definitions = tuple(operation.variable_definitions or ())
    declared = [d for d in definitions if d.variable.name.value == variable]
    if len(definitions) != 1 or len(declared) != 1 or declared[0].directives:
        raise _Refuse("variables")
    build, attrs = _input(declared[0].type, field_def.args["input"].type)
    if build is not planned[0]:
        raise _Refuse("input")
    result: Any = field_def.type
    if not isinstance(result, GraphQLNonNull) or not isinstance(result.of_type, GraphQLUnionType):
        raise _Refuse("result")  # a nullable or non-union result: graphql-core's business
    union = result.of_type
    known = frozenset(kind.name for kind in union.types)
    by_type = {kind.name: _object(kind, [root], union.name, known) for kind in union.types}
    return MutationPlan(operation.name.value if operation.name else None,
                        root.alias.value if root.alias else root.name.value, variable, definitions,
                        build, attrs, planned[1], by_type, schema._schema)


def _shape(outs: tuple[Out, ...], value: Any, type_name: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for o in outs:
        if o.attr == "":
            out[o.key] = type_name
            continue
        found = getattr(value, o.attr)
        if found is None:
            if not o.nullable:
                raise _Refuse(o.key)
            out[o.key] = None
        elif o.serialize is None:
            out[o.key] = _shape(o.sub, found, type(found).__strawberry_definition__.name)
        else:
            serialized = o.serialize(found)
            if serialized is None:
                raise _Refuse(o.key)
            out[o.key] = serialized
    return out


def run(plan: MutationPlan, ctx: RequestContext, variables: dict[str, Any] | None) -> dict[str, Any] | None:
    """The answer's `data` through the plan, or None: run the general path from scratch
    (whatever the plan wrote is rolled back; `ctx` may hold its notes: use a fresh one)."""
    coerced = get_variable_values(plan.schema, plan.definitions, variables or {}, max_errors=50)
    if isinstance(coerced, list):
        return None  # the general path answers the variable errors
    given = coerced.coerced.get(plan.variable)
    if not isinstance(given, dict):
        return None
    try:
        value = plan.answer(ctx, plan.build(**{plan.attrs[k]: v for k, v in given.items()}))
        type_name = type(value).__strawberry_definition__.name
        return {plan.key: _shape(plan.by_type[type_name], value, type_name)}
    except Exception:  # noqa: BLE001 - whatever it was, the general path answers it as always
        # Nothing of this run may stay: the general path starts again on the same connection
        # (the endpoint plans no request that wrote before the plan runs: a registration).
        ctx.conn.rollback()
        return None


class MutationPlans:
    """Plans of mutation documents by text (and operation name), compiled once each."""

    def __init__(self, schema: GatewaySchema, settings: Settings) -> None:
        self.schema = schema
        self.settings = settings
        self._plans: dict[tuple[str, str | None], MutationPlan | None] = {}
        self._lock = threading.Lock()

    def get(self, text: str, operation: str | None) -> MutationPlan | None:
        """The plan of `text` (its operation `operation`), or None (general path)."""
        key = (text, operation)
        try:
            return self._plans[key]
        except KeyError:
            pass
        found = self._compile(text, operation)
        with self._lock:
            if len(self._plans) >= _MAX_PLANS:
                self._plans.clear()  # a bound, not an LRU: an app sends a handful of documents
            self._plans[key] = found
        return found

    def _compile(self, text: str, operation: str | None) -> MutationPlan | None:
        document = valid_document(self.schema._schema, text, self.settings)
        if document is None:
            return None
        if len(document.definitions) != 1 or not isinstance(document.definitions[0], OperationDefinitionNode):
            return None
        found = document.definitions[0]
        name = found.name.value if found.name else None
        if operation is not None and operation != name:
            return None
        try:
            return shape_of(self.schema, found)
        except _Refuse:
            return None
