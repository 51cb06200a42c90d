"""Lists related to a customer (orders, interactions, consents, sources), loaded per page.

One query per list and page, never one per customer.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from sqlalchemy import BindParameter, Connection, bindparam, select

from gateway.consent.queries import channel_preferences
from gateway.consent.state import consent_status
from gateway.consent.tables import consent_state
from gateway.policy.codes import Code
from gateway.profile.reader import Reader, cents
from gateway.profile.tables import interactions, orders, source_records

MAX_ITEMS = 50
EXPIRY_REVEALS = "country"  # the catalogued field whose decision a consent's expiry follows  # newest first; the full history is for the data subject's export

# The page's customer ids, expanded at execution: each statement is built (and its cache key
# computed) once per process, not once per request.
_IDS: BindParameter[int] = bindparam("ids", expanding=True)
# Newest first; the id breaks ties of `ordered_at`, so that every statement over orders (all
# columns, or a compiled plan's few) lists a customer's orders in the same order.
_ORDER_OF_ORDERS = (orders.c.customer_id, orders.c.ordered_at.desc(), orders.c.id.desc())
_ORDERS = (
    select(orders.c.customer_id, orders.c.number, orders.c.ordered_at, orders.c.status,
           orders.c.channel, orders.c.item_count, orders.c.total_cents, orders.c.currency)
    .where(orders.c.customer_id.in_(_IDS))
    .order_by(*_ORDER_OF_ORDERS)
)
_INTERACTIONS = (
    select(interactions.c.customer_id, interactions.c.kind, interactions.c.channel,
           interactions.c.device, interactions.c.campaign, interactions.c.occurred_at)
    .where(interactions.c.customer_id.in_(_IDS))
    .order_by(interactions.c.customer_id, interactions.c.occurred_at.desc())
)
_SOURCES = (
    select(source_records.c.customer_id, source_records.c.source, source_records.c.first_seen_at,
           source_records.c.last_seen_at, source_records.c.link_method,
           source_records.c.link_confidence)
    .where(source_records.c.customer_id.in_(_IDS))
    .order_by(source_records.c.customer_id, source_records.c.source)
)


def _grouped(rows: Any) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        items = out[row.customer_id]
        if len(items) < MAX_ITEMS:
            item = dict(row._mapping)
            del item["customer_id"]
            items.append(item)
    return out


def _orders(conn: Connection, ids: list[int], reader: Reader) -> dict[int, list[dict[str, Any]]]:
    # Unpacked as tuples: a page carries hundreds of orders, and a mapping per row costs.
    rows = conn.execute(_ORDERS, {"ids": ids})
    out: dict[int, list[dict[str, Any]]] = {}
    for customer_id, number, at, status, channel, count, total, currency in rows:
        items = out.setdefault(customer_id, [])
        if len(items) < MAX_ITEMS:
            items.append({"number": number, "ordered_at": at, "status": status,
                          "channel": channel, "item_count": count, "currency": currency,
                          "total": cents(total)})
    return out


# An order item's keys (`_orders`) and the columns they come from.
_ORDER_COLUMNS = {"number": orders.c.number, "ordered_at": orders.c.ordered_at,
                  "status": orders.c.status, "channel": orders.c.channel,
                  "item_count": orders.c.item_count, "currency": orders.c.currency,
                  "total": orders.c.total_cents}
_ORDERS_OF: dict[tuple[str, ...], Any] = {}
_MAX_ORDERS_OF = 256  # distinct selections kept (they come from registered documents)


def _orders_of(fields: tuple[str, ...]) -> Any:
    """`_ORDERS` selecting the columns of `fields` only (in the same order of rows)."""
    found = _ORDERS_OF.get(fields)
    if found is None:
        if len(_ORDERS_OF) >= _MAX_ORDERS_OF:
            _ORDERS_OF.clear()  # a bound, not an LRU
        found = _ORDERS_OF[fields] = (
            select(orders.c.customer_id, *(_ORDER_COLUMNS[f] for f in fields))
            .where(orders.c.customer_id.in_(_IDS))
            .order_by(*_ORDER_OF_ORDERS))
    return found


def _orders_selected(conn: Connection, ids: list[int], fields: tuple[str, ...]) -> dict[int, list[dict[str, Any]]]:
    """`_orders` with only the keys `fields` in each item: the same items, in the same order,
    for a caller that knows beforehand which fields it serves (a compiled plan)."""
    rows = conn.execute(_orders_of(fields), {"ids": ids})
    out: dict[int, list[dict[str, Any]]] = {}
    total = fields.index("total") if "total" in fields else -1
    if fields == ("total",):  # the common plan (`orders { total }`): no per-item loop of keys
        for customer_id, cents_value in rows:
            items = out.setdefault(customer_id, [])
            if len(items) < MAX_ITEMS:
                items.append({"total": cents(cents_value)})
        return out
    for row in rows:
        items = out.setdefault(row[0], [])
        if len(items) < MAX_ITEMS:
            values = list(row[1:])
            if total >= 0:
                values[total] = cents(values[total])
            items.append(dict(zip(fields, values, strict=True)))
    return out


def _interactions(conn: Connection, ids: list[int], reader: Reader) -> dict[int, list[dict[str, Any]]]:
    return _grouped(conn.execute(_INTERACTIONS, {"ids": ids}))


def _consents(conn: Connection, ids: list[int], reader: Reader) -> dict[int, list[dict[str, Any]]]:
    """Consent state, for the purposes the reader's role works for (its own purposes) only."""
    cs = consent_state
    purposes = reader.purposes
    rows = conn.execute(
        select(cs.c.customer_id, cs.c.purpose, cs.c.action, cs.c.notice_version,
               cs.c.occurred_at, cs.c.expires_at)
        .where(cs.c.customer_id.in_(ids), cs.c.purpose.in_(sorted(reader.own_purposes)))
        .order_by(cs.c.customer_id, cs.c.purpose)
    )
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    # A grant's expiry follows the term of the notice of the customer's jurisdiction (152-FZ
    # grants expire, GDPR grants need not): it reveals where they live, so it is given only
    # to a reader who may read their location (the field's lineage), withheld otherwise.
    where = reader.plan.access(EXPIRY_REVEALS)
    expiry_code: Code | None = None if where.allowed else where.decision.code
    for row in rows:
        purpose = purposes.get(row.purpose)
        if purpose is None:
            continue
        out[row.customer_id].append({
            "purpose": row.purpose,
            "status": consent_status(row.action, row.notice_version, row.expires_at, purpose, reader.now),
            "notice_version": row.notice_version,
            "updated_at": row.occurred_at,
            "expires_at": row.expires_at if expiry_code is None else expiry_code,
        })
    return out


def _channels(conn: Connection, ids: list[int], reader: Reader) -> dict[int, list[dict[str, Any]]]:
    """Current channel opt-ins and frequency caps, from the preference ledger's state."""
    return channel_preferences(conn, ids)


def _sources(conn: Connection, ids: list[int], reader: Reader) -> dict[int, list[dict[str, Any]]]:
    # The source systems' own ids (cookie ids, CRM numbers) are identifiers: never exposed.
    return _grouped(conn.execute(_SOURCES, {"ids": ids}))


_LOADERS: dict[str, Callable[[Connection, list[int], Reader], dict[int, list[dict[str, Any]]]]] = {
    "orders": _orders,
    "interactions": _interactions,
    "consents": _consents,
    "channels": _channels,
    "sources": _sources,
}


Loader = Callable[[Connection, list[int], Reader], dict[int, list[dict[str, Any]]]]


def register(name: str, loader: Loader) -> None:
    """Add the loader of a list another domain holds (segmentation, scoring register theirs
    when imported: gateway/segmentation/read.py, gateway/scoring/read.py)."""
    _LOADERS[name] = loader


def load_nested(conn: Connection, name: str, ids: list[int], reader: Reader,
                fields: tuple[str, ...] | None = None) -> dict[int, list[dict[str, Any]]]:
    """The `name` list of each customer in `ids`, newest first, at most MAX_ITEMS each.

    `fields`: the item keys the caller serves (a compiled plan knows them); a list that can
    select only those (orders) reads and builds only those, the others ignore it."""
    if (fields is not None and name == "orders" and _LOADERS["orders"] is _orders
            and set(fields) <= _ORDER_COLUMNS.keys()):
        return _orders_selected(conn, ids, fields)
    if name not in _LOADERS:
        # The domains' loaders register on import; the read path must not depend on who
        # imported them first.
        import gateway.scoring.read
        import gateway.segmentation.read  # noqa: F401
    return _LOADERS[name](conn, ids, reader)
