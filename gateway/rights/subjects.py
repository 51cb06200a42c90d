"""The rights' view of a customer: find one, read every field, change some, forget one.

Identifiers are sealed under the customer's data key and found through blind indexes
(gateway/privacy, gateway/profile/identity.py); this module is the rights' one door to them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, select

from gateway.errors import ServiceError
from gateway.policy.codes import Code
from gateway.privacy.envelope import destroy_data_key
from gateway.privacy.vault import Vault
from gateway.profile.identity import (
    SEALED_COLUMNS,
    find_customer_by,
    read_identity,
    read_sources,
)
from gateway.profile.tables import customers
from gateway.profile.write import update_customer

# The fields a person may have corrected: GraphQL name -> (column, max length of plain ones).
RECTIFIABLE: dict[str, tuple[str, int | None]] = {
    "firstName": ("first_name", None),
    "lastName": ("last_name", None),
    "birthDate": ("birth_date", None),
    "email": ("email", None),
    "phone": ("phone", None),
    "street": ("street", None),
    "city": ("city", 100),
    "postcode": ("postcode", 20),
    "region": ("region", 100),
    "country": ("country", 2),
    "language": ("language", 8),
}
_INTERNAL = ("email_bidx", "phone_bidx", "card_bidx")


@dataclass(frozen=True)
class Person:
    """A customer's internal id, jurisdiction and when they were first known."""

    id: int
    jurisdiction: str
    created_at: datetime


def find_by_id(conn: Connection, customer_id: int) -> Person | None:
    """The customer `customer_id`, or None."""
    c = customers.c
    row = conn.execute(select(c.id, c.jurisdiction, c.created_at).where(c.id == customer_id)).first()
    return Person(int(row.id), str(row.jurisdiction), row.created_at) if row else None


def find_by_email(conn: Connection, vault: Vault, email: str) -> Person | None:
    """The customer with this email address (normalised, through the blind index), or None."""
    found = find_customer_by(conn, vault, "email", email)
    return None if found is None else find_by_id(conn, found)


def read_profile(conn: Connection, vault: Vault, customer_id: int) -> dict[str, Any]:
    """Every field of the golden record in the clear (identifiers opened), by column name."""
    row = conn.execute(select(customers).where(customers.c.id == customer_id)).first()
    identity = read_identity(conn, vault, customer_id)
    if row is None or identity is None:
        raise ServiceError(Code.NOT_FOUND, "no customer with this id", "customerId")
    plain = {k: v for k, v in row._mapping.items() if k not in SEALED_COLUMNS and k not in _INTERNAL}
    return {**plain, **identity}


def read_source_records(conn: Connection, vault: Vault, customer_id: int) -> list[dict[str, Any]]:
    """The customer's source records, attributes opened, without internal columns."""
    drop = ("id", "customer_id", "source_key")
    return [{k: v for k, v in r.items() if k not in drop} for r in read_sources(conn, vault, customer_id)]


def _value(name: str, raw: str) -> Any:
    _column, limit = RECTIFIABLE[name]
    text = raw.strip()
    if name == "birthDate":
        try:
            born = date.fromisoformat(text)
        except ValueError as exc:
            raise ServiceError(Code.INVALID_INPUT, "a date as YYYY-MM-DD", f"fields.{name}") from exc
        if not date(1900, 1, 1) <= born <= date.today():
            raise ServiceError(Code.INVALID_INPUT, "a birth date between 1900 and today", f"fields.{name}")
        return born
    if not text:
        raise ServiceError(Code.INVALID_INPUT, "a correction cannot be blank", f"fields.{name}")
    if limit is not None and len(text) > limit:
        raise ServiceError(Code.INVALID_INPUT, f"at most {limit} characters", f"fields.{name}")
    if name == "country":
        if not (len(text) == 2 and text.isalpha()):
            raise ServiceError(Code.INVALID_INPUT, "an ISO 3166 two-letter code", f"fields.{name}")
        return text.upper()
    return text


def check_changes(changes: list[tuple[str, str]]) -> dict[str, Any]:
    """Validate `changes` (GraphQL field name, new value); the values by field name.

    Identifiers are checked again (format, uniqueness) by the profile's write service.
    """
    if not changes:
        raise ServiceError(Code.INVALID_INPUT, "name at least one field to correct", "fields")
    out: dict[str, Any] = {}
    for name, raw in changes:
        if name not in RECTIFIABLE:
            raise ServiceError(Code.INVALID_INPUT, "this field cannot be rectified", "fields")
        if name in out:
            raise ServiceError(Code.INVALID_INPUT, "a field is named twice", "fields")
        out[name] = _value(name, raw)
    return out


def write_fields(conn: Connection, vault: Vault, customer_id: int, values: dict[str, Any]) -> None:
    """Store validated `values` (GraphQL name -> value) through the profile's write service."""
    update_customer(conn, vault, customer_id, {RECTIFIABLE[n][0]: v for n, v in values.items()})


def destroy_keys(conn: Connection, customer_id: int) -> int:
    """Crypto-shred the customer: destroy their data key (1 if there was one, else 0).

    The blind indexes are columns of the customer row, deleted with it.
    """
    return int(destroy_data_key(conn, customer_id))
