"""The sealed columns of the profile: how they are sealed, opened, indexed and looked up.

Every write of a direct identifier goes through `seal_customer` (gateway/profile/write.py),
every read through `open_column` (the reader) or `read_identity` (exports, rights), and
every exact lookup through `find_customer_by`: no code path sees these columns otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, Select, select

from gateway.errors import ServiceError
from gateway.policy.codes import Code
from gateway.privacy.datakeys import DataKeys
from gateway.privacy.envelope import Opener, field_aad, seal, to_text, unseal
from gateway.privacy.tables import data_keys
from gateway.privacy.vault import Vault
from gateway.profile.tables import customers, source_records

# Column -> the Python type it reads back as.
SEALED: dict[str, type] = {
    "first_name": str, "last_name": str, "birth_date": date, "loyalty_card": str,
    "email": str, "phone": str, "street": str,
}
SEALED_COLUMNS = frozenset(SEALED)
# Column -> (blind index kind, blind index column).
BLIND: dict[str, tuple[str, str]] = {
    "email": ("email", "email_bidx"), "phone": ("phone", "phone_bidx"),
    "loyalty_card": ("card", "card_bidx"),
}
BLIND_COLUMN_OF_KIND = {kind: column for kind, column in BLIND.values()}
# Labels under which a profile row carries its wrapped data key (see `with_data_key`).
KEY_VERSION = "dk_version"
KEY_WRAPPED = "dk_wrapped"


def customer_aad(customer_id: int, column: str) -> bytes:
    """The associated data of one sealed column of one customer."""
    return field_aad("customers", column, customer_id)


def seal_customer(vault: Vault, key: AESGCM, customer_id: int, values: Mapping[str, Any]) -> dict[str, Any]:
    """`values` (columns of `customers`) with identifiers sealed and blind indexes added.

    Only the sealed columns present in `values` are touched; None stays None (and clears
    the blind index).
    """
    row = dict(values)
    for column in SEALED_COLUMNS.intersection(values):
        value = values[column]
        row[column] = None if value is None else seal(key, customer_aad(customer_id, column), to_text(value))
        if column in BLIND:
            kind, index_column = BLIND[column]
            row[index_column] = vault.blind.digest(kind, None if value is None else str(value))
    return row


def _typed(column: str, text: str) -> Any:
    return date.fromisoformat(text) if SEALED[column] is date else text


def with_data_key(stmt: Select[Any]) -> Select[Any]:
    """`stmt` (over `customers`) with each row's wrapped data key, for `open_column`."""
    return stmt.add_columns(
        data_keys.c.version.label(KEY_VERSION), data_keys.c.wrapped.label(KEY_WRAPPED)
    ).outerjoin(data_keys, data_keys.c.customer_id == customers.c.id)


def open_column(opener: Opener, row: Any, column: str) -> Any:
    """The plaintext of sealed `column` of a row selected `with_data_key`; None if shredded."""
    mapping = row._mapping
    blob = mapping[column]
    if blob is None:
        return None
    cid = row.id
    text = opener.open_text(cid, mapping[KEY_WRAPPED], mapping[KEY_VERSION],
                            customer_aad(cid, column), blob)
    return None if text is None else _typed(column, text)


_AAD_PREFIX = {column: f"customers:{column}:".encode() for column in SEALED}  # customer_aad's
_DATES = frozenset(column for column, kind in SEALED.items() if kind is date)


def open_blob(key: AESGCM, column: str, owner: bytes, blob: bytes) -> Any:
    """Sealed `column` of the customer whose id is `owner` (ASCII digits), opened under their
    data key `key` already unwrapped: `open_column`'s result, for a caller that opens several
    columns of one row (the read path's per-field loop, gateway/profile/reader.py)."""
    text = unseal(key, _AAD_PREFIX[column] + owner, blob)
    return date.fromisoformat(text) if column in _DATES else text


def read_identity(conn: Connection, vault: Vault, customer_id: int) -> dict[str, Any] | None:
    """Every sealed column of `customer_id` in plaintext (None where shredded or unset).

    None when there is no such customer. For exports and rights workflows, which decide
    themselves what they may show.
    """
    row = conn.execute(
        with_data_key(select(customers.c.id, *(customers.c[c] for c in SEALED)))
        .where(customers.c.id == customer_id)
    ).first()
    if row is None:
        return None
    opener = vault.envelope.opener()
    return {column: open_column(opener, row, column) for column in SEALED}


def find_customers_by(conn: Connection, vault: Vault, kind: str, value: str) -> list[int]:
    """Ids of the customers whose `kind` (email, phone, card) equals `value` once normalized.

    Exact match through the blind index; INVALID_INPUT for an unknown kind.
    """
    column = BLIND_COLUMN_OF_KIND.get(kind)
    if column is None:
        raise ServiceError(
            Code.INVALID_INPUT, f"customers can be found by {', '.join(sorted(BLIND_COLUMN_OF_KIND))}",
            "kind",
        )
    digest = vault.blind.digest(kind, value)
    if digest is None:
        return []
    stmt = select(customers.c.id).where(customers.c[column] == digest).order_by(customers.c.id)
    return [int(i) for i in conn.execute(stmt).scalars()]


def find_customer_by(conn: Connection, vault: Vault, kind: str, value: str) -> int | None:
    """The one customer whose `kind` equals `value` (exact, normalized), or None.

    Email is unique; a phone or card shared by several customers is INVALID_INPUT (the
    message says to use a more specific identifier), never an arbitrary pick.
    """
    found = find_customers_by(conn, vault, kind, value)
    if len(found) > 1:
        raise ServiceError(
            Code.INVALID_INPUT, f"several customers share this {kind}; look them up by email", kind
        )
    return found[0] if found else None


def source_aad(customer_id: int, source: str, source_key: str) -> bytes:
    """The associated data of a source record's attributes."""
    return field_aad("source_records", "attributes", f"{customer_id}:{source}:{source_key}")


def seal_source(key: AESGCM, customer_id: int, source: str, source_key: str,
                attributes: Mapping[str, Any]) -> bytes:
    """A source record's attributes (JSON) sealed under its customer's data key."""
    text = json.dumps(dict(attributes), sort_keys=True, default=to_text, ensure_ascii=False)
    return seal(key, source_aad(customer_id, source, source_key), text)


def open_source(key: AESGCM, customer_id: int, source: str, source_key: str, blob: bytes) -> dict[str, Any]:
    """The attributes sealed by `seal_source`."""
    value = json.loads(unseal(key, source_aad(customer_id, source, source_key), blob))
    assert isinstance(value, dict)
    return value


def read_sources(conn: Connection, vault: Vault, customer_id: int) -> list[dict[str, Any]]:
    """The customer's source records with their attributes opened (empty if shredded)."""
    s = source_records
    key = DataKeys(conn, vault).get(customer_id)
    rows = conn.execute(select(s).where(s.c.customer_id == customer_id).order_by(s.c.id)).all()
    out = []
    for row in rows:
        item = dict(row._mapping)
        item["attributes"] = (
            {} if key is None else open_source(key, customer_id, row.source, row.source_key, row.attributes)
        )
        out.append(item)
    return out
