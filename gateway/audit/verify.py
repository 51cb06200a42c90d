"""Verifying the chain: walk by seq, recompute every hash, check links and checkpoints.

The walk reads raw rows in keyset batches (SQLAlchemy Core, JSON as text parsed by orjson)
and stops at the first problem, named by its seq and kind. Before it, the spans of the chain
up to the head are scanned fast (`gateway.audit.scan`: bare driver rows, stored bytes hashed,
in worker processes for long chains) and joined; the walk then starts where the scanned,
joined and checkpoint-checked prefix ends (at the start of the first span that did not
verify, if any), so every problem is still named by the walk. The kinds:

- `modified`: the entry's content no longer hashes to its stored hash;
- `deleted`: a place is missing (a gap), or the entries after it were renumbered;
- `inserted`: an entry that does not belong (forged, duplicated, or beyond the head);
- `reordered`: two entries swapped places;
- `truncated`: the head or a checkpoint is beyond the last entry;
- `checkpoint_invalid`: a bad signature, an unknown key, a hash that does not match its
  entry, or the head's last checkpoint missing;
- `archive_invalid`: a retention anchor whose signature or sequence does not hold;
- `head_invalid`: the head row's hash does not match the last entry;
- `index_mismatch`: the per-customer index (`audit_subjects`, what officers filter on) does
  not hold exactly the entry's subjects, so a customer filter would miss or invent entries.

Checkpoints exported earlier and kept elsewhere (`external`) are checked too: an entry whose
hash differs from one of them was rewritten (`modified`, even when the rewriter re-chained
everything after it), and one beyond the last entry means the tail was cut (`truncated`),
even when the head row and the stored checkpoints were cut back with it.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, Text, cast, func, select, update

from gateway.audit.chain import (
    GENESIS,
    HASHED_FIELDS,
    archive_message,
    checkpoint_message,
    entry_hash,
)
from gateway.audit.scan import Fast, Span, pool_for, scanned, source_of
from gateway.audit.tables import (
    audit_archives,
    audit_chain_head,
    audit_checkpoints,
    audit_events,
    audit_subjects,
)
from gateway.privacy.signing import verify as verify_signature

Progress = Callable[[int, int], None]  # (entries checked so far, entries to check)
_E = audit_events.c
_SORT = orjson.OPT_SORT_KEYS


@dataclass(frozen=True)
class Problem:
    """The first thing wrong with the log: where, what, and a sentence for people."""

    seq: int
    kind: str
    message: str


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of one verification."""

    ok: bool
    mode: str  # full | incremental
    first_seq: int  # where the walk started
    last_seq: int  # the last entry found valid
    entries: int  # entries checked
    checkpoints: int  # checkpoints whose signature was checked
    seconds: float
    problem: Problem | None = None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly form (for the CLI and GraphQL)."""
        return asdict(self)


def _columns(dialect: str) -> list[Any]:
    when = cast(_E.occurred_at, Text) if dialect == "sqlite" else _E.occurred_at
    cols: list[Any] = [_E.seq, when]
    for name in HASHED_FIELDS[2:]:
        col = _E[name]
        cols.append(cast(col, Text) if name in ("subjects", "detail") else col)
    cols.append(_E.entry_hash)
    return cols


def _when(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    text = str(value)  # SQLite: "YYYY-MM-DD HH:MM:SS.ffffff", already UTC
    if len(text) == 19:
        text += ".000000"
    return text.replace(" ", "T", 1) + "Z"


def _doc(row: Any) -> dict[str, Any]:
    """The hashed fields of a raw row (its tuple of `_columns`)."""
    doc = dict(zip(HASHED_FIELDS, row, strict=False))
    doc["occurred_at"] = _when(doc["occurred_at"])
    doc["subjects"] = orjson.loads(doc["subjects"])
    doc["detail"] = orjson.loads(doc["detail"])
    return doc


def _hash(doc: Mapping[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(doc, option=_SORT)).hexdigest()


def _stored_hash(doc: Mapping[str, Any], row: Any) -> str:
    """The entry's hash over its stored JSON as is (what the writer hashed), or re-encoded."""
    found = _hash(doc)
    if found != row[-1]:
        raw = {**doc, "subjects": orjson.Fragment(row[10]), "detail": orjson.Fragment(row[11])}
        verbatim = hashlib.sha256(orjson.dumps(raw, option=_SORT)).hexdigest()
        if verbatim == row[-1]:
            return verbatim
    return found


class _Walk:
    """State of one verification."""

    def __init__(self, conn: Connection, jwks: dict[str, Any], batch: int,
                 fast: Fast | None = None) -> None:
        self.conn = conn
        self.fast = fast
        self.jwks = jwks
        self.batch = batch
        self.cols = _columns(conn.dialect.name)
        self.signatures = 0
        self.signed = 0  # the last checkpoint found good

    def index(self, low: int, high: int) -> dict[int, list[str]]:
        """The subject refs the index holds for the entries at `low`..`high`, by seq."""
        found: dict[int, list[str]] = {}
        rows = self.conn.execute(
            select(_E.seq, audit_subjects.c.ref)
            .join_from(audit_subjects, audit_events, audit_subjects.c.audit_id == _E.id)
            .where(_E.seq.between(low, high))
        )
        for seq, ref in rows:
            found.setdefault(int(seq), []).append(ref)
        return found

    def row(self, seq: int) -> Any:
        return self.conn.execute(select(*self.cols).where(_E.seq == seq)).first()

    def classify(self, row: Any, expected: int, prev: str | None) -> Problem:
        """Name what went wrong at `expected`, where `row` does not verify."""
        doc, stored = _doc(row), row[-1]
        if _hash(doc) == stored:
            return Problem(expected, "inserted", "the entry does not link to its predecessor")
        if _hash({**doc, "seq": expected + 1}) == stored:
            nxt = self.row(expected + 1)
            if nxt is not None and _hash({**_doc(nxt), "seq": expected}) == nxt[-1]:
                return Problem(expected, "reordered", "this entry and the next swapped places")
            return Problem(expected, "deleted", "an entry is missing here; later ones were renumbered")
        if _hash({**doc, "seq": expected - 1}) == stored:
            return Problem(expected - 1, "inserted", "a forged entry was inserted here")
        nxt = self.row(expected + 1)
        if nxt is not None and (prev is None or nxt[-2] == prev) and \
                _hash({**_doc(nxt), "seq": expected}) == nxt[-1]:
            return Problem(expected, "inserted", "a forged entry was inserted here")
        return Problem(expected, "modified", "the entry's content does not match its hash")

    def checkpoint(self, cp: Any, found_hash: str | None) -> Problem | None:
        message = checkpoint_message(int(cp.seq), cp.entry_hash, cp.signed_at, cp.kid)
        self.signatures += 1
        if not verify_signature(self.jwks, cp.kid, message, cp.signature):
            return Problem(int(cp.seq), "checkpoint_invalid", "the checkpoint's signature does not verify")
        if found_hash is not None and cp.entry_hash != found_hash:
            since = self.signed + 1
            return Problem(int(cp.seq), "checkpoint_invalid",
                           f"the checkpoint's hash is not its entry's: an entry between seq {since} "
                           f"and {int(cp.seq)} was rewritten and the chain re-hashed after it")
        self.signed = int(cp.seq)
        return None


def _anchor(walk: _Walk) -> tuple[int, str, Problem | None]:
    """Where the live chain starts (after the archived part) and the hash it links to."""
    expected, prev = 1, GENESIS
    rows = walk.conn.execute(select(audit_archives).order_by(audit_archives.c.last_seq)).all()
    for a in rows:
        message = archive_message(int(a.first_seq), int(a.last_seq), a.last_hash, a.file_sha256,
                                  a.archived_at, a.kid)
        if int(a.first_seq) != expected or not verify_signature(walk.jwks, a.kid, message, a.signature):
            return expected, prev, Problem(int(a.first_seq), "archive_invalid",
                                           "an archive anchor's signature or range does not hold")
        expected, prev = int(a.last_seq) + 1, a.last_hash
    return expected, prev, None


def verify_chain(
    engine: Engine, jwks: dict[str, Any], *, full: bool = True, batch: int = 20_000,
    progress: Progress | None = None, remember: bool = True,
    external: Mapping[int, str] | None = None, workers: int | None = None,
    span: int = 100_000, parallel_from: int = 200_000,
) -> VerifyResult:
    """Verify the log on `engine` (full, or from the last verified checkpoint).

    `external`: seq -> entry hash of checkpoints exported earlier (their signatures already
    checked by the caller, e.g. `offline.trusted_checkpoints`). The fast scan runs in
    `workers` processes (default: the CPUs, at most 4) when at least `parallel_from`
    entries are to be checked, in `span`-long spans; `workers=0` turns the fast scan off.
    """
    started = time.perf_counter()
    if workers is None:
        workers = min(os.cpu_count() or 1, 4)
    with engine.connect() as conn:
        source = source_of(conn) if workers else None
        fast = Fast(source, workers, span, parallel_from) if source is not None else None
        result = _verify(_Walk(conn, jwks, batch, fast), full, progress, dict(external or {}))
    result = VerifyResult(**{**result.as_dict(), "problem": result.problem,
                             "seconds": round(time.perf_counter() - started, 3)})
    if result.ok and remember:
        with engine.begin() as conn:
            conn.execute(update(audit_chain_head).where(audit_chain_head.c.id == 1)
                         .values(verified_seq=result.last_seq))
    return result


def _verify(walk: _Walk, full: bool, progress: Progress | None, external: dict[int, str]) -> VerifyResult:
    conn = walk.conn
    head = conn.execute(select(audit_chain_head).where(audit_chain_head.c.id == 1)).first()
    head_seq = int(head.seq) if head else 0
    expected, prev_anchor, problem = _anchor(walk)
    prev: str | None = prev_anchor
    mode = "full"

    def done(last: int, checked: int, found: Problem | None) -> VerifyResult:
        return VerifyResult(found is None, mode, start, last, checked, walk.signatures, 0.0, found)

    if problem is not None:
        start = expected
        return done(expected - 1, 0, problem)
    cps = {int(c.seq): c for c in conn.execute(
        select(audit_checkpoints).where(audit_checkpoints.c.seq >= expected)).all()}
    if not full and head is not None and head.verified_seq is not None:
        resume = [s for s in cps if expected <= s <= int(head.verified_seq)]
        if resume:
            expected, prev, mode = max(resume), None, "incremental"
    start = expected
    walk.signed = start - 1
    total = max(head_seq - start + 1, 0)
    checked, last = 0, start - 1
    if walk.fast is not None and head_seq >= expected:
        expected, prev, checked = _fast_prefix(walk, walk.fast, expected, prev, head_seq, cps,
                                               external, progress)
        last = expected - 1
    while True:
        rows = conn.execute(
            select(*walk.cols).where(_E.seq >= expected).order_by(_E.seq).limit(walk.batch)
        ).all()
        if not rows:
            break
        index = walk.index(rows[0][0], rows[-1][0])
        for row in rows:
            seq = row[0]
            if seq > head_seq:
                fresh = conn.execute(select(audit_chain_head.c.seq)).scalar()
                if fresh is None or seq > int(fresh):
                    return done(last, checked, Problem(seq, "inserted", "an entry beyond the chain's head"))
                head_seq = int(fresh)
            if seq != expected:
                return done(last, checked, Problem(expected, "deleted", "an entry is missing here"))
            doc = _doc(row)
            found = _stored_hash(doc, row)
            if found != row[-1] or (prev is not None and row[-2] != prev):
                return done(last, checked, walk.classify(row, expected, prev))
            cp = cps.get(seq)
            if cp is not None and (bad := walk.checkpoint(cp, found)) is not None:
                return done(last, checked, bad)
            if seq in external and external[seq] != found:
                return done(last, checked, Problem(seq, "modified", "the entry differs from an exported "
                                                   "checkpoint: the chain was rewritten up to here"))
            refs = {s["ref"] for s in doc["subjects"] if isinstance(s, dict) and "ref" in s}
            if refs != set(index.get(seq, ())):
                return done(last, checked, Problem(seq, "index_mismatch", "the customer index does not "
                                                   "hold exactly this entry's subjects"))
            prev, last, expected, checked = found, seq, seq + 1, checked + 1
        if progress is not None:
            progress(checked, total)
    if head is not None and head_seq > last:
        return done(last, checked, Problem(last + 1, "truncated", "the head is beyond the last entry"))
    beyond = [s for s in cps if s > last]
    if [s for s in external if s > last]:
        return done(last, checked, Problem(last + 1, "truncated",
                                           "an exported checkpoint is beyond the last entry"))
    if beyond:
        return done(last, checked, Problem(last + 1, "truncated", "a checkpoint is beyond the last entry"))
    if head is not None and last >= start and prev is not None and head.head_hash != prev \
            and head_seq == last:
        return done(last, checked, Problem(last, "head_invalid", "the head's hash is not the last entry's"))
    if head is not None and int(head.last_checkpoint_seq) >= start and \
            int(head.last_checkpoint_seq) not in cps:
        return done(last, checked, Problem(int(head.last_checkpoint_seq), "checkpoint_invalid",
                                           "the head's last checkpoint is missing"))
    return done(last, checked, None)


def _span_holds(found: Span, here: list[int], cps: dict[int, Any], external: dict[int, str],
                signed: dict[int, bool]) -> bool:
    """True when the checkpoints and exported checkpoints inside the span match its hashes."""
    for seq in here:
        hash_ = found.hashes.get(seq)
        if seq in cps and (not signed[seq] or cps[seq].entry_hash != hash_):
            return False
        if seq in external and external[seq] != hash_:
            return False
    return True


def _fast_prefix(walk: _Walk, fast: Fast, expected: int, prev: str | None, head_seq: int,
                 cps: dict[int, Any], external: dict[int, str],
                 progress: Progress | None) -> tuple[int, str | None, int]:
    """Scan the spans up to the head and join them; where the walk should go on from
    (expected seq, its predecessor's hash, entries checked). Signatures are checked here
    while the workers scan."""
    total = head_seq - expected + 1
    spans = [(low, min(low + fast.span - 1, head_seq)) for low in range(expected, head_seq + 1, fast.span)]
    wanted = sorted({s for s in cps if expected <= s <= head_seq} |
                    {s for s in external if expected <= s <= head_seq})
    pool = pool_for(fast, total)
    checked = 0
    try:
        scans = scanned(fast, pool, spans, wanted)
        signed: dict[int, bool] = {}
        for seq in wanted:
            cp = cps.get(seq)
            if cp is not None:
                message = checkpoint_message(int(cp.seq), cp.entry_hash, cp.signed_at, cp.kid)
                signed[seq] = verify_signature(walk.jwks, cp.kid, message, cp.signature)
        for found in scans:
            joins = found.complete and (prev is None or found.first_prev == prev)
            here = [s for s in wanted if found.low <= s <= found.high]
            if not joins or not _span_holds(found, here, cps, external, signed):
                break  # the walk goes through this span and names what is wrong
            walk.signatures += sum(s in cps for s in here)
            walk.signed = max([s for s in here if s in cps], default=walk.signed)
            expected, prev, checked = found.high + 1, found.last_hash, checked + found.high - found.low + 1
            if progress is not None:
                progress(checked, total)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    return expected, prev, checked


def count_entries(conn: Connection) -> int:
    """How many entries the live log holds."""
    return int(conn.execute(select(func.count()).select_from(audit_events)).scalar_one())


__all__ = ["Problem", "VerifyResult", "count_entries", "entry_hash", "verify_chain"]
