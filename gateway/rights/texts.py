"""Staff's free text on a case (note, extension and rejection reasons), sealed at rest.

The text may quote the person (their name, what they asked), so it is stored like their
identifiers: AES-GCM under the customer's data key, bound to the table, the column, the
customer and the case (a text copied to another case or column does not open). The erasure
destroys the key: from then on every text of the person's cases reads as null, with nothing
to scrub.

A case whose customer is gone (erased: `customer_id` NULL) has no key to seal under: a reason
given to such a case (closing it after the erasure) is not stored, and reads as null like the
others. Plaintext is never the fallback.
"""

from __future__ import annotations

from typing import Any

from gateway.errors import ServiceError
from gateway.policy.codes import Code
from gateway.privacy.datakeys import DataKeys
from gateway.privacy.envelope import field_aad, seal, unseal

TEXTS = ("note", "extension_reason", "rejection_reason")


def text_aad(column: str, customer_id: int, ref: str) -> bytes:
    """What a case text is bound to: table, column, the customer and the case's public id."""
    return field_aad("rights_cases", column, f"{customer_id}:{ref}")


def seal_text(keys: DataKeys, customer_id: int | None, ref: str, column: str, text: str | None) -> bytes | None:
    """`text` sealed for the case `ref` of `customer_id`; None when there is no text or the
    customer was erased. INVALID_INPUT for a customer without a data key (made outside the
    write service): nothing can be sealed for them, and plaintext is not an option."""
    if text is None or customer_id is None:
        return None
    key = keys.get(customer_id)
    if key is None:
        raise ServiceError(Code.INVALID_INPUT, "text cannot be stored for this customer (no data key)",
                           "note" if column == "note" else "reason")
    return seal(key, text_aad(column, customer_id, ref), text)


def open_texts(keys: DataKeys, row: Any) -> dict[str, str | None]:
    """The texts of a `rights_cases` row in the clear; None where unset or shredded."""
    out: dict[str, str | None] = dict.fromkeys(TEXTS)
    cid = row.customer_id
    if cid is None:
        return out
    for column in TEXTS:
        blob = getattr(row, column)
        if blob is None:
            continue
        key = keys.get(int(cid))
        out[column] = None if key is None else unseal(key, text_aad(column, int(cid), row.ref), bytes(blob))
    return out
