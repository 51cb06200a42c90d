"""Appending many entries at once: one place-taking, one multi-row insert, one commit.

`append_many` is the group form of `writer.append`: it takes `len(batch)` contiguous places
under the head row's lock (`seq = seq + n`), links the entries in their given order (each
`prev_hash` the hash of the one before it), inserts them and their subject refs, moves the
head and signs a checkpoint when one is due, all in the caller's transaction. The lock is the
same one single appends take, so batches from several processes and single appends (writes,
which keep their entry in their own transaction) still extend one strictly ordered chain.

Everything that does not need the place (the JSON encoding, the pseudonyms) is done before
the lock is taken (`Prepared`); under the lock only the hashes are computed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import BigInteger, Connection, bindparam, text

from gateway.audit.chain import entry_hash
from gateway.audit.writer import (
    _INSERT_EVENT,
    _SQLITE_HEAD,
    _TYPED,
    CheckpointPolicy,
    SignerLike,
    _take_place,
    sign_checkpoint,
)
from gateway.store.types import utcnow

_SORT = orjson.OPT_SORT_KEYS
_PLAIN = ("occurred_at", "request_id", "actor_type", "actor", "role", "purpose", "action",
          "operation", "decision")


@dataclass(frozen=True)
class Prepared:
    """One entry ready to be chained: its stored fields but the place, JSON already encoded."""

    values: dict[str, Any]  # the `_PLAIN` fields
    subjects: bytes  # canonical JSON (keys sorted), hashed and stored as is
    detail: bytes
    refs: tuple[str, ...]  # the per-customer index (`audit_subjects`)

    @classmethod
    def of(cls, values: dict[str, Any], refs: Sequence[str]) -> Prepared:
        """From `writer.append`'s `values` (JSON-able `subjects` and `detail`)."""
        plain = {name: values[name] for name in _PLAIN}
        return cls(plain, orjson.dumps(values["subjects"], option=_SORT),
                   orjson.dumps(values["detail"], option=_SORT), tuple(refs))


_PG_COLUMNS = (("seq", "bigint"), ("occurred_at", "timestamptz"), ("request_id", "text"),
               ("actor_type", "text"), ("actor", "text"), ("role", "text"), ("purpose", "text"),
               ("action", "text"), ("operation", "text"), ("decision", "text"),
               ("subjects", "text"), ("detail", "text"), ("prev_hash", "text"),
               ("entry_hash", "text"))
_PG_NAMES = ", ".join(name for name, _ in _PG_COLUMNS)
# One statement, one round trip: the entries and their refs each travel as one JSON document
# (encoded by orjson in C; PostgreSQL parses it in C: no per-value adaptation by the driver),
# the entries inserted in seq order, their refs joined on seq, the new head. The JSON columns
# travel as JSON strings, so the stored text is exactly the bytes that were hashed.
_PG_APPEND_MANY = (
    "WITH t AS (SELECT * FROM json_to_recordset(%(rows)s::json) AS t("
    f"{', '.join(f'{n} {kind}' for n, kind in _PG_COLUMNS)})), "
    f"ev AS (INSERT INTO audit_events ({_PG_NAMES}) "
    f"SELECT {', '.join(f'CAST(t.{n} AS JSON)' if n in ('subjects', 'detail') else 't.' + n for n, _ in _PG_COLUMNS)} "
    "FROM t ORDER BY t.seq RETURNING id, seq), "
    "refs AS (INSERT INTO audit_subjects (audit_id, ref) SELECT ev.id, r.ref FROM ev "
    "JOIN json_to_recordset(%(refs)s::json) AS r(seq bigint, ref text) ON r.seq = ev.seq) "
    "UPDATE audit_chain_head SET head_hash = %(head)s, last_checkpoint_seq = %(cp_seq)s, "
    "last_checkpoint_at = %(cp_at)s WHERE id = 1"
)
_SQLITE_EVENT = text(_INSERT_EVENT).bindparams(*_TYPED)
_SQLITE_REFS = text("INSERT INTO audit_subjects (audit_id, ref) "
                    "SELECT id, :ref FROM audit_events WHERE seq = :seq"
                    ).bindparams(bindparam("seq", type_=BigInteger()))


def append_many(conn: Connection, batch: Sequence[Prepared], signer: SignerLike,
                policy: CheckpointPolicy) -> list[int]:
    """Chain and insert `batch` in its order, in the caller's transaction; their seqs."""
    if not batch:
        return []
    place = _take_place(conn, len(batch))
    last = int(place.seq)
    prev = str(place.head_hash)
    first = last - len(batch) + 1
    rows: list[dict[str, Any]] = []
    for seq, item in enumerate(batch, start=first):
        hashed = {**item.values, "seq": seq, "prev_hash": prev,
                  "subjects": orjson.Fragment(item.subjects), "detail": orjson.Fragment(item.detail)}
        prev = entry_hash(hashed)
        rows.append({**item.values, "seq": seq, "prev_hash": hashed["prev_hash"],
                     "entry_hash": prev, "subjects": item.subjects.decode(),
                     "detail": item.detail.decode()})
    now = utcnow()
    cp_seq, cp_at = int(place.last_checkpoint_seq), place.last_checkpoint_at
    due = policy.due(last, cp_seq, cp_at, now)
    if due:
        cp_seq, cp_at = last, now
    if conn.dialect.name == "postgresql":
        _pg_insert(conn, rows, batch, prev, cp_seq, cp_at)
    else:
        conn.execute(_SQLITE_EVENT, rows)
        refs = [{"seq": row["seq"], "ref": ref} for row, item in zip(rows, batch, strict=True)
                for ref in item.refs]
        if refs:
            conn.execute(_SQLITE_REFS, refs)
        conn.execute(_SQLITE_HEAD, {"entry_hash": prev, "cp_seq": cp_seq, "cp_at": cp_at})
    if due:
        sign_checkpoint(conn, signer, last, prev, now)
    return list(range(first, last + 1))


def _pg_insert(conn: Connection, rows: list[dict[str, Any]], batch: Sequence[Prepared],
               head: str, cp_seq: int, cp_at: datetime | None) -> None:
    refs = [{"seq": row["seq"], "ref": ref} for row, item in zip(rows, batch, strict=True)
            for ref in item.refs]
    # orjson writes datetimes as RFC 3339 with their microseconds (a naive one as UTC, as the
    # hash reads it): PostgreSQL reads back the same instant.
    conn.exec_driver_sql(_PG_APPEND_MANY, {
        "rows": orjson.dumps(rows, option=orjson.OPT_NAIVE_UTC).decode(), "refs": orjson.dumps(refs).decode(), "head": head,
        "cp_seq": cp_seq, "cp_at": cp_at})
