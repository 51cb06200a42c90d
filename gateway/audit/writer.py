"""Appending to the chain: take the next place under the head row's lock, hash, insert.

`UPDATE audit_chain_head SET seq = seq + 1 ... RETURNING` serialises writers on the one head
row (a row lock on PostgreSQL, the write lock on SQLite), held until the caller's commit,
which follows at once. So concurrent workers and processes extend one chain: no gap, no
fork. A checkpoint (the head signed with the gateway's Ed25519 key) is written in the same
transaction every `every` entries or when the last one is older than `seconds`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Connection, insert, select, update

from gateway.audit.chain import GENESIS, checkpoint_message, entry_hash
from gateway.audit.tables import audit_chain_head, audit_checkpoints, audit_events, audit_subjects
from gateway.store.types import utcnow


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


def _take_place(conn: Connection) -> Any:
    stmt = (
        update(audit_chain_head).where(audit_chain_head.c.id == 1)
        .values(seq=audit_chain_head.c.seq + 1)
        .returning(audit_chain_head.c.seq, audit_chain_head.c.head_hash,
                   audit_chain_head.c.last_checkpoint_seq, audit_chain_head.c.last_checkpoint_at)
    )
    row = conn.execute(stmt).first()
    if row is None:  # a database made without the migration's head row
        conn.execute(insert(audit_chain_head).values(
            id=1, seq=0, head_hash=GENESIS, last_checkpoint_seq=0, last_checkpoint_at=None))
        row = conn.execute(stmt).one()
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
    """Chain and insert one entry (`values`: the stored fields but seq and hashes); its seq."""
    place = _take_place(conn)
    seq, prev = int(place.seq), str(place.head_hash)
    row = {**values, "seq": seq, "prev_hash": prev}
    row["entry_hash"] = hash_ = entry_hash(row)
    audit_id = conn.execute(insert(audit_events).values(**row).returning(audit_events.c.id)).scalar_one()
    if refs:
        conn.execute(insert(audit_subjects), [{"audit_id": audit_id, "ref": r} for r in refs])
    head: dict[str, Any] = {"head_hash": hash_}
    now = utcnow()
    if policy.due(seq, int(place.last_checkpoint_seq), place.last_checkpoint_at, now):
        sign_checkpoint(conn, signer, seq, hash_, now)
        head.update(last_checkpoint_seq=seq, last_checkpoint_at=now)
    conn.execute(update(audit_chain_head).where(audit_chain_head.c.id == 1).values(**head))
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
