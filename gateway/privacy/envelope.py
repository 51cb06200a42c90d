"""Envelope encryption: one AES-256-GCM data key per customer, wrapped by a master key version.

A sealed value is `b"\\x01" + nonce (12 bytes) + ciphertext + tag`. Its associated data names
the table, the column and the owner (customer id, or a source record's key), so a ciphertext
copied into another row or column fails to open instead of showing someone else's data. A
wrapped data key is bound the same way to its customer and to the master key version.
"""

from __future__ import annotations

import os
from datetime import date

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, delete, insert

from gateway.privacy.keyring import Keyring
from gateway.privacy.tables import data_keys
from gateway.store.types import utcnow

FORMAT = b"\x01"
NONCE_BYTES = 12
DATA_KEY_BYTES = 32


class SealedValueError(RuntimeError):
    """A sealed value or wrapped key does not open: tampered, swapped or under another key."""


def _wrap_aad(customer_id: int, version: int) -> bytes:
    return f"data-key:{customer_id}:v{version}".encode()


def field_aad(table: str, column: str, owner: int | str) -> bytes:
    """What a sealed value is bound to: its table, its column and the row's owner."""
    return f"{table}:{column}:{owner}".encode()


def seal(key: AESGCM, aad: bytes, plaintext: str) -> bytes:
    """Encrypt `plaintext` under a data key, bound to `aad` (see `field_aad`)."""
    nonce = os.urandom(NONCE_BYTES)
    return FORMAT + nonce + key.encrypt(nonce, plaintext.encode(), aad)


def unseal(key: AESGCM, aad: bytes, blob: bytes) -> str:
    """The plaintext of a value made by `seal` with the same key and `aad`."""
    if blob[:1] != FORMAT:
        raise SealedValueError("not a sealed value of a known format")
    try:
        return key.decrypt(blob[1:1 + NONCE_BYTES], blob[1 + NONCE_BYTES:], aad).decode()
    except InvalidTag as exc:
        raise SealedValueError("a sealed value does not open under its row's data key") from exc


class Envelope:
    """Makes, wraps, unwraps and re-wraps data keys under the keyring's versions."""

    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring

    @property
    def current_version(self) -> int:
        """The master key version new data keys are wrapped under."""
        return self.keyring.current

    def wrap(self, data_key: bytes, customer_id: int, version: int | None = None) -> tuple[bytes, int]:
        """`data_key` wrapped for `customer_id` under `version` (default: current); and the version."""
        version = self.keyring.current if version is None else version
        nonce = os.urandom(NONCE_BYTES)
        kek = self.keyring.kek(version)
        return nonce + kek.encrypt(nonce, data_key, _wrap_aad(customer_id, version)), version

    def unwrap_bytes(self, wrapped: bytes, version: int, customer_id: int) -> bytes:
        """The raw data key of `customer_id`."""
        try:
            return self.keyring.kek(version).decrypt(
                wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], _wrap_aad(customer_id, version)
            )
        except InvalidTag as exc:
            raise SealedValueError("a data key does not unwrap under its master key version") from exc

    def unwrap(self, wrapped: bytes, version: int, customer_id: int) -> AESGCM:
        """The data key of `customer_id`, ready to open its values."""
        return AESGCM(self.unwrap_bytes(wrapped, version, customer_id))

    def rewrap(self, wrapped: bytes, version: int, customer_id: int, to: int) -> bytes:
        """The same data key, wrapped under master key version `to` instead."""
        return self.wrap(self.unwrap_bytes(wrapped, version, customer_id), customer_id, to)[0]

    def new_data_key(self, customer_id: int) -> tuple[AESGCM, dict[str, object]]:
        """A fresh data key for `customer_id` and its `data_keys` row (not yet inserted)."""
        raw = AESGCM.generate_key(bit_length=DATA_KEY_BYTES * 8)
        wrapped, version = self.wrap(raw, customer_id)
        row = {"customer_id": customer_id, "version": version, "wrapped": wrapped,
               "created_at": utcnow(), "rotated_at": None}
        return AESGCM(raw), row

    def opener(self) -> Opener:
        """A per-request cache of unwrapped data keys."""
        return Opener(self)


class Opener:
    """Opens sealed values during one request: one unwrap per customer, however many fields.

    Lives as long as the request (never shared across requests, so a destroyed key is not
    kept alive by a cache).
    """

    __slots__ = ("_envelope", "_keys")

    def __init__(self, envelope: Envelope) -> None:
        self._envelope = envelope
        self._keys: dict[int, AESGCM | None] = {}

    def key(self, customer_id: int, wrapped: bytes | None, version: int | None) -> AESGCM | None:
        """The data key of `customer_id`; None when it was destroyed (the values are gone)."""
        try:
            return self._keys[customer_id]
        except KeyError:
            key = None
            if wrapped is not None and version is not None:
                key = self._envelope.unwrap(wrapped, version, customer_id)
            self._keys[customer_id] = key
            return key

    def open_text(self, customer_id: int, wrapped: bytes | None, version: int | None,
                  aad: bytes, blob: bytes | None) -> str | None:
        """The plaintext of one sealed value of `customer_id`; None if absent or shredded."""
        if blob is None:
            return None
        key = self.key(customer_id, wrapped, version)
        return None if key is None else unseal(key, aad, blob)


def to_text(value: object) -> str:
    """How a typed value is sealed: dates as ISO text, everything else as its string."""
    return value.isoformat() if isinstance(value, date) else str(value)


def store_data_keys(conn: Connection, rows: list[dict[str, object]]) -> None:
    """Insert `data_keys` rows made by `Envelope.new_data_key`."""
    if rows:
        conn.execute(insert(data_keys), rows)


def destroy_data_key(conn: Connection, customer_id: int) -> bool:
    """Crypto-shred `customer_id`: delete their data key; True if there was one.

    Every value sealed under it (columns, source records, any copy in backups) is unreadable
    from then on. Idempotent: a second call, or an unknown customer, returns False.
    """
    result = conn.execute(delete(data_keys).where(data_keys.c.customer_id == customer_id))
    return bool(result.rowcount)
