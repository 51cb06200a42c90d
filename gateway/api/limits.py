"""Request limits on a GraphQL document: depth, aliases, directives, introspection.

Each limit is a validation rule that reports one error with its own stable code
(`QUERY_TOO_DEEP`, `TOO_MANY_ALIASES`, `TOO_MANY_DIRECTIVES`, `INTROSPECTION_DISABLED`); the
HTTP endpoint then answers only those errors (one per limit), not the flood of ordinary
validation errors a hostile document can also cause.

Strawberry's own limiters were replaced because (a) the depth limiter skips every field whose
name starts with `__`, so `__schema { types { fields { type { ofType ... } } } }` was never
counted, (b) both walk each fragment once per spread, which is exponential in the nesting of
spreads (a "fragment bomb" of a few hundred tokens), and (c) their errors carry no code. Here
every fragment is measured once and the result reused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import (
    ASTValidationRule,
    DirectiveNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    Visitor,
    parse,
    specified_rules,
    validate,
    visit,
)

from gateway.config import Settings
from gateway.policy.codes import Code

# The codes that refuse a whole document; the endpoint keeps only these when one is present.
LIMIT_CODES = frozenset({
    Code.QUERY_TOO_DEEP.value, Code.TOO_MANY_ALIASES.value, Code.TOO_MANY_TOKENS.value,
    Code.TOO_MANY_DIRECTIVES.value, Code.INTROSPECTION_DISABLED.value,
})
_INTROSPECTION = frozenset({"__schema", "__type"})


@dataclass(frozen=True)
class Measure:
    """What a selection set costs: its depth and the aliases in it (spreads expanded)."""

    depth: int = 0
    aliases: int = 0


class _Measurer:
    """Depth and aliases of operations, each fragment measured once (memoised)."""

    def __init__(self, document: DocumentNode) -> None:
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self._done: dict[str, Measure] = {}
        self._visiting: set[str] = set()

    def selection_set(self, node: SelectionSetNode | None) -> Measure:
        depth = aliases = 0
        for selection in node.selections if node else ():
            if isinstance(selection, FieldNode):
                inner = self.selection_set(selection.selection_set)
                # strawberry's measure, kept: a leaf is level 0, `{ a { b } }` is 1 deep
                depth = max(depth, inner.depth + 1 if selection.selection_set else 0)
                aliases += inner.aliases + (1 if selection.alias else 0)
            elif isinstance(selection, InlineFragmentNode):
                inner = self.selection_set(selection.selection_set)
                depth, aliases = max(depth, inner.depth), aliases + inner.aliases
            elif isinstance(selection, FragmentSpreadNode):
                inner = self.fragment(selection.name.value)
                depth, aliases = max(depth, inner.depth), aliases + inner.aliases
        return Measure(depth, aliases)

    def fragment(self, name: str) -> Measure:
        if name in self._done:
            return self._done[name]
        definition = self.fragments.get(name)
        if definition is None or name in self._visiting:
            return Measure()  # unknown or cyclic: graphql-core's own rules report those
        self._visiting.add(name)
        measure = self.selection_set(definition.selection_set)
        self._visiting.discard(name)
        self._done[name] = measure
        return measure


def _refuse(context: ValidationContext, code: Code, message: str) -> None:
    context.report_error(GraphQLError(message, extensions={"code": code.value}))


def document_rules(max_depth: int, max_aliases: int, max_directives: int,
                   introspection: bool) -> list[type[ASTValidationRule]]:
    """The limit rules for these settings (built once: the validation cache keys on them)."""

    class DocumentLimits(ValidationRule):
        """Depth (introspection fields count like any other), aliases and directives."""

        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            document = context.document
            measurer = _Measurer(document)
            operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
            measures = [measurer.selection_set(op.selection_set) for op in operations]
            depth = max((m.depth for m in measures), default=0)
            aliases = sum(m.aliases for m in measures)
            directives = _count_directives(document)
            if depth > max_depth:
                _refuse(context, Code.QUERY_TOO_DEEP,
                        f"The query is {depth} levels deep; at most {max_depth} are allowed.")
            if aliases > max_aliases:
                _refuse(context, Code.TOO_MANY_ALIASES,
                        f"The query uses {aliases} aliases; at most {max_aliases} are allowed.")
            if directives > max_directives:
                _refuse(context, Code.TOO_MANY_DIRECTIVES,
                        f"The query uses {directives} directives; at most {max_directives} "
                        "are allowed.")

    rules: list[type[ASTValidationRule]] = [DocumentLimits]
    if not introspection:
        rules.append(_NoIntrospection)
    return rules


class _NoIntrospection(ValidationRule):
    """One error per document that asks for `__schema` or `__type` (`__typename` stays)."""

    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        if _asks_introspection(context.document):
            _refuse(context, Code.INTROSPECTION_DISABLED,
                    "Introspection is disabled on this gateway; the schema is published as "
                    "schema/schema.graphql.")


class _Counter(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.directives = 0
        self.introspection = False

    def enter_directive(self, _node: DirectiveNode, *_args: Any) -> None:
        self.directives += 1

    def enter_field(self, node: FieldNode, *_args: Any) -> None:
        if node.name.value in _INTROSPECTION:
            self.introspection = True


def valid_document(schema: GraphQLSchema, text: str, settings: Settings) -> DocumentNode | None:
    """`text` parsed and validated under the standard rules and these limits, or None when
    it fails either (a planner then leaves it to the general path, which answers the errors)."""
    try:
        document = parse(text, max_tokens=settings.max_tokens)
    except GraphQLError:
        return None
    rules = [*specified_rules, *document_rules(settings.max_query_depth, settings.max_aliases,
                                               settings.max_directives, settings.introspection)]
    return None if validate(schema, document, rules) else document


def _count_directives(document: DocumentNode) -> int:
    counter = _Counter()
    visit(document, counter)
    return counter.directives


def _asks_introspection(document: DocumentNode) -> bool:
    counter = _Counter()
    visit(document, counter)
    return counter.introspection
