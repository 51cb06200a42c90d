"""A default order of customers made for one audience alone.

A list in internal-id order is the same list for every app: row i of one app's page is row
i of another's, so two apps comparing listings join their per-app pseudonyms (DESIGN.md
rule 3). Each audience therefore gets its own order: a keyed permutation of the internal id,
two rounds of an affine map modulo the Mersenne prime 2^31-1 around a xorshift, with
constants derived from the master key per audience. It is computed by the database from
plain integer arithmetic (SQLite and PostgreSQL alike), so keyset paging works on it; the
constants travel as bound parameters, so one statement serves every app.

The order is not a secret the app could not learn (it sees it), but it is unrelated between
audiences without the master key: two lists ordered for two apps give no row-for-row join.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, bindparam, cast, literal_column

from gateway.privacy.keys import derive_key

PRIME = 2**31 - 1  # ids and constants stay below it, so every product fits in 64 bits
PARAMS = ("order_a1", "order_b1", "order_a2", "order_b2")
_BINDS = {name: bindparam(name, type_=BigInteger()) for name in PARAMS}


@dataclass(frozen=True, slots=True)
class OrderKey:
    """The four constants of one audience's permutation."""

    a1: int
    b1: int
    a2: int
    b2: int

    def params(self) -> dict[str, int]:
        """The bound parameters of `permuted` for this audience."""
        return {"order_a1": self.a1, "order_b1": self.b1, "order_a2": self.a2, "order_b2": self.b2}

    def rank(self, internal_id: int) -> int:
        """The position key of `internal_id` (the Python twin of `permuted`)."""
        v = (internal_id * self.a1 + self.b1) % PRIME
        v = (v | (v >> 16)) - (v & (v >> 16))  # v xor (v >> 16)
        return (v * self.a2 + self.b2) % PRIME


def order_key(master: bytes, audience: str) -> OrderKey:
    """The permutation constants of `audience` (multipliers never 0)."""
    raw = derive_key(master, f"order:{audience}", 16)
    a1, b1, a2, b2 = (int.from_bytes(raw[i:i + 4], "big") % PRIME for i in range(0, 16, 4))
    return OrderKey(a1 or 1, b1, a2 or 1, b2)


def permuted(internal_id: ColumnElement[Any]) -> ColumnElement[int]:
    """The audience's position key of `internal_id`, as SQL (bind `OrderKey.params()`)."""
    v = (cast(internal_id, BigInteger) * _BINDS["order_a1"] + _BINDS["order_b1"]) % PRIME
    shifted = v.op(">>")(literal_column("16"))  # PostgreSQL shifts a bigint by an integer
    mixed = v.op("|")(shifted) - v.op("&")(shifted)
    result: ColumnElement[int] = (mixed * _BINDS["order_a2"] + _BINDS["order_b2"]) % PRIME
    return result
