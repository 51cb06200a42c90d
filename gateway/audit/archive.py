"""Retention: archive the oldest entries to a signed JSON Lines file, then remove them.

The archived prefix is anchored in `audit_archives` (first and last seq, the last entry's
hash, the file's SHA-256, signed with the gateway's key), so verification starts after the
cut and still links to it. Beside the file a `.anchor.json` holds the anchor (and the JWKS
of the time, for reference: check it against the published one) for offline checks.

The file is written and checked (hashes, links, range) without holding the chain's head lock,
so requests keep being answered meanwhile; only the removal takes the lock, through the
`audit.archive` entry that records the cut in the live chain, in the same transaction.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, delete, func, insert, select

from gateway.audit.chain import GENESIS, archive_message, iso
from gateway.audit.export import AuditFilter, iter_records, write_document
from gateway.audit.offline import read_jsonl, verify_records
from gateway.audit.service import record_event
from gateway.audit.tables import audit_archives, audit_events, audit_subjects
from gateway.audit.verify import verify_chain
from gateway.audit.writer import SignerLike
from gateway.config import Settings
from gateway.privacy.pseudonyms import Pseudonymizer
from gateway.store.types import utcnow


class ArchiveRefused(RuntimeError):
    """The log does not verify, or changed under the archiver: nothing is removed."""


@dataclass(frozen=True)
class ArchiveResult:
    """What one archive run did (entries 0: nothing old enough)."""

    entries: int
    first_seq: int | None = None
    last_seq: int | None = None
    path: Path | None = None


def _range(engine: Engine, days: float) -> tuple[int, int, str, str] | None:
    """(first, last, last hash, hash the first links to) of the prefix older than `days`."""
    cutoff = utcnow() - timedelta(days=days)
    e = audit_events.c
    with engine.connect() as conn:
        first = conn.execute(select(func.min(e.seq))).scalar()
        if first is None:
            return None
        young = conn.execute(select(func.min(e.seq)).where(e.occurred_at >= cutoff)).scalar()
        last = int(young) - 1 if young is not None else int(conn.execute(select(func.max(e.seq))).scalar_one())
        if last < int(first):
            return None
        last_hash = conn.execute(select(e.entry_hash).where(e.seq == last)).scalar_one()
        before = conn.execute(select(audit_archives.c.last_hash).order_by(
            audit_archives.c.last_seq.desc()).limit(1)).scalar()
    return int(first), last, str(last_hash), str(before or GENESIS)


def _write(engine: Engine, path: Path, last: int) -> None:
    with engine.connect() as conn, path.open("w", encoding="utf-8") as out:
        write_document(_until(iter_records(conn, AuditFilter()), last), "jsonl", out)
        out.flush()
        os.fsync(out.fileno())  # on disk before the rows it holds are removed


def archive_older_than(
    engine: Engine, signer: SignerLike, jwks: dict[str, Any], days: float, directory: Path,
    *, audit: Pseudonymizer | None = None, settings: Settings | None = None,
) -> ArchiveResult:
    """Archive and remove the entries older than `days` (a contiguous prefix of the chain).

    With `audit` given, the cut is recorded as an `audit.archive` entry (it always is from
    the CLI).
    """
    checked = verify_chain(engine, jwks, full=True, remember=False)
    if not checked.ok:
        raise ArchiveRefused(f"the log does not verify: {checked.problem}")
    found = _range(engine, days)
    if found is None:
        return ArchiveResult(0)
    first, last, last_hash, before = found
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"audit-{first:012d}-{last:012d}.jsonl"
    _write(engine, path, last)
    written = verify_records(read_jsonl(path), first_prev=before, checkpoints={last: last_hash})
    if not written.ok or (written.first_seq, written.last_seq) != (first, last):
        path.unlink()
        raise ArchiveRefused(f"the archive file did not check out: {written.problem}")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    now = utcnow()
    anchor = {"first_seq": first, "last_seq": last, "last_hash": last_hash, "file_name": path.name,
              "file_sha256": digest, "kid": signer.kid, "archived_at": now}
    anchor["signature"] = signer.sign(archive_message(first, last, last_hash, digest, now, signer.kid))
    e = audit_events.c
    with engine.begin() as conn:
        if audit is not None:  # appending takes the head lock: one archiver at a time from here
            record_event(conn, "audit.archive", audit=audit, signer=signer, settings=settings,
                         operation="audit archive",
                         detail={"first_seq": first, "last_seq": last, "file_name": path.name,
                                 "file_sha256": digest, "entries": written.entries})
        if conn.execute(select(func.min(e.seq))).scalar() != first:
            raise ArchiveRefused("the log changed while archiving (another archiver?); nothing removed")
        ids = select(e.id).where(e.seq <= last).scalar_subquery()
        conn.execute(delete(audit_subjects).where(audit_subjects.c.audit_id.in_(ids)))
        conn.execute(delete(audit_events).where(e.seq <= last))
        conn.execute(insert(audit_archives).values(**anchor))
        sidecar = {**anchor, "archived_at": iso(now), "jwks": jwks}
        path.with_suffix(".anchor.json").write_bytes(orjson.dumps(sidecar, option=orjson.OPT_INDENT_2))
    return ArchiveResult(written.entries, first, last, path)


def _until(records: Iterator[dict[str, Any]], last: int) -> Iterator[dict[str, Any]]:
    for record in records:
        if int(record["seq"]) > last:
            return
        yield record
