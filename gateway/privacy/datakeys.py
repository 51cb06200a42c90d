"""The data keys one call needs, fetched and unwrapped once each.

The read path gets each row's wrapped key with the row (`gateway.profile.identity.
with_data_key`, opened through `Envelope.opener()`); everything else that seals or opens a
customer's values by customer id (writes, exports, rights, bulk import) asks this cache.
"""

from __future__ import annotations

from collections.abc import Iterable

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, bindparam, select

from gateway.privacy.tables import data_keys
from gateway.privacy.vault import Vault

CHUNK = 5000
_KEYS = select(data_keys.c.customer_id, data_keys.c.version, data_keys.c.wrapped).where(
    data_keys.c.customer_id.in_(bindparam("ids", expanding=True)))


class DataKeys:
    """The data keys of the customers one call writes or reads, unwrapped once each.

    Lives as long as the call (never shared across requests or imports, so a destroyed key is
    not kept alive by a cache). A customer without a key (erased, or never given one) maps to
    None.
    """

    __slots__ = ("_conn", "_keys", "_vault")

    def __init__(self, conn: Connection, vault: Vault) -> None:
        self._conn = conn
        self._vault = vault
        self._keys: dict[int, AESGCM | None] = {}

    def load(self, customer_ids: Iterable[int]) -> None:
        """Fetch and unwrap the keys of `customer_ids` not yet known (one query per chunk)."""
        wanted = sorted({int(i) for i in customer_ids} - self._keys.keys())
        envelope = self._vault.envelope
        for start in range(0, len(wanted), CHUNK):
            chunk = wanted[start:start + CHUNK]
            self._keys.update(dict.fromkeys(chunk))
            for row in self._conn.execute(_KEYS, {"ids": chunk}):
                cid = int(row.customer_id)
                self._keys[cid] = envelope.unwrap(row.wrapped, row.version, cid)

    def add_wrapped(self, customer_id: int, version: int | None, wrapped: bytes | None) -> None:
        """A key row read along with something else (None: the customer has no key)."""
        self._keys[customer_id] = None if wrapped is None or version is None else \
            self._vault.envelope.unwrap(wrapped, version, customer_id)

    def remember(self, customer_id: int, key: AESGCM) -> None:
        """A key this call has just made (no need to unwrap it again)."""
        self._keys[customer_id] = key

    def get(self, customer_id: int) -> AESGCM | None:
        """The data key of `customer_id`, or None when it has none."""
        if customer_id not in self._keys:
            self.load([customer_id])
        return self._keys[customer_id]
