"""Reading customer profiles under policy and the subjects' choices.

Every read of the profile (GraphQL, portal, exports, activation) goes through here, so the
rules of DESIGN.md hold on every path: fields by the compiled plan, customers by their own
choices, identifiers by reveal/pseudonymize/mask, and no filter, sort or count over a field
the reader may not use.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    BindParameter,
    ColumnElement,
    Connection,
    Integer,
    Select,
    bindparam,
    exists,
    false,
    func,
    select,
)

from gateway.consent.purposes import Purpose
from gateway.consent.state import (
    flags_of,
    page_flag_columns,
    subject_allows,
    subject_allows_listing,
    subject_allows_rows,
)
from gateway.errors import MergedError, ServiceError
from gateway.linkage.aliases import merged_into
from gateway.policy import Decision, decide_subject
from gateway.policy.codes import Code
from gateway.policy.decision import ALLOW
from gateway.privacy.masking import NORMALIZERS
from gateway.privacy.ordering import permuted
from gateway.privacy.pseudonyms import InvalidPseudonym
from gateway.privacy.tables import data_keys
from gateway.profile import order
from gateway.profile.fields import COLUMNS, DERIVED, FIELDS_BY_NAME, NESTED
from gateway.profile.identity import BLIND, KEY_VERSION, KEY_WRAPPED, SEALED_COLUMNS, with_data_key
from gateway.profile.nested import load_nested
from gateway.profile.reader import CustomerView, Reader, build_view
from gateway.profile.tables import customer_order, customer_order_keys, customers
from gateway.store.types import UTCDateTime

FILTERABLE = frozenset(
    {"email", "phone", "loyaltyCardNumber", "city", "postcode", "region", "country",
     "lifecycleStage", "rfmSegment", "loyaltyTier", "preferredChannel", "language"}
)
SORTABLE = frozenset(
    {"customerSince", "city", "totalSpent", "lastOrderAt", "rfmMonetary",
     "loyaltyPoints", "lastSeenAt"}
)


PROFILING = "profiling"  # the purpose whose product derived values are
_NO_PROFILING = Decision.deny(Code.POLICY_DENIED)  # no profiling purpose configured: none


@dataclass(frozen=True)
class CustomerQuery:
    """A page request: size, cursor, exact-match filters and one sort field."""

    first: int
    after: str | None = None
    filters: tuple[tuple[str, str], ...] = ()
    order_by: str | None = None
    descending: bool = False


@dataclass
class Page:
    """A page of views, where the next one starts, and a lazy count of the whole result."""

    views: list[CustomerView]
    end_cursor: str | None
    has_next_page: bool
    count: Callable[[], int]


def _require_usable(reader: Reader, name: str, how: str) -> None:
    """Refuse a filter or sort on a field the reader may not see in the clear."""
    access = reader.plan.access(name)
    spec = FIELDS_BY_NAME.get(name)
    if not access.allowed or (spec is not None and spec.identifier and access.mode != "raw"):
        raise ServiceError(
            Code.POLICY_DENIED, f"{how} by {name} is not allowed for this purpose", name
        )


# The time a request decides consent expiry at, bound when a statement runs: the statements
# of a plain read are then built once per purpose and reused, since building a select with
# a correlated subquery per subject flag, and its cache key, costs more than running it on SQLite.
_NOW = bindparam("now", type_=UTCDateTime())
_LIMIT = bindparam("limit", type_=Integer())
_AFTER_POSITION = bindparam("after_position", type_=BigInteger())
_CUSTOMER = bindparam("customer", type_=Integer())
_IDS: BindParameter[int] = bindparam("ids", expanding=True)
_STATEMENTS: dict[tuple[int, str], tuple[Purpose, Select[Any]]] = {}

# The reader's own order of customers (DESIGN.md rule 9 and issue 9): a keyed permutation of
# the internal id per app, so two apps' listings cannot be joined row for row. Default-order
# pages read it stored (gateway/profile/order.py); a sort by a field breaks ties with it
# computed (the same values).
_RANK_EXPR = permuted(customers.c.id)
_RANK = _RANK_EXPR.label("_rank")
_POSITION = customer_order.c.position
_CURSOR = struct.Struct(">qq")


def _statement(purpose: Purpose, kind: str, build: Callable[[], Select[Any]]) -> Select[Any]:
    """The `kind` statement of `purpose`, built on first use (keyed by the object itself)."""
    key = (id(purpose), kind)
    found = _STATEMENTS.get(key)
    if found is None or found[0] is not purpose:
        if len(_STATEMENTS) > 1024:  # purposes are reloaded only by tests; keep it bounded
            _STATEMENTS.clear()
        found = _STATEMENTS[key] = (purpose, build())
    return found[1]


def _params(reader: Reader, **more: Any) -> dict[str, Any]:
    return {"now": reader.now, "order_audience": reader.pseudonyms.audience,
            **reader.pseudonyms.order.params(), **more}


def _base(reader: Reader) -> Select[Any]:
    return _statement(reader.plan.purpose, "base", lambda: with_data_key(select(customers, _RANK)))


def _listed(reader: Reader) -> Select[Any]:
    """Every customer the purpose may process (minimisation: a list holds no one else)."""
    purpose = reader.plan.purpose
    return _statement(purpose, "listed", lambda: _base(reader).where(
        subject_allows_listing(customers.c.id, purpose, _NOW)))


def _ordered_all() -> Select[Any]:
    """Every customer in the reader's stored order (bind `order_audience` and the order's
    constants): the customers' rows by primary key, as the order's index range yields them.
    The constants are checked by an uncorrelated EXISTS (evaluated once, not joined)."""
    joined = (customer_order
              .join(customers, customers.c.id == customer_order.c.customer_id)
              .outerjoin(data_keys, data_keys.c.customer_id == customers.c.id))
    return (select(customers, _POSITION.label("_position"), data_keys.c.version.label(KEY_VERSION),
                   data_keys.c.wrapped.label(KEY_WRAPPED))
            .select_from(joined)
            .where(customer_order.c.audience == order.AUDIENCE,
                   exists(select(customer_order_keys.c.audience).where(order.keys_match()))))


_ORDERED_ALL = _ordered_all()


def _ordered(reader: Reader) -> Select[Any]:
    """`_listed` in the reader's stored order, the subject condition probed per row (the
    correlated form: a page visits a few rows, not every customer). The probes name the
    order's own `customer_id` (equal to `customers.id` by the join), so PostgreSQL checks
    them on the order's index scan, before it fetches a customer row: a customer the purpose
    may not process costs its probes only, not a fetch of its (wide) row as well."""
    purpose = reader.plan.purpose
    return _statement(purpose, "ordered", lambda: _ORDERED_ALL.where(
        subject_allows_rows(customer_order.c.customer_id, purpose, _NOW)))


def _flags(purpose: Purpose) -> Select[Any]:
    """The subject flags of the customers `ids`: one lookup per page, an indexed probe per
    customer and flag, rather than flags computed beside the listing's scan (issue 15)."""
    return _statement(purpose, "flags", lambda: select(
        customers.c.id, *page_flag_columns(customers.c.id, purpose, _NOW, _IDS)).where(
        customers.c.id.in_(_IDS)))


def subject_decisions(conn: Connection, purpose: Purpose, now: Any, ids: list[int]) -> dict[int, Decision]:
    """`decide_subject` for `purpose` of each customer in `ids` (absent ids: none)."""
    if not ids:
        return {}
    rows = conn.execute(_flags(purpose), {"now": now, "ids": ids})
    return {row.id: decide_subject(purpose, flags_of(row)) for row in rows}


def _in_order(stmt: Select[Any]) -> Select[Any]:
    return stmt.order_by(_POSITION).limit(_LIMIT)


def _after(stmt: Select[Any]) -> Select[Any]:
    # Keyset paging on (the app's rank, id), one stored column: stable under inserts, and the
    # same for every page.
    return stmt.where(_POSITION > _AFTER_POSITION)


def _first_page(reader: Reader) -> Select[Any]:
    return _statement(reader.plan.purpose, "first", lambda: _in_order(_ordered(reader)))


def _next_page(reader: Reader) -> Select[Any]:
    return _statement(reader.plan.purpose, "next", lambda: _in_order(_after(_ordered(reader))))


def _one(reader: Reader) -> Select[Any]:
    return _statement(reader.plan.purpose, "one",
                      lambda: _base(reader).where(customers.c.id == _CUSTOMER))


def _refuse_sealed(name: str, how: str, field: str) -> None:
    """Identifiers are stored encrypted: only exact matches (blind index) can search them."""
    if COLUMNS.get(name) in SEALED_COLUMNS and (how == "sorting" or COLUMNS[name] not in BLIND):
        raise ServiceError(
            Code.INVALID_INPUT,
            f"{how} by {name} is not possible: it is stored encrypted "
            + ("(exact-match filters only)" if COLUMNS[name] in BLIND else "and cannot be searched"),
            field,
        )


def _search(reader: Reader, query: CustomerQuery) -> list[ColumnElement[bool]]:
    """The conditions of the search beside the purpose's own (`_listed`): the filters, and
    for a filter or sort on a derived value, only customers whose profiling is allowed (the
    others' derived values are withheld, so they must not be found through them either)."""
    conditions: list[ColumnElement[bool]] = []
    used = {name for name, _ in query.filters} | ({query.order_by} if query.order_by else set())
    profiling = _profiling(reader)
    if used & DERIVED and profiling is not reader.plan.purpose:
        conditions.append(subject_allows(customers.c.id, profiling, _NOW) if profiling else false())
    for name, value in query.filters:
        _require_usable(reader, name, "filtering")
        column_name = COLUMNS[name]
        if column_name in BLIND:
            # Exact match on the keyed blind index: no plaintext is stored to compare with.
            kind, index_column = BLIND[column_name]
            digest = reader.vault.blind.digest(kind, value)
            # A blank value matches nobody (`== None` would match everyone without one).
            conditions.append(customers.c[index_column] == digest if digest else false())
            continue
        spec = FIELDS_BY_NAME[name]
        wanted = NORMALIZERS[spec.identifier](value) if spec.identifier else value
        conditions.append(customers.c[column_name] == wanted)
    return conditions


def _cursor_context(reader: Reader, query: CustomerQuery) -> bytes:
    # A cursor is bound to the query shape it was made for, and to the purpose: the purpose
    # decides which customers a filtered or sorted search sees, so a position (an offset)
    # taken in one purpose's result set skipped or repeated customers in another's.
    return json.dumps(
        [reader.plan.purpose.name, query.filters, query.order_by, query.descending]
    ).encode()


def _decode_cursor(reader: Reader, query: CustomerQuery) -> tuple[int, int] | None:
    """The (rank, id) after which a keyset page starts, or (offset, 0) for a sorted one."""
    if query.after is None:
        return None
    try:
        first, second = _CURSOR.unpack(reader.pseudonyms.unseal(query.after, _cursor_context(reader, query)))
    except (InvalidPseudonym, struct.error) as exc:
        raise ServiceError(Code.INVALID_INPUT, "invalid cursor for this query", "after") from exc
    if first < 0 or second < 0:
        raise ServiceError(Code.INVALID_INPUT, "invalid cursor for this query", "after")
    return first, second


def list_customers(conn: Connection, reader: Reader, query: CustomerQuery, wanted: Iterable[str],
                   nested: Mapping[str, tuple[str, ...]] | None = None) -> Page:
    """One page of customers as `reader` may see them, with a lazy count of all matches.

    `nested`: the item keys served of nested lists (a compiled plan's), so that their loaders
    read and build only those; None: every key."""
    if query.order_by is not None:
        if query.order_by not in SORTABLE:
            raise ServiceError(Code.INVALID_INPUT, "unknown sort field", "orderBy")
        # Policy first (as for any field), then the storage's limits: neither depends on data.
        _require_usable(reader, query.order_by, "sorting")
        _refuse_sealed(query.order_by, "sorting", "orderBy")
    for name, _ in query.filters:
        if name not in FILTERABLE:
            raise ServiceError(Code.INVALID_INPUT, f"cannot filter by {name}", "filter")
        _refuse_sealed(name, "filtering", "filter")
    conditions = _search(reader, query)
    search = _listed(reader).where(*conditions)
    position = _decode_cursor(reader, query)
    params = _params(reader, limit=query.first + 1)
    if query.order_by is None:
        if position is not None:
            params.update(after_position=order.position_of(*position))
        if not conditions:
            stmt = _first_page(reader) if position is None else _next_page(reader)
        else:
            ordered = _ordered(reader).where(*conditions)
            stmt = _in_order(ordered if position is None else _after(ordered))
    else:
        # Ties are broken by the app's own rank, never by the internal id: an order shared
        # by all apps would be a join key between their pseudonyms.
        column = customers.c[COLUMNS[query.order_by]]
        direction = column.desc() if query.descending else column.asc()
        offset = position[0] if position else 0
        stmt = (search.order_by(column.is_(None), direction, _RANK, customers.c.id)
                .limit(_LIMIT).offset(offset))
    rows = conn.execute(stmt, params).all()
    if not rows and query.order_by is None and order.ensure(
            conn, reader.pseudonyms.audience, reader.pseudonyms.order):
        rows = conn.execute(stmt, params).all()  # the audience's order was not stored yet
    has_next = len(rows) > query.first
    rows = rows[: query.first]
    # Every listing statement holds the purpose's subject condition (`_listed`, `_ordered`):
    # the rows it returns are the ones `decide_subject` allows, as of that one statement, so
    # their decisions need no second lookup (issue 15, target 5).
    views = _views(conn, reader, rows, tuple(wanted), listed=True, nested=nested)
    end: str | None = None
    if rows:
        last = (order.rank_and_id(rows[-1]._position) if query.order_by is None
                else ((position[0] if position else 0) + len(rows), 0))
        end = reader.pseudonyms.seal(_CURSOR.pack(*last), _cursor_context(reader, query))

    def count() -> int:
        counted = select(func.count()).select_from(search.subquery())
        return int(conn.execute(counted, _params(reader)).scalar_one())

    return Page(views, end, has_next, count)


def get_customer(conn: Connection, reader: Reader, token: str, wanted: Iterable[str]) -> CustomerView:
    """One customer by this reader's pseudonym; `NOT_FOUND` for any id not valid for it."""
    try:
        internal = reader.pseudonyms.resolve_customer(token)
    except InvalidPseudonym as exc:
        raise ServiceError(Code.NOT_FOUND, "no customer with this id", "id") from exc
    row = conn.execute(_one(reader), _params(reader, customer=internal)).first()
    if row is None:
        survivor = merged_into(conn, internal)  # a merged person's old id names the survivor
        if survivor is not None:
            raise MergedError(reader.pseudonyms.customer_id(survivor), "id")
        raise ServiceError(Code.NOT_FOUND, "no customer with this id", "id")
    return _views(conn, reader, [row], tuple(wanted))[0]


def _profiling(reader: Reader) -> Purpose | None:
    return reader.purposes.get(PROFILING)


def _withhold_unprofiled(conn: Connection, reader: Reader, views: list[CustomerView],
                         wanted: tuple[str, ...]) -> None:
    """Withhold derived values of customers whose profiling is not allowed, whatever the
    caller's purpose: segments and scores are the product of profiling (Art. 21-22), so an
    objection or restriction stops them being served at once, not only at the next run."""
    # A derived field the plan withholds is in no view's values: only the allowed ones matter.
    derived = [n for n in wanted if n in DERIVED and reader.plan.access(n).allowed]
    if not derived:
        return
    profiling = _profiling(reader)
    if profiling is reader.plan.purpose:
        return  # the subject decision of the request is this one already
    held = [v for v in views if any(n in v.values for n in derived)]
    if not held:
        return
    decisions: dict[int, Decision] = {}
    if profiling is not None:
        decisions = subject_decisions(conn, profiling, reader.now, [v.internal_id for v in held])
    for view in held:
        decision = decisions.get(view.internal_id, _NO_PROFILING)
        if decision.allowed:
            continue
        code = reader.plan.shown(decision.code)
        for name in derived:
            if name in view.values:
                del view.values[name]
                view.denied[name] = code


def _views(conn: Connection, reader: Reader, rows: Sequence[Any], wanted: tuple[str, ...],
           listed: bool = False, nested: Mapping[str, tuple[str, ...]] | None = None) -> list[CustomerView]:
    """The views of `rows`; `listed`: the rows of a statement that held the purpose's subject
    condition, so each one's decision is the allowing one."""
    if listed:
        views = [build_view(row, ALLOW, wanted, reader) for row in rows]
    else:
        decisions = subject_decisions(conn, reader.plan.purpose, reader.now, [row.id for row in rows])
        views = [build_view(row, decisions[row.id], wanted, reader) for row in rows]
    _withhold_unprofiled(conn, reader, views, wanted)
    for name in NESTED.intersection(wanted):
        ids = [v.internal_id for v in views if name in v.values]
        if ids:
            found = load_nested(conn, name, ids, reader, None if nested is None else nested.get(name))
            for view in views:
                if name in view.values:
                    view.values[name] = found.get(view.internal_id, [])
    return views
