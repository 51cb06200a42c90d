"""Writing customers: every write of a profile seals its identifiers and indexes them.

The demo seed, the `customers add` command, the tests and the rights workflows (rectify)
all write through here, so no path stores an identifier in plaintext.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, insert, update

from gateway.errors import ServiceError
from gateway.policy.codes import Code
from gateway.privacy.blind import normalize_phone_e164
from gateway.privacy.datakeys import DataKeys
from gateway.privacy.envelope import store_data_keys
from gateway.privacy.masking import normalize_email
from gateway.privacy.vault import Vault
from gateway.profile.identity import SEALED_COLUMNS, find_customers_by, seal_customer, seal_source
from gateway.profile.tables import customers, source_records
from gateway.store.types import utcnow

_WRITABLE = frozenset(c.name for c in customers.columns) - {"email_bidx", "phone_bidx", "card_bidx"}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_LIMITS = {"first_name": 100, "last_name": 100, "street": 200, "loyalty_card": 32}
JURISDICTIONS = frozenset({"gdpr", "152-fz"})


def _bad(field: str, message: str) -> ServiceError:
    # Messages never repeat the value: it is personal data.
    return ServiceError(Code.INVALID_INPUT, message, field)


def validate(values: Mapping[str, Any]) -> dict[str, Any]:
    """`values` checked and normalized (email lower-cased, phone E.164-ish); INVALID_INPUT else."""
    unknown = set(values) - _WRITABLE
    if unknown:
        first = min(unknown)
        raise _bad(first, f"unknown customer attribute {first}")
    out = dict(values)
    for column, limit in _LIMITS.items():
        value = out.get(column)
        if value is None:
            continue
        if not isinstance(value, str) or not value.strip() or _CONTROL.search(value):
            raise _bad(column, f"{column} must be non-blank text without control characters")
        if len(value) > limit:
            raise _bad(column, f"{column} must be at most {limit} characters")
        out[column] = value.strip()
    if out.get("email") is not None:
        email = normalize_email(str(out["email"]))
        if len(email) > 254 or not _EMAIL.match(email):
            raise _bad("email", "email must be an address like name@example.com")
        out["email"] = email
    if out.get("phone") is not None:
        phone = normalize_phone_e164(str(out["phone"]))
        if not phone.startswith("+") or not 8 <= len(phone) - 1 <= 15:
            raise _bad("phone", "phone must be international, + then 8 to 15 digits (e.g. +447700900123)")
        out["phone"] = phone
    birth = out.get("birth_date")
    if birth is not None and not isinstance(birth, date):
        raise _bad("birth_date", "birth_date must be a date")
    if out.get("jurisdiction") is not None and out["jurisdiction"] not in JURISDICTIONS:
        raise _bad("jurisdiction", f"jurisdiction must be one of {sorted(JURISDICTIONS)}")
    return out


def _defaults(values: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    row = {"created_at": now, "updated_at": now, "jurisdiction": "gdpr", "order_count": 0,
           "total_spent_cents": 0}
    row.update({k: v for k, v in values.items() if v is not None or k not in row})
    return row


def _refuse_taken_email(conn: Connection, vault: Vault, email: str | None, customer_id: int | None = None) -> None:
    if email is not None and set(find_customers_by(conn, vault, "email", email)) - {customer_id}:
        raise _bad("email", "another customer already has this email address")


def create_customer(conn: Connection, vault: Vault, values: Mapping[str, Any], *,
                    now: datetime | None = None) -> int:
    """Insert one customer from column values (identifiers in plaintext); its internal id.

    Validates (INVALID_INPUT, nothing written), seals the identifiers under a new data key,
    fills the blind indexes and stores the wrapped key, all on `conn` (the caller's
    transaction, so the caller's audit entry commits with it).
    """
    row = validate(values)
    _refuse_taken_email(conn, vault, row.get("email"))
    plain = {k: v for k, v in _defaults(row, now or utcnow()).items() if k not in SEALED_COLUMNS}
    plain.pop("id", None)
    cid = int(conn.execute(insert(customers).values(**plain).returning(customers.c.id)).scalar_one())
    key, key_row = vault.envelope.new_data_key(cid)
    store_data_keys(conn, [key_row])
    sealed = seal_customer(vault, key, cid, {k: v for k, v in row.items() if k in SEALED_COLUMNS})
    if sealed:
        conn.execute(update(customers).where(customers.c.id == cid).values(**sealed))
    return cid


def add_customers(conn: Connection, vault: Vault, rows: Sequence[Mapping[str, Any]]) -> dict[int, AESGCM]:
    """Insert customers with explicit ids in one batch (the demo seed); their data keys by id.

    The rows are trusted generated data (not validated one by one); identifiers are sealed
    and indexed exactly as `create_customer` does.
    """
    keys: dict[int, AESGCM] = {}
    key_rows: list[dict[str, Any]] = []
    sealed_rows: list[dict[str, Any]] = []
    for values in rows:
        cid = int(values["id"])
        key, key_row = vault.envelope.new_data_key(cid)
        keys[cid] = key
        key_rows.append(key_row)
        sealed_rows.append(seal_customer(vault, key, cid, values))
    if sealed_rows:
        conn.execute(insert(customers), sealed_rows)
        store_data_keys(conn, key_rows)
    return keys


def data_key(conn: Connection, vault: Vault, customer_id: int) -> AESGCM:
    """The data key of `customer_id`; NOT_FOUND when there is none (unknown or erased)."""
    key = DataKeys(conn, vault).get(customer_id)
    if key is None:
        raise ServiceError(Code.NOT_FOUND, "no customer with this id", "customerId")
    return key


def update_customer(conn: Connection, vault: Vault, customer_id: int, changes: Mapping[str, Any], *,
                    now: datetime | None = None) -> list[str]:
    """Change columns of `customer_id` (identifiers in plaintext); the columns written.

    For rectification: validates like `create_customer`, re-seals changed identifiers
    under the customer's data key and updates their blind indexes. NOT_FOUND for an unknown
    or erased customer. The caller records who changed what (audit) in the same transaction.
    """
    row = validate(changes)
    row.pop("id", None)
    key = data_key(conn, vault, customer_id)
    _refuse_taken_email(conn, vault, row.get("email"), customer_id)
    sealed = seal_customer(vault, key, customer_id, row)
    sealed["updated_at"] = now or utcnow()
    conn.execute(update(customers).where(customers.c.id == customer_id).values(**sealed))
    return sorted(row)


def source_row(vault: Vault, key: AESGCM, values: Mapping[str, Any]) -> dict[str, Any]:
    """A `source_records` row from `values` holding the raw `source_id` and `attributes`."""
    row = dict(values)
    cid = int(row["customer_id"])
    source_key = vault.blind.digest("source", str(row.pop("source_id")))
    if source_key is None:
        raise _bad("source_id", "source_id must not be blank")
    row["source_key"] = source_key
    row["attributes"] = seal_source(key, cid, str(row["source"]), source_key, row["attributes"])
    return row


def add_source_records(conn: Connection, vault: Vault, records: Sequence[Mapping[str, Any]],
                       keys: Mapping[int, AESGCM] | None = None) -> None:
    """Insert source records (raw `source_id`, plain `attributes`), sealed per customer.

    `keys` may hold the customers' data keys (as `add_customers` returns them); the others
    are unwrapped from the database.
    """
    known = dict(keys or {})
    missing = DataKeys(conn, vault)
    missing.load(int(r["customer_id"]) for r in records if int(r["customer_id"]) not in known)
    rows = []
    for record in records:
        cid = int(record["customer_id"])
        key = known.get(cid) or missing.get(cid)
        if key is None:
            raise ServiceError(Code.NOT_FOUND, "no customer with this id", "customerId")
        rows.append(source_row(vault, key, record))
    if rows:
        conn.execute(insert(source_records), rows)
