"""Evidence sealed at rest: the free text of a ledger event under its customer's data key.

`evidence` (a form id, a call-center agent's remark) may name the person, so it is stored
like the profile's identifiers (gateway/privacy/envelope.py): AES-GCM under the customer's
data key, bound to the table, the column and the customer. An erasure destroys the key, and
every copy of the text (the row, a backup, a dump) is unreadable from then on.

Writers fetch each customer's key once per call (`gateway.privacy.datakeys.DataKeys`): the
bulk import unwraps one key per customer per import, not one per row.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gateway.errors import ServiceError
from gateway.policy.codes import Code
from gateway.privacy.datakeys import DataKeys
from gateway.privacy.envelope import field_aad, seal, unseal


def evidence_aad(table: str, customer_id: int) -> bytes:
    """What a sealed evidence is bound to: its ledger table, the column and the customer."""
    return field_aad(table, "evidence", customer_id)


def seal_evidence(keys: DataKeys, table: str, customer_id: int, text: str | None) -> bytes | None:
    """`text` sealed for `customer_id`'s event in `table`; None stays None.

    A customer without a data key cannot hold sealed text: INVALID_INPUT on `evidence` (every
    customer made by the write service has a key; an erased one has no row either).
    """
    if text is None:
        return None
    key = keys.get(customer_id)
    if key is None:
        raise ServiceError(Code.INVALID_INPUT, "evidence cannot be stored for this customer (no data key)",
                           "evidence")
    return seal(key, evidence_aad(table, customer_id), text)


def open_evidence(keys: DataKeys, table: str, customer_id: int | None, blob: bytes | None) -> str | None:
    """The plaintext of a sealed evidence; None when absent or its key was destroyed."""
    if blob is None or customer_id is None:
        return None
    key = keys.get(customer_id)
    return None if key is None else unseal(key, evidence_aad(table, customer_id), bytes(blob))


def seal_rows(keys: Mapping[int, AESGCM], rows: list[dict[str, Any]], table: str) -> None:
    """Seal the `evidence` of event rows of `table` in place, with keys already at hand
    (the demo seed's batch: `gateway.profile.write.add_customers` returns them)."""
    for row in rows:
        text = row.get("evidence")
        if text is not None:
            cid = int(row["customer_id"])
            row["evidence"] = seal(keys[cid], evidence_aad(table, cid), text)
