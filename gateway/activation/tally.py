"""How many members of an audience have each combination of the gate's facts: a dry run's
counts, in one SQL statement, each combination then decided by `gate.reason` in Python.

Most members have none of the sparse facts (restriction, objection, channel opt-out,
suppression, a reached cap: a few percent each); the one dense fact is the consent (most
members have one) and reachability is a column. So the statement looks up the consent for
every member, and the sparse facts together:

- PostgreSQL: the consent set outer-joined to the audience (one hash join, in parallel
  workers), and the sparse sets full-joined into one relation of the customers in any of
  them (a column per set), outer-joined once: one probe per member for all sparse facts
  instead of one per fact. Grouped by the facts as booleans (the planner then expects a
  handful of groups and aggregates in the workers).
- SQLite: two parts over the audience in one statement (one snapshot). The members in none
  of the sparse sets (`NOT IN` their union, one ephemeral index) are counted per (consent,
  reachable) with sums over a co-routine, without the sort a GROUP BY costs there (1M rows
  sorted: about as much as the whole segment count); the members in one of them (`IN` the
  union: primary-key searches, a few percent of the audience) get every fact, their consent
  by a primary-key probe (not the whole consent set a second time), grouped.

tests/activation/test_tally.py checks the counts against the per-customer gate on
customers in every state, on both databases.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    FromClause,
    Integer,
    Select,
    case,
    exists,
    false,
    func,
    literal,
    literal_column,
    not_,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.sql.elements import False_, True_

from gateway.activation.gate import (
    N_FACTS,
    REACHABLE,
    FactSet,
    Present,
    epoch,
    fact_sets,
    reachable,
)
from gateway.consent.purposes import Purpose
from gateway.policy import SubjectFlags
from gateway.profile.tables import customers

DENSE = SubjectFlags._fields.index("consented")  # the fact most members have

FactValues = tuple[bool, ...]  # one value per fact, in the order of gate.Facts
Decode = Callable[[Any], Iterator[tuple[FactValues, int]]]


def tally(conn: Connection, source: FromClause, condition: ColumnElement[bool], purpose: Purpose,
          channel: str, now: datetime, there: Present) -> Counter[FactValues]:
    """How many members of the audience (`source` where `condition`) have each combination of
    facts for a message on `channel` for `purpose` at `now`; combinations nobody has are absent."""
    sets = fact_sets(purpose, channel, now, there)
    if conn.dialect.name == "postgresql":
        stmt, decode = _joined(source, condition, sets, channel)
    else:
        stmt, decode = _split(source, condition, sets, channel)
    counts: Counter[FactValues] = Counter()
    for row in conn.execute(stmt, {"now_epoch": epoch(now)}):
        for values, n in decode(row):
            if n:
                counts[values] += n
    return counts


def _constant(fact: Any) -> bool | None:
    """The value of a fact that is a constant (`true()` / `false()`), else None."""
    if isinstance(fact, True_):
        return True
    if isinstance(fact, False_):
        return False
    return None


def _exprs(held: list[list[ColumnElement[bool]]], channel: str) -> list[ColumnElement[bool]]:
    """Each fact as one condition: in any of its sets (none: false), reachability a column."""
    exprs = [or_(*found) if found else false() for found in held]
    exprs[REACHABLE] = reachable(channel)
    return exprs


def _values(exprs: list[ColumnElement[bool]], varying: dict[int, Any],
            default: bool | None = None) -> FactValues:
    """All facts: the `varying` ones as read, the constants as they are, the others `default`."""
    out = []
    for i, expr in enumerate(exprs):
        if i in varying:
            out.append(bool(varying[i]))
        else:
            fixed = _constant(expr)
            out.append(bool(default) if fixed is None else fixed)
    return tuple(out)


def _bits(exprs: list[ColumnElement[bool]], which: list[int]) -> ColumnElement[int]:
    """The facts `which` packed into one integer (bit k: fact which[k])."""
    return sum((case((exprs[i], 1 << k), else_=0) for k, i in enumerate(which)),
               literal(0, Integer))


# --- PostgreSQL: outer joins, the sparse sets as one -----------------------------------------


def _joined(source: FromClause, condition: ColumnElement[bool], sets: list[FactSet],
            channel: str) -> tuple[Select[Any], Decode]:
    cid = customers.c.id
    held: list[list[ColumnElement[bool]]] = [[] for _ in range(N_FACTS)]
    sparse = [fs for fs in sets if fs.fact != DENSE and fs.key is cid]
    for fs in sets:
        if fs.fact == DENSE or fs.key is not cid:  # the consent; suppressions by address
            sub = fs.found.subquery()
            source = source.outerjoin(sub, sub.c[0] == fs.key)
            held[fs.fact].append(sub.c[0].is_not(None))
    if sparse:
        # One row per customer in any sparse set: each set has at most one row per customer,
        # so the full joins on the customer (the first non-null id so far) repeat nobody.
        subs = [fs.found.subquery() for fs in sparse]
        chain: FromClause = subs[0]
        key: ColumnElement[Any] = subs[0].c[0]
        for sub in subs[1:]:
            chain = chain.outerjoin(sub, sub.c[0] == key, full=True)
            key = func.coalesce(key, sub.c[0])
        anyone = select(key.label("id"), *(sub.c[0].label(f"s{k}") for k, sub in enumerate(subs))
                        ).select_from(chain).subquery()
        source = source.outerjoin(anyone, anyone.c.id == cid)
        for k, fs in enumerate(sparse):
            held[fs.fact].append(anyone.c[f"s{k}"].is_not(None))
    exprs = _exprs(held, channel)
    varying = [i for i, e in enumerate(exprs) if _constant(e) is None]
    keys = [exprs[i].label(f"f{i}") for i in varying]
    stmt: Select[Any] = (select(*keys, func.count().label("n")).select_from(source)  # type: ignore[assignment]
                         .where(condition).group_by(*keys))

    def decode(row: Any) -> Iterator[tuple[FactValues, int]]:
        got = dict(zip(varying, tuple(row)[:-1], strict=True))
        yield _values(exprs, got), int(row.n)

    return stmt, decode


# --- SQLite: the members in no sparse set, counted without sorting; the others grouped -------


def _in_set(fs: FactSet) -> ColumnElement[bool]:
    # NULL never in the sets: `x IN (..., NULL)` is NULL, not false, for an x not in it.
    return fs.key.in_(fs.found.where(fs.found.selected_columns[0].is_not(None)))


def _probe(fs: FactSet) -> ColumnElement[bool]:
    """The set as a correlated probe (one index search per row), for a few rows."""
    return exists(fs.found.where(fs.found.selected_columns[0] == fs.key))


def _ids(fs: FactSet) -> Select[Any]:
    """The customers a sparse set holds for (a set of digests: the customers with them)."""
    if fs.key is customers.c.id:  # never NULL: each set reads a NOT NULL column or drops NULLs
        return fs.found
    other = customers.alias("by_digest")
    return select(other.c.id).where(other.c[fs.key.name].in_(
        fs.found.where(fs.found.selected_columns[0].is_not(None))))


def _split(source: FromClause, condition: ColumnElement[bool], sets: list[FactSet],
           channel: str) -> tuple[Any, Decode]:
    cid = customers.c.id
    sparse = [fs for fs in sets if fs.fact != DENSE]
    dense = [fs for fs in sets if fs.fact == DENSE]
    # Part A: members in no sparse set. Their sparse facts are all false; the dense ones are
    # packed into `k`, in a co-routine (OFFSET keeps SQLite from copying `k` into every sum,
    # which would look each member up once per sum), and counted per value of `k`.
    held_a: list[list[ColumnElement[bool]]] = [[] for _ in range(N_FACTS)]
    for fs in dense:
        held_a[fs.fact].append(_in_set(fs))
    exprs_a = _exprs(held_a, channel)
    varying_a = [i for i in (DENSE, REACHABLE) if _constant(exprs_a[i]) is None]
    where_a = [condition]
    anyone = union_all(*(_ids(fs) for fs in sparse)) if sparse else None
    if anyone is not None:
        where_a.append(not_(cid.in_(anyone)))
    inner = (select(_bits(exprs_a, varying_a).label("k")).select_from(source).where(*where_a)
             .offset(0).subquery())
    width = 1 << len(varying_a)
    part_a: Any = select(null().label("facts"), *(
        func.sum(case((inner.c.k == v, 1), else_=0)).label(f"n{v}") for v in range(width)))
    if anyone is None:
        stmt: Any = part_a
    else:
        # Part B: members in a sparse set (a few percent), every fact; the consent probed.
        held_b: list[list[ColumnElement[bool]]] = [[] for _ in range(N_FACTS)]
        for fs in sets:
            held_b[fs.fact].append(_probe(fs) if fs.fact == DENSE else _in_set(fs))
        exprs_b = _exprs(held_b, channel)
        varying_b = [i for i, e in enumerate(exprs_b) if _constant(e) is None]
        packed = _bits(exprs_b, varying_b).label("facts")
        part_b = (select(packed, func.count().label("n0"),
                         *(null().label(f"n{v}") for v in range(1, width)))
                  .select_from(source).where(condition, cid.in_(anyone))
                  .group_by(literal_column("facts")))  # by its name: the packing once per row
        stmt = union_all(part_a, part_b)

    def decode(row: Any) -> Iterator[tuple[FactValues, int]]:
        values = tuple(row)
        if values[0] is None:  # part A: one count per value of k
            for v in range(width):
                # the sparse facts are false() in exprs_a: constants, so false here
                got = {i: v >> k & 1 for k, i in enumerate(varying_a)}
                yield _values(exprs_a, got), int(values[1 + v] or 0)
        else:
            got = {i: int(values[0]) >> k & 1 for k, i in enumerate(varying_b)}
            yield _values(exprs_b, got), int(values[1])

    return stmt, decode
