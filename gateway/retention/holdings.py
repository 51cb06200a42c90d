"""What the gateway stores about a person, unit by unit, with the categories each unit reveals.

The retention job destroys data per purpose: a unit may stay while one purpose that still
has a legal basis covers every category the unit reveals (the same rule a read is decided
on: a field's own category and its lineage, `gateway.profile.fields`). The units come from
the field catalogue, grouped by where they are stored:

- columns of `customers`, grouped by the categories of their fields (a sealed identifier
  goes with its blind index);
- rows of other tables (orders, interactions, source records, computed attributes, scores):
  a row reveals every category of what it holds, so it goes as soon as one of them may no
  longer be kept.

A few catalogue fields are not a unit (`KEPT`), each with its reason: the preference
center's ledger is the proof of the customer's choices and their protection itself, and
some values are not stored at all (computed when asked).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, delete, exists, null, or_, select, update

from gateway.linkage.sections import erase as erase_linkage
from gateway.privacy.vault import Vault
from gateway.profile.fields import COLUMNS, FIELDS_BY_NAME
from gateway.profile.tables import customers, interactions, orders, source_records
from gateway.scoring.tables import customer_scores
from gateway.segmentation.tables import customer_attributes

# (connection, vault, customer id) -> rows changed
Destroyer = Callable[[Connection, Vault, int], int]

# Catalogue fields that are not destroyed per purpose, and why.
KEPT: dict[str, str] = {
    "customerSince": "the record's creation moment: the retention clocks run from it",
    "consents": "the consent ledger: the proof of the customer's choices (legal obligation)",
    "channels": "the channel choices: the customer's own protection, kept while the record is",
    "segments": "not stored: memberships are evaluated when asked",
    "nextBestAction": "not stored: chosen when asked, from the scores and consents",
}

# What a destroyed column becomes: NULL, or a neutral value where the column may not be NULL.
_NEUTRAL: dict[str, Any] = {"order_count": 0, "total_spent_cents": 0}
# A sealed identifier's blind index goes with it (it is a keyed hash of the same value).
_BLIND: dict[str, str] = {"email": "email_bidx", "phone": "phone_bidx", "loyalty_card": "card_bidx"}


@dataclass(frozen=True)
class Holding:
    """One unit of stored personal data: the fields it serves, the categories it reveals."""

    name: str
    fields: tuple[str, ...]
    categories: frozenset[str]
    present: Callable[[Connection, int], bool]  # anything left to destroy for this customer?
    destroy: Destroyer  # destroy it on the caller's transaction; rows changed


def _categories(fields: tuple[str, ...], *extra: str) -> frozenset[str]:
    return frozenset(c for f in fields for c in FIELDS_BY_NAME[f].categories) | frozenset(extra)


def _column_holding(name: str, fields: tuple[str, ...]) -> Holding:
    columns = [COLUMNS[f] for f in fields]
    targets = columns + [_BLIND[c] for c in columns if c in _BLIND]
    c = customers.c
    # A column holds data while it differs from what destruction leaves in it.
    held = or_(*(c[col].is_not(None) if col not in _NEUTRAL else c[col] != _NEUTRAL[col]
                 for col in targets))

    def present(conn: Connection, customer_id: int) -> bool:
        return conn.execute(select(c.id).where(c.id == customer_id, held)).first() is not None

    def destroy(conn: Connection, _vault: Vault, customer_id: int) -> int:
        # SQL NULL even for a JSON column (whose None would be stored as the JSON `null`).
        values = {col: _NEUTRAL.get(col, null()) for col in targets}
        return int(conn.execute(update(customers).where(c.id == customer_id)
                                .values(values)).rowcount or 0)

    return Holding(name, fields, _categories(fields), present, destroy)


def _rows_present(table: Table) -> Callable[[Connection, int], bool]:
    def present(conn: Connection, customer_id: int) -> bool:
        return bool(conn.execute(select(exists().where(table.c.customer_id == customer_id))).scalar())
    return present


def _rows_delete(table: Table) -> Destroyer:
    def destroy(conn: Connection, _vault: Vault, customer_id: int) -> int:
        return int(conn.execute(delete(table).where(table.c.customer_id == customer_id)).rowcount or 0)
    return destroy


def _destroy_sources(conn: Connection, vault: Vault, customer_id: int) -> int:
    """Source records with their linkage keys, links and provenance; orders and interactions
    that came from them stay (they are units of their own) without the link."""
    mine = select(source_records.c.id).where(source_records.c.customer_id == customer_id)
    for table in (orders, interactions):
        conn.execute(update(table).where(table.c.source_record_id.in_(mine))
                     .values(source_record_id=None))
    count = erase_linkage(conn, vault, customer_id)
    return count + _rows_delete(source_records)(conn, vault, customer_id)


def _column_groups() -> list[Holding]:
    groups: dict[tuple[str, ...], list[str]] = {}
    for field in COLUMNS:
        if field in KEPT:
            continue
        groups.setdefault(FIELDS_BY_NAME[field].categories, []).append(field)
    return [_column_holding("profile." + "+".join(cats), tuple(fields))
            for cats, fields in groups.items()]


def _build() -> tuple[Holding, ...]:
    rows = [
        Holding("orders", ("orders",), _categories(("orders",)), _rows_present(orders),
                _rows_delete(orders)),
        Holding("interactions", ("interactions",), _categories(("interactions",)),
                _rows_present(interactions), _rows_delete(interactions)),
        # What each source system sent: names, contacts and addresses, sealed as one document.
        Holding("sources", ("sources",), _categories(("sources",), "contact", "location"),
                _rows_present(source_records), _destroy_sources),
        # One row of facts (purchases, engagement counts and moments) and what is derived
        # from them: it reveals transactions and interactions whichever field reads it.
        Holding("computed_attributes", ("channelAffinity", "loyaltyMilestones", "persona"),
                _categories(("channelAffinity", "loyaltyMilestones", "persona"),
                            "transactions", "interactions"),
                _rows_present(customer_attributes), _rows_delete(customer_attributes)),
        Holding("scores", ("scores",), _categories(("scores",)), _rows_present(customer_scores),
                _rows_delete(customer_scores)),
    ]
    return (*_column_groups(), *rows)


HOLDINGS: tuple[Holding, ...] = _build()
