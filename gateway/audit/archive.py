"""Retention: archive the oldest entries to a signed JSON Lines file, then remove them.

The archived prefix is anchored in `audit_archives` (first and last seq, the last entry's
hash, the file's SHA-256, signed with the gateway's key), so verification starts after the
cut and still links to it. Beside the file a `.anchor.json` holds the anchor and the JWKS
for offline checks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, delete, func, insert, select, update

from gateway.audit.chain import archive_message, iso
from gateway.audit.export import AuditFilter, iter_records, write_document
from gateway.audit.tables import audit_archives, audit_chain_head, audit_events, audit_subjects
from gateway.audit.verify import verify_chain
from gateway.audit.writer import SignerLike
from gateway.store.types import utcnow


class ArchiveRefused(RuntimeError):
    """The log does not verify: nothing is archived or removed."""


@dataclass(frozen=True)
class ArchiveResult:
    """What one archive run did (entries 0: nothing old enough)."""

    entries: int
    first_seq: int | None = None
    last_seq: int | None = None
    path: Path | None = None


def archive_older_than(
    engine: Engine, signer: SignerLike, jwks: dict[str, Any], days: float, directory: Path,
) -> ArchiveResult:
    """Archive and remove the entries older than `days` (a contiguous prefix of the chain)."""
    checked = verify_chain(engine, jwks, full=True, remember=False)
    if not checked.ok:
        raise ArchiveRefused(f"the log does not verify: {checked.problem}")
    cutoff = utcnow() - timedelta(days=days)
    e = audit_events.c
    with engine.begin() as conn:
        conn.execute(update(audit_chain_head).where(audit_chain_head.c.id == 1)
                     .values(seq=audit_chain_head.c.seq))  # hold the head: one archiver at a time
        first = conn.execute(select(func.min(e.seq))).scalar()
        if first is None:
            return ArchiveResult(0)
        young = conn.execute(select(func.min(e.seq)).where(e.occurred_at >= cutoff)).scalar()
        last = int(young) - 1 if young is not None else int(conn.execute(select(func.max(e.seq))).scalar_one())
        if last < int(first):
            return ArchiveResult(0)
        last_hash = conn.execute(select(e.entry_hash).where(e.seq == last)).scalar_one()
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"audit-{int(first):012d}-{last:012d}.jsonl"
        with path.open("w", encoding="utf-8") as out:
            count = write_document(_until(iter_records(conn, AuditFilter()), last), "jsonl", out)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        now = utcnow()
        anchor = {"first_seq": int(first), "last_seq": last, "last_hash": last_hash,
                  "file_name": path.name, "file_sha256": digest, "kid": signer.kid,
                  "archived_at": now}
        anchor["signature"] = signer.sign(archive_message(
            int(first), last, last_hash, digest, now, signer.kid))
        ids = select(e.id).where(e.seq <= last).scalar_subquery()
        conn.execute(delete(audit_subjects).where(audit_subjects.c.audit_id.in_(ids)))
        conn.execute(delete(audit_events).where(e.seq <= last))
        conn.execute(insert(audit_archives).values(**anchor))
        sidecar = {**anchor, "archived_at": iso(now), "jwks": jwks}
        path.with_suffix(".anchor.json").write_bytes(orjson.dumps(sidecar, option=orjson.OPT_INDENT_2))
    return ArchiveResult(count, int(first), last, path)


def _until(records: Iterator[dict[str, Any]], last: int) -> Iterator[dict[str, Any]]:
    for record in records:
        if int(record["seq"]) > last:
            return
        yield record
