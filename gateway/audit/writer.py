"""Appending to the chain: take the next place under the head row's lock, hash, insert.

`UPDATE audit_chain_head SET seq = seq + 1 ... RETURNING` serialises writers on the one head
row (a row lock on PostgreSQL, the write lock on SQLite), held until the caller's commit,
which follows at once. So concurrent workers and processes extend one chain: no gap, no
fork. A checkpoint (the head signed with the gateway's Ed25519 key) is written in the same
transaction every `every` entries or when the last one is older than `seconds`.

This runs inside every request, so it does as little as it can while holding the lock: the
statements are built once (text with typed parameters, no per-call statement building), the
JSON columns are encoded once with orjson and the same bytes go into the hash (as
`orjson.Fragment`) and into the row, and on PostgreSQL the entry, its subject refs and the
new head go in one statement (data-modifying CTEs): two round trips per entry in all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import orjson
from sqlalchemy import BigInteger, Connection, String, bindparam, insert, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY

from gateway.audit.chain import GENESIS, checkpoint_message, entry_hash
from gateway.audit.tables import audit_chain_head, audit_checkpoints
from gateway.store.types import UTCDateTime, utcnow

_SORT = orjson.OPT_SORT_KEYS


class SignerLike(Protocol):
    """What the chain needs of `gateway.privacy.signing.Signer`."""

    kid: str

    def sign(self, message: bytes) -> str: ...


@dataclass(frozen=True)
class CheckpointPolicy:
    """Sign the head every `every` entries or when the last checkpoint is `seconds` old."""

    every: int = 1000
    seconds: float = 60.0

    def due(self, seq: int, last_seq: int, last_at: datetime | None, now: datetime) -> bool:
        """True when the entry at `seq` should be checkpointed."""
        if seq - last_seq >= self.every:
            return True
        return last_at is None or now - last_at >= timedelta(seconds=self.seconds)


_EVENT_COLUMNS = ("seq", "occurred_at", "request_id", "actor_type", "actor", "role", "purpose",
                  "action", "operation", "decision", "subjects", "detail", "prev_hash",
                  "entry_hash")


def _event_values(json_cast: str) -> str:
    """The VALUES list of one entry; JSON columns arrive as text already encoded."""
    return ", ".join(f"CAST(:{c} AS {json_cast})" if c in ("subjects", "detail") else f":{c}"
                     for c in _EVENT_COLUMNS)


_INSERT_EVENT = (f"INSERT INTO audit_events ({', '.join(_EVENT_COLUMNS)}) "
                 f"VALUES ({_event_values('TEXT')})")
_TAKE_PLACE = text(
    "UPDATE audit_chain_head SET seq = seq + :n WHERE id = 1 "
    "RETURNING seq, head_hash, last_checkpoint_seq, last_checkpoint_at"
).bindparams(bindparam("n", type_=BigInteger())).columns(last_checkpoint_at=UTCDateTime())
_TYPED = (bindparam("occurred_at", type_=UTCDateTime()), bindparam("seq", type_=BigInteger()))

# SQLite: the entry (its id from the cursor), its refs from a JSON array, the new head.
_SQLITE_EVENT = text(_INSERT_EVENT).bindparams(*_TYPED)
_SQLITE_SUBJECTS = text(
    "INSERT INTO audit_subjects (audit_id, ref) SELECT :audit_id, value FROM json_each(:refs)")
_SQLITE_HEAD = text("UPDATE audit_chain_head SET head_hash = :entry_hash, "
                    "last_checkpoint_seq = :cp_seq, last_checkpoint_at = :cp_at WHERE id = 1"
                    ).bindparams(bindparam("cp_at", type_=UTCDateTime()))

# PostgreSQL: one statement, one round trip (the refs' foreign key sees the entry: RI checks
# run at the end of the statement).
_PG_APPEND = text(
    f"WITH ev AS (INSERT INTO audit_events ({', '.join(_EVENT_COLUMNS)}) "
    f"VALUES ({_event_values('JSON')}) RETURNING id), "
    "refs AS (INSERT INTO audit_subjects (audit_id, ref) "
    "SELECT ev.id, r FROM ev, unnest(:refs) AS r) "
    "UPDATE audit_chain_head SET head_hash = :entry_hash, last_checkpoint_seq = :cp_seq, "
    "last_checkpoint_at = :cp_at WHERE id = 1"
).bindparams(*_TYPED, bindparam("refs", type_=ARRAY(String())),
             bindparam("cp_at", type_=UTCDateTime()))


def _take_place(conn: Connection, places: int = 1) -> Any:
    """Lock the head row and take the next `places` places: the row after the update (its
    `seq` the last place taken, its hash the one the first place links to)."""
    row = conn.execute(_TAKE_PLACE, {"n": places}).first()
    if row is None:  # a database made without the migration's head row
        conn.execute(insert(audit_chain_head).values(
            id=1, seq=0, head_hash=GENESIS, last_checkpoint_seq=0, last_checkpoint_at=None))
        row = conn.execute(_TAKE_PLACE, {"n": places}).one()
    return row


def sign_checkpoint(conn: Connection, signer: SignerLike, seq: int, hash_: str,
                    now: datetime) -> None:
    """Insert the signed checkpoint of the entry at `seq` (the caller holds the head lock)."""
    signature = signer.sign(checkpoint_message(seq, hash_, now, signer.kid))
    conn.execute(insert(audit_checkpoints).values(
        seq=seq, entry_hash=hash_, signed_at=now, kid=signer.kid, signature=signature))


def append(
    conn: Connection, values: dict[str, Any], refs: list[str], signer: SignerLike,
    policy: CheckpointPolicy,
) -> int:
    """Chain and insert one entry (`values`: the stored fields but seq and hashes); its seq.

    `values["subjects"]` and `values["detail"]` are JSON-able; they are encoded once, and the
    same canonical bytes are hashed and stored.
    """
    subjects, detail = orjson.dumps(values["subjects"], option=_SORT), orjson.dumps(values["detail"], option=_SORT)
    place = _take_place(conn)
    seq, prev = int(place.seq), str(place.head_hash)
    hashed = {**values, "seq": seq, "prev_hash": prev, "subjects": orjson.Fragment(subjects),
              "detail": orjson.Fragment(detail)}
    hash_ = entry_hash(hashed)
    row = {**values, "seq": seq, "prev_hash": prev, "entry_hash": hash_,
           "subjects": subjects.decode(), "detail": detail.decode()}
    now = utcnow()
    cp_seq, cp_at = int(place.last_checkpoint_seq), place.last_checkpoint_at
    due = policy.due(seq, cp_seq, cp_at, now)
    if due:
        cp_seq, cp_at = seq, now
    head = {"entry_hash": hash_, "cp_seq": cp_seq, "cp_at": cp_at}
    if conn.dialect.name == "postgresql":
        conn.execute(_PG_APPEND, {**row, **head, "refs": refs})
    else:
        audit_id = conn.execute(_SQLITE_EVENT, row).lastrowid
        if refs:
            conn.execute(_SQLITE_SUBJECTS, {"audit_id": audit_id, "refs": orjson.dumps(refs).decode()})
        conn.execute(_SQLITE_HEAD, head)
    if due:
        sign_checkpoint(conn, signer, seq, hash_, now)
    return seq


def checkpoint_now(conn: Connection, signer: SignerLike) -> int | None:
    """Sign the current head (if not signed yet); the checkpoint's seq, or None if empty."""
    locked = conn.execute(
        update(audit_chain_head).where(audit_chain_head.c.id == 1)
        .values(seq=audit_chain_head.c.seq)
        .returning(audit_chain_head.c.seq, audit_chain_head.c.head_hash,
                   audit_chain_head.c.last_checkpoint_seq)
    ).first()
    if locked is None or int(locked.seq) == 0:
        return None
    seq = int(locked.seq)
    exists = conn.execute(select(audit_checkpoints.c.seq).where(audit_checkpoints.c.seq == seq)).first()
    if exists is None:
        now = utcnow()
        sign_checkpoint(conn, signer, seq, str(locked.head_hash), now)
        conn.execute(update(audit_chain_head).where(audit_chain_head.c.id == 1)
                     .values(last_checkpoint_seq=seq, last_checkpoint_at=now))
    return seq
