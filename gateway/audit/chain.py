"""The hash chain's encoding: canonical bytes of an entry, its hash, signed messages.

An entry's hash is SHA-256 over the orjson encoding (keys sorted) of every stored field
except the row id, including its place `seq` and its predecessor's hash `prev_hash`;
timestamps are ISO 8601 UTC strings with microseconds and a `Z`. The first entry's
predecessor is `GENESIS`. Checkpoints and archive anchors sign a canonical message of the
same kind, so anyone holding the published JWKS can check them offline.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

GENESIS = "0" * 64
HASHED_FIELDS = (
    "seq", "occurred_at", "request_id", "actor_type", "actor", "role", "purpose", "action",
    "operation", "decision", "subjects", "detail", "prev_hash",
)
CHECKPOINT_TYPE = "consent-gateway/audit-checkpoint/v1"
ARCHIVE_TYPE = "consent-gateway/audit-archive/v1"
_OPTS = orjson.OPT_SORT_KEYS


def iso(moment: datetime) -> str:
    """`moment` as the chain writes timestamps: ISO 8601, UTC, microseconds, `Z`."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(entry: Mapping[str, Any]) -> bytes:
    """The canonical bytes of an entry (a mapping holding at least `HASHED_FIELDS`)."""
    doc = {name: entry[name] for name in HASHED_FIELDS}
    when = doc["occurred_at"]
    if isinstance(when, datetime):
        doc["occurred_at"] = iso(when)
    return orjson.dumps(doc, option=_OPTS)


def entry_hash(entry: Mapping[str, Any]) -> str:
    """The hex SHA-256 of `canonical(entry)`."""
    return hashlib.sha256(canonical(entry)).hexdigest()


def checkpoint_message(seq: int, entry_hash_: str, signed_at: datetime | str, kid: str) -> bytes:
    """What a checkpoint's signature covers."""
    when = iso(signed_at) if isinstance(signed_at, datetime) else signed_at
    return orjson.dumps(
        {"type": CHECKPOINT_TYPE, "seq": seq, "entry_hash": entry_hash_, "signed_at": when,
         "kid": kid},
        option=_OPTS,
    )


def archive_message(
    first_seq: int, last_seq: int, last_hash: str, file_sha256: str, archived_at: datetime | str,
    kid: str,
) -> bytes:
    """What an archive anchor's signature covers (the archive file is bound by its hash)."""
    when = iso(archived_at) if isinstance(archived_at, datetime) else archived_at
    return orjson.dumps(
        {"type": ARCHIVE_TYPE, "first_seq": first_seq, "last_seq": last_seq,
         "last_hash": last_hash, "file_sha256": file_sha256, "archived_at": when, "kid": kid},
        option=_OPTS,
    )
