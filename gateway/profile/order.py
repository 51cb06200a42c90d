"""Each audience's default order of customers, stored so that a page is an index range.

The order is `gateway.privacy.ordering`'s keyed permutation of the internal id, one per
audience (two apps' listings must not be joinable row for row, DESIGN.md rule 3). Computed
per statement, it ranked and sorted the whole customers table on every page (about 58% of a
compiled read's time, issue 15). It is now stored: `customer_order` holds, per audience, one
row per customer at position = rank * 2^31 + id (ids and ranks stay below 2^31), so the
(rank, id) order is the order of one primary-key column, and a page is the range
`audience = ? AND position > ? ORDER BY position LIMIT n`.

Kept by the database: a trigger on `customers` ranks each new customer for every stored
audience (from the constants in `customer_order_keys`), and a deleted customer (erased,
merged away) takes its rows along (cascade). An audience is stored the first time one of
its pages comes back empty while its constants are missing or differ from those derived
now (a new app, a database migrated from before, another master key): `ensure` stores the
constants and ranks every customer in the reading transaction, then the page is read again.
The positions are the values the computed order gave, so cursors made before stay valid.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    bindparam,
    delete,
    insert,
    literal,
    select,
    text,
)

from gateway.privacy.ordering import OrderKey, permuted
from gateway.profile.tables import customer_order, customer_order_keys, customers

SHIFT = 2**31  # position = rank * SHIFT + id
_ID_MASK = SHIFT - 1
AUDIENCE = bindparam("order_audience", type_=customer_order_keys.c.audience.type)
# Set on the connection's info by `ensure` when it wrote: a read that stored its app's order
# must commit that write (with its own audit entry), not roll it back as reads do, or every
# later page of the app would rebuild the whole order again (`stored_during`).
_WROTE = "gateway.profile.order.stored"


def position_of(rank: int, internal_id: int) -> int:
    """The stored position of (rank, id)."""
    return rank * SHIFT + internal_id


def rank_and_id(position: int) -> tuple[int, int]:
    """The (rank, id) of a stored position."""
    return position >> 31, position & _ID_MASK


def keys_match() -> ColumnElement[bool]:
    """The audience's stored constants are the ones bound (`OrderKey.params()`): a page read
    through them is empty, never in another order, when they are missing or stale."""
    k = customer_order_keys.c
    return (k.audience == AUDIENCE) & (k.a1 == bindparam("order_a1", type_=BigInteger())) \
        & (k.b1 == bindparam("order_b1", type_=BigInteger())) \
        & (k.a2 == bindparam("order_a2", type_=BigInteger())) \
        & (k.b2 == bindparam("order_b2", type_=BigInteger()))


def ensure(conn: Connection, audience: str, key: OrderKey) -> bool:
    """Store `audience`'s order if it is missing or made with other constants; True if it
    was (re)built (the caller reads its page again)."""
    k = customer_order_keys.c
    found = conn.execute(select(k.a1, k.b1, k.a2, k.b2).where(k.audience == audience)).first()
    if found is not None and tuple(found) == (key.a1, key.b1, key.a2, key.b2):
        return False
    if conn.dialect.name == "postgresql":
        # Customers inserted meanwhile would be ranked by neither this statement (not yet
        # visible) nor the trigger (constants not yet visible): hold inserts until commit.
        conn.execute(text("LOCK TABLE customers IN SHARE ROW EXCLUSIVE MODE"))
    conn.execute(delete(customer_order_keys).where(k.audience == audience))
    conn.execute(delete(customer_order).where(customer_order.c.audience == audience))
    conn.execute(insert(customer_order_keys).values(
        audience=audience, a1=key.a1, b1=key.b1, a2=key.a2, b2=key.b2))
    ranked = select(literal(audience, customer_order.c.audience.type),
                    permuted(customers.c.id) * SHIFT + customers.c.id, customers.c.id)
    conn.execute(insert(customer_order).from_select(
        ["audience", "position", "customer_id"], ranked), key.params())
    if conn.dialect.name == "postgresql":
        # Statistics now, not at autovacuum's next pass: without them the planner takes the
        # new audience for a few rows and sorts all of its customers instead of walking the
        # index (112 ms for 2,000 customers, where the walk takes 1).
        conn.execute(text("ANALYZE customer_order"))
    conn.info[_WROTE] = True
    return True


def stored_during(conn: Connection) -> bool:
    """True once after `ensure` stored an order on `conn` (the flag is cleared): the caller's
    transaction holds that write and must be committed, not rolled back."""
    return bool(conn.info.pop(_WROTE, False))
