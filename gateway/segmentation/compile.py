"""Checking a parsed rule (names, types, policy) and turning it into one SQL condition.

The condition is the whole membership rule: the rule itself, plus the declared purpose's
own subject condition (`subject_allows`: consent, objection, restriction, channel), plus,
when the rule reads derived data, the `profiling` purpose's subject condition. A customer
whose profiling use is not allowed has no segment, score or stage (DESIGN.md rule 7 and the
issue's part 7), so a rule on derived data can neither select nor count them, even between
a withdrawal and the next compute run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, FromClause, and_, false, not_, or_
from sqlalchemy.sql.elements import ColumnElement as _CE

from gateway.consent.purposes import Purpose
from gateway.consent.state import subject_allows
from gateway.policy import FieldPlan
from gateway.profile.fields import FIELDS_BY_NAME
from gateway.profile.tables import customers
from gateway.segmentation.rules import (
    BoolOp,
    Compare,
    InList,
    IsNull,
    Node,
    Not,
    Pos,
    RuleError,
    Value,
    fields_of,
    parse,
)
from gateway.segmentation.tables import customer_attributes
from gateway.segmentation.vocabulary import DAYS, INT, NUMBER, TEXT, RuleField, Sources, rule_field

_NUMERIC_OPS = frozenset({"=", "!=", "<", "<=", ">", ">="})
_TEXT_OPS = frozenset({"=", "!="})


@dataclass(frozen=True)
class CheckedRule:
    """A rule that parsed, names known fields with fitting values, and (if checked against a
    plan) reads only what the plan allows."""

    text: str
    tree: Node
    fields: tuple[RuleField, ...]  # distinct, in order of appearance

    @property
    def catalog(self) -> tuple[str, ...]:
        """The catalogue fields the rule reads (what the policy decides)."""
        return tuple(dict.fromkeys(f.catalog for f in self.fields))

    @property
    def categories(self) -> tuple[str, ...]:
        """Every category the rule's answers reveal: the union of its fields' lineage."""
        found: dict[str, None] = {}
        for name in self.catalog:
            found.update(dict.fromkeys(FIELDS_BY_NAME[name].categories))
        return tuple(found)

    @property
    def derived(self) -> bool:
        """The rule reads derived data (so only customers who may be profiled can match)."""
        return "derived" in self.categories


def _type_error(f: RuleField, message: str, pos: Pos) -> RuleError:
    return RuleError(f"{f.name}: {message}", pos.line, pos.column)


def _check_value(f: RuleField, value: Value, pos: Pos) -> None:
    if f.kind == TEXT:
        if not isinstance(value, str):
            raise _type_error(f, "compare with a string in quotes", pos)
        if f.values is not None and value not in f.values:
            raise _type_error(f, f"unknown value {value!r}; one of: {', '.join(f.values)}", pos)
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _type_error(f, "compare with a number", pos)
    if f.kind in (INT, DAYS) and isinstance(value, float) and not value.is_integer():
        raise _type_error(f, "compare with a whole number", pos)


def _check_node(node: Node, plan: FieldPlan | None) -> None:
    if isinstance(node, BoolOp):
        for operand in node.operands:
            _check_node(operand, plan)
        return
    if isinstance(node, Not):
        _check_node(node.operand, plan)
        return
    f = rule_field(node.field)
    if f is None:
        raise RuleError(f"unknown field {node.field!r}", node.pos.line, node.pos.column)
    if plan is not None:
        access = plan.access(f.catalog)
        if not access.allowed:
            raise RuleError(
                f"{f.name} may not be used for this purpose (it reads {f.catalog})",
                node.pos.line, node.pos.column, access.decision.code.value,
            )
    if isinstance(node, Compare):
        allowed = _TEXT_OPS if f.kind == TEXT else _NUMERIC_OPS
        if node.op not in allowed:
            raise _type_error(f, f"{node.op} does not apply to text; use = or !=", node.pos)
        _check_value(f, node.value, node.value_pos)
    elif isinstance(node, InList):
        for value, pos in zip(node.values, node.value_pos, strict=True):
            _check_value(f, value, pos)


def check(text: str, plan: FieldPlan | None = None) -> CheckedRule:
    """Parse and check `text`; with a `plan`, every field it names must be allowed by it.

    The first problem is raised as a `RuleError` at its place: a parse error, an unknown
    field, a field the plan denies (its code, e.g. POLICY_DENIED), a value of the wrong type.
    """
    tree = parse(text)
    _check_node(tree, plan)
    found: dict[str, RuleField] = {}
    for name, _pos in fields_of(tree):
        f = rule_field(name)
        assert f is not None
        found.setdefault(name, f)
    return CheckedRule(text, tree, tuple(found.values()))


# --- SQL ------------------------------------------------------------------------------------


def _days(column: _CE[object], op: str, days: int, now: datetime) -> ColumnElement[bool]:
    """`whole days since column` op `days`, as comparisons of the column with moments."""
    at_least = now - timedelta(days=days)  # days_since >= days  <=>  column <= at_least
    more = now - timedelta(days=days + 1)  # days_since >= days + 1
    match op:
        case ">=":
            return column <= at_least
        case ">":
            return column <= more
        case "<":
            return column > at_least
        case "<=":
            return column > more
        case "=":
            return and_(column <= at_least, column > more)
        case _:  # !=
            return or_(column > at_least, column <= more)


def _compare(f: RuleField, column: _CE[object], op: str, value: Value, now: datetime) -> ColumnElement[bool]:
    if f.kind == DAYS:
        assert isinstance(value, (int, float))
        return _days(column, op, int(value), now)
    bound: Value = value
    if f.kind == NUMBER and f.scale != 1.0 and isinstance(value, (int, float)):
        bound = value * f.scale
    match op:
        case "=":
            return column == bound
        case "!=":
            return column != bound
        case "<":
            return column < bound
        case "<=":
            return column <= bound
        case ">":
            return column > bound
        case _:
            return column >= bound


def _sql(node: Node, sources: Sources, now: datetime) -> ColumnElement[bool]:
    if isinstance(node, BoolOp):
        parts = [_sql(o, sources, now) for o in node.operands]
        return and_(*parts) if node.op == "and" else or_(*parts)
    if isinstance(node, Not):
        return not_(_sql(node.operand, sources, now))
    f = rule_field(node.field)
    assert f is not None
    column = f.column(sources)
    if isinstance(node, IsNull):
        return column.is_not(None) if node.negated else column.is_(None)
    if isinstance(node, InList):
        if f.kind in (TEXT, INT, NUMBER) and f.scale == 1.0:
            found: ColumnElement[bool] = column.in_(list(node.values))
        else:
            found = or_(*(_compare(f, column, "=", v, now) for v in node.values)) if node.values else false()
        # `not in` matches only customers that have a value (as `!=` does)
        return and_(column.is_not(None), not_(found)) if node.negated else found
    return _compare(f, column, node.op, node.value, now)


@dataclass(frozen=True)
class Membership:
    """What selects the members of a rule for a purpose: the tables and the condition."""

    source: FromClause
    condition: ColumnElement[bool]


def membership(rule: CheckedRule, purpose: Purpose, now: datetime, profiling: Purpose) -> Membership:
    """The rule as one SQL condition over `source`, restricted to the customers `purpose`
    may process (and, for a rule on derived data, those who may be profiled)."""
    sources = Sources()
    condition = _sql(rule.tree, sources, now)
    gates = [subject_allows(customers.c.id, purpose, now)]
    if rule.derived and profiling.name != purpose.name:
        gates.append(subject_allows(customers.c.id, profiling, now))
    source: FromClause = customers
    if sources.attributes:
        source = customers.join(
            customer_attributes, customer_attributes.c.customer_id == customers.c.id
        )
    return Membership(source, and_(condition, *gates))
