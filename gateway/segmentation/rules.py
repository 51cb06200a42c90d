"""The rule language of segments: a small expression language, parsed with positions.

    lifecycle = "at_risk" and channel_affinity.email.open_rate > 0.3
        and region in ["Moscow", "Kazan"]

Grammar (keywords are case-insensitive; strings in double or single quotes):

    rule       := or
    or         := and ("or" and)*
    and        := not ("and" not)*
    not        := "not" not | "(" rule ")" | comparison
    comparison := field op value
                | field ["not"] "in" "[" value ("," value)* "]"
                | field "is" ["not"] "null"
    field      := name ("." name)*
    op         := "=" | "==" | "!=" | "<>" | "<" | "<=" | ">" | ">="
    value      := string | number | "true" | "false"

Parsing knows no fields: names and types are checked by gateway/segmentation/check.py. Every
error carries the line and column it was found at, so an editor can point at it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_LENGTH = 4000  # characters of a rule
MAX_DEPTH = 32  # nesting of parentheses and `not`
MAX_LIST = 200  # values of one `in` list

Value = str | int | float | bool


class RuleError(Exception):
    """A rule that cannot be accepted, and where: 1-based line and column of the offending token."""

    def __init__(self, message: str, line: int, column: int, code: str = "INVALID_INPUT") -> None:
        super().__init__(f"{line}:{column}: {message}")
        self.message = message
        self.line = line
        self.column = column
        self.code = code


@dataclass(frozen=True)
class Pos:
    """Where a node starts in the rule's text."""

    line: int
    column: int


@dataclass(frozen=True)
class Compare:
    """`field op value`; op is one of = != < <= > >=."""

    field: str
    op: str
    value: Value
    pos: Pos
    value_pos: Pos


@dataclass(frozen=True)
class InList:
    """`field in [...]` (negated: `not in`)."""

    field: str
    values: tuple[Value, ...]
    negated: bool
    pos: Pos
    value_pos: tuple[Pos, ...]


@dataclass(frozen=True)
class IsNull:
    """`field is null` (negated: `is not null`)."""

    field: str
    negated: bool
    pos: Pos


@dataclass(frozen=True)
class Not:
    operand: Node
    pos: Pos


@dataclass(frozen=True)
class BoolOp:
    """`and` / `or` over two or more operands."""

    op: str
    operands: tuple[Node, ...]
    pos: Pos


Node = Compare | InList | IsNull | Not | BoolOp

_TOKEN = re.compile(r"""
    (?P<ws>[ \t\r\n]+)
  | (?P<number>-?\d+(?:\.\d+)?(?![A-Za-z_]))
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<op>==|!=|<>|<=|>=|=|<|>)
  | (?P<punct>[\[\](),])
""", re.VERBOSE)
_KEYWORDS = frozenset({"and", "or", "not", "in", "is", "null", "true", "false"})
_OPS = {"==": "=", "<>": "!="}


@dataclass(frozen=True)
class Token:
    kind: str  # number, string, name, keyword, op, punct, end
    text: str
    pos: Pos


def _unquote(text: str, pos: Pos) -> str:
    body = text[1:-1]
    out, i = [], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            nxt = body[i + 1]
            if nxt not in "\\\"'":
                raise RuleError(f"unknown escape \\{nxt} in a string", pos.line, pos.column + i + 1)
            out.append(nxt)
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def tokenize(text: str) -> list[Token]:
    """The rule's tokens, each with its position; an unknown character is an error at its place."""
    if len(text) > MAX_LENGTH:
        raise RuleError(f"a rule has at most {MAX_LENGTH} characters", 1, MAX_LENGTH + 1)
    tokens: list[Token] = []
    line, line_start, i = 1, 0, 0
    while i < len(text):
        match = _TOKEN.match(text, i)
        pos = Pos(line, i - line_start + 1)
        if match is None:
            ch = text[i]
            what = "an unterminated string" if ch in "\"'" else f"unexpected character {ch!r}"
            raise RuleError(what, pos.line, pos.column)
        kind = match.lastgroup or ""
        chunk = match.group()
        if kind == "ws":
            for offset, ch in enumerate(chunk):
                if ch == "\n":
                    line, line_start = line + 1, i + offset + 1
        elif kind == "name" and chunk.lower() in _KEYWORDS:
            tokens.append(Token("keyword", chunk.lower(), pos))
        else:
            tokens.append(Token(kind, chunk, pos))
        i = match.end()
    tokens.append(Token("end", "", Pos(line, len(text) - line_start + 1)))
    return tokens


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.at = 0
        self.depth = 0

    @property
    def current(self) -> Token:
        return self.tokens[self.at]

    def _take(self) -> Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def _is(self, kind: str, text: str | None = None) -> bool:
        t = self.current
        return t.kind == kind and (text is None or t.text == text)

    def _fail(self, expected: str) -> RuleError:
        t = self.current
        found = "the end of the rule" if t.kind == "end" else repr(t.text)
        return RuleError(f"expected {expected}, found {found}", t.pos.line, t.pos.column)

    def _expect(self, kind: str, text: str, what: str) -> Token:
        if not self._is(kind, text):
            raise self._fail(what)
        return self._take()

    def rule(self) -> Node:
        if self._is("end"):
            raise self._fail("a condition")
        node = self._or()
        if not self._is("end"):
            raise self._fail("`and`, `or` or the end of the rule")
        return node

    def _or(self) -> Node:
        return self._chain("or", self._and)

    def _and(self) -> Node:
        return self._chain("and", self._not)

    def _chain(self, op: str, operand: object) -> Node:
        assert callable(operand)
        start = self.current.pos
        items = [operand()]
        while self._is("keyword", op):
            self._take()
            items.append(operand())
        return items[0] if len(items) == 1 else BoolOp(op, tuple(items), start)

    def _nested(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            t = self.current
            raise RuleError(f"a rule nests at most {MAX_DEPTH} levels", t.pos.line, t.pos.column)

    def _not(self) -> Node:
        t = self.current
        if self._is("keyword", "not"):
            self._take()
            self._nested()
            operand = self._not()
            self.depth -= 1
            return Not(operand, t.pos)
        if self._is("punct", "("):
            self._take()
            self._nested()
            inner = self._or()
            self.depth -= 1
            self._expect("punct", ")", "`)`")
            return inner
        return self._comparison()

    def _comparison(self) -> Node:
        t = self.current
        if t.kind != "name":
            raise self._fail("a field name")
        self._take()
        field = t.text
        if self._is("keyword", "is"):
            self._take()
            negated = self._is("keyword", "not")
            if negated:
                self._take()
            self._expect("keyword", "null", "`null`")
            return IsNull(field, negated, t.pos)
        if self._is("keyword", "not") or self._is("keyword", "in"):
            negated = self._is("keyword", "not")
            if negated:
                self._take()
            self._expect("keyword", "in", "`in`")
            values, places = self._list()
            return InList(field, values, negated, t.pos, places)
        if self.current.kind != "op":
            raise self._fail("a comparison (=, !=, <, <=, >, >=, in, is null)")
        op = self._take().text
        value_pos = self.current.pos
        return Compare(field, _OPS.get(op, op), self._value(), t.pos, value_pos)

    def _list(self) -> tuple[tuple[Value, ...], tuple[Pos, ...]]:
        self._expect("punct", "[", "`[`")
        values: list[Value] = []
        places: list[Pos] = []
        while True:
            places.append(self.current.pos)
            values.append(self._value())
            if len(values) > MAX_LIST:
                p = places[-1]
                raise RuleError(f"a list has at most {MAX_LIST} values", p.line, p.column)
            if self._is("punct", ","):
                self._take()
                continue
            self._expect("punct", "]", "`,` or `]`")
            return tuple(values), tuple(places)

    def _value(self) -> Value:
        t = self.current
        if t.kind == "string":
            self._take()
            return _unquote(t.text, t.pos)
        if t.kind == "number":
            self._take()
            return float(t.text) if "." in t.text else int(t.text)
        if t.kind == "keyword" and t.text in ("true", "false"):
            self._take()
            return t.text == "true"
        if t.kind == "keyword" and t.text == "null":
            raise RuleError("compare with null as `is null` or `is not null`", t.pos.line, t.pos.column)
        raise self._fail("a value (a string, a number, true or false)")


def parse(text: str) -> Node:
    """The rule's syntax tree; `RuleError` at the place of the first problem."""
    return _Parser(tokenize(text)).rule()


def fields_of(node: Node) -> list[tuple[str, Pos]]:
    """Every field the rule names, in order of appearance, with its place."""
    if isinstance(node, (Compare, InList, IsNull)):
        return [(node.field, node.pos)]
    if isinstance(node, Not):
        return fields_of(node.operand)
    return [found for operand in node.operands for found in fields_of(operand)]
