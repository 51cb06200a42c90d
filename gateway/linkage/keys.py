"""Blocking and matching keys of a record, as blind-index digests (stored) or in memory.

A key combines what two records of one person most likely share (an email, a phone's
subscriber digits, a card, a formal first name with a surname skeleton and a birth date...).
Stored only as keyed HMAC digests (`linkage_keys`), so the database can find the candidate
persons of a new record by equality without holding any identifier.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.privacy.vault import Vault

# kind -> the prepared columns (gateway/linkage/prepare.py) the key joins; all must be set.
KEY_COLUMNS: dict[str, tuple[str, ...]] = {
    "email": ("email",),
    "phone": ("phone_tail",),
    "card": ("card",),
    "name": ("fn_formal", "ln_sk"),
    "name_dob": ("fn_formal", "dob"),
    "surname_dob": ("ln_sk", "dob"),
    "dob_postcode": ("dob", "postcode"),
    "surname_pc": ("ln_sk", "postcode"),
    "address": ("street", "hn", "postcode"),
}
# Keys lawful for exact-only matching (a customer who objected to identity resolution, a
# source without a basis for probabilistic matching): an identifier the person gave that
# identifies them alone, compared for equality only.
EXACT_KINDS = ("card", "email")


def key_values(row: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(kind, value) for each key whose columns are all set in a prepared row."""
    out = []
    for kind, columns in KEY_COLUMNS.items():
        parts = [row.get(c) for c in columns]
        if all(isinstance(p, str) and p for p in parts):
            out.append((kind, "|".join(str(p) for p in parts)))
    return out


def digests(vault: Vault, row: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(kind, blind-index digest) of each key of a prepared row."""
    out = []
    for kind, value in key_values(row):
        digest = vault.blind.digest("linkage", f"{kind}:{value}")
        if digest is not None:
            out.append((kind, digest))
    return out
