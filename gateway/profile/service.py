"""Reading customer profiles under policy and the subjects' choices.

Every read of the profile (GraphQL, portal, exports, activation) goes through here, so the
rules of DESIGN.md hold on every path: fields by the compiled plan, customers by their own
choices, identifiers by reveal/pseudonymize/mask, and no filter, sort or count over a field
the reader may not use.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Integer, Select, bindparam, false, func, select

from gateway.consent.purposes import Purpose
from gateway.consent.state import flags_of, subject_allows, subject_flag_columns
from gateway.errors import MergedError, ServiceError
from gateway.linkage.aliases import merged_into
from gateway.policy import decide_subject
from gateway.policy.codes import Code
from gateway.privacy.masking import NORMALIZERS
from gateway.privacy.pseudonyms import InvalidPseudonym
from gateway.profile.fields import COLUMNS, FIELDS_BY_NAME, NESTED
from gateway.profile.identity import BLIND, SEALED_COLUMNS, with_data_key
from gateway.profile.nested import load_nested
from gateway.profile.reader import CustomerView, Reader, build_view
from gateway.profile.tables import customers
from gateway.store.types import UTCDateTime

FILTERABLE = frozenset(
    {"email", "phone", "loyaltyCardNumber", "city", "postcode", "region", "country",
     "lifecycleStage", "rfmSegment", "loyaltyTier", "preferredChannel", "language"}
)
SORTABLE = frozenset(
    {"customerSince", "city", "totalSpent", "lastOrderAt", "rfmMonetary",
     "loyaltyPoints", "lastSeenAt"}
)


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
_AFTER = bindparam("after", type_=Integer())
_CUSTOMER = bindparam("customer", type_=Integer())
_STATEMENTS: dict[tuple[int, str], tuple[Purpose, Select[Any]]] = {}


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
    return {"now": reader.now, **more}


def _base(reader: Reader) -> Select[Any]:
    purpose = reader.plan.purpose
    return _statement(purpose, "base", lambda: with_data_key(
        select(customers, *subject_flag_columns(customers.c.id, purpose, _NOW))
    ))


def _first_page(reader: Reader) -> Select[Any]:
    return _statement(reader.plan.purpose, "first",
                      lambda: _base(reader).order_by(customers.c.id).limit(_LIMIT))


def _next_page(reader: Reader) -> Select[Any]:
    # Keyset paging on the primary key: stable under inserts.
    return _statement(reader.plan.purpose, "next", lambda: _base(reader).where(
        customers.c.id > _AFTER).order_by(customers.c.id).limit(_LIMIT))


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


def _search(reader: Reader, query: CustomerQuery) -> Select[Any]:
    """The filtered statement, before paging. Filters and sorts see only allowed subjects."""
    stmt = _base(reader)
    if query.filters or query.order_by:
        # A search must not tell apart customers whose data the purpose may not use.
        stmt = stmt.where(subject_allows(customers.c.id, reader.plan.purpose, _NOW))
    for name, value in query.filters:
        _require_usable(reader, name, "filtering")
        column_name = COLUMNS[name]
        if column_name in BLIND:
            # Exact match on the keyed blind index: no plaintext is stored to compare with.
            kind, index_column = BLIND[column_name]
            digest = reader.vault.blind.digest(kind, value)
            # A blank value matches nobody (`== None` would match everyone without one).
            stmt = stmt.where(customers.c[index_column] == digest if digest else false())
            continue
        spec = FIELDS_BY_NAME[name]
        wanted = NORMALIZERS[spec.identifier](value) if spec.identifier else value
        stmt = stmt.where(customers.c[column_name] == wanted)
    return stmt


def _cursor_context(reader: Reader, query: CustomerQuery) -> bytes:
    # A cursor is bound to the query shape it was made for, and to the purpose: the purpose
    # decides which customers a filtered or sorted search sees, so a position (an offset)
    # taken in one purpose's result set skipped or repeated customers in another's.
    return json.dumps(
        [reader.plan.purpose.name, query.filters, query.order_by, query.descending]
    ).encode()


def _decode_cursor(reader: Reader, query: CustomerQuery) -> int | None:
    if query.after is None:
        return None
    try:
        value = json.loads(reader.pseudonyms.unseal(query.after, _cursor_context(reader, query)))
    except (InvalidPseudonym, ValueError) as exc:
        raise ServiceError(Code.INVALID_INPUT, "invalid cursor for this query", "after") from exc
    if not isinstance(value, int) or value < 0:
        raise ServiceError(Code.INVALID_INPUT, "invalid cursor for this query", "after")
    return value


def list_customers(conn: Connection, reader: Reader, query: CustomerQuery, wanted: Iterable[str]) -> Page:
    """One page of customers as `reader` may see them, with a lazy count of all matches."""
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
    search = _search(reader, query)
    position = _decode_cursor(reader, query)
    params = _params(reader, limit=query.first + 1, after=position)
    if query.order_by is None and not query.filters:
        stmt = _first_page(reader) if position is None else _next_page(reader)
    elif query.order_by is None:
        stmt = search.order_by(customers.c.id).limit(_LIMIT)
        if position is not None:
            stmt = stmt.where(customers.c.id > _AFTER)
    else:
        column = customers.c[COLUMNS[query.order_by]]
        direction = column.desc() if query.descending else column.asc()
        stmt = (search.order_by(column.is_(None), direction, customers.c.id)
                .limit(_LIMIT).offset(position or 0))
    rows = conn.execute(stmt, params).all()
    has_next = len(rows) > query.first
    rows = rows[: query.first]
    views = _views(conn, reader, rows, tuple(wanted))
    end: str | None = None
    if rows:
        last = rows[-1].id if query.order_by is None else (position or 0) + len(rows)
        end = reader.pseudonyms.seal(json.dumps(last).encode(), _cursor_context(reader, query))

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


def _views(conn: Connection, reader: Reader, rows: Sequence[Any], wanted: tuple[str, ...]) -> list[CustomerView]:
    purpose = reader.plan.purpose
    views = [build_view(row, decide_subject(purpose, flags_of(row)), wanted, reader) for row in rows]
    for name in NESTED.intersection(wanted):
        ids = [v.internal_id for v in views if name in v.values]
        if ids:
            found = load_nested(conn, name, ids, reader)
            for view in views:
                if name in view.values:
                    view.values[name] = found.get(view.internal_id, [])
    return views
