"""Verifying a span of the chain at the speed of the disk: raw driver rows, stored bytes hashed.

The verifier (`gateway.audit.verify`) splits the chain into spans of seqs and hands them to
`scan_span`, in worker processes when the chain is long: each span is read with the bare
driver (sqlite3, or a psycopg server-side cursor: no SQLAlchemy row processing), the
timestamp formatted by the database as the chain writes it, and each entry hashed over its
stored JSON as is (`orjson.Fragment`: the writer stored the canonical bytes it hashed, so
nothing is parsed and encoded again; only an entry whose stored text is not canonical is
re-encoded). A span checks everything that lies inside it: contiguous places, every hash,
every link but its first, the per-customer index; it reports where it stopped being good,
the first entry's `prev_hash` and the last hash (so that the verifier joins the spans), and
the hashes found at the seqs it was asked for (checkpoints). It never names a problem: the
verifier walks a span that did not verify with its sequential walk, which does.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import orjson
from sqlalchemy import Connection

from gateway.audit.chain import HASHED_FIELDS

_SORT = orjson.OPT_SORT_KEYS
_FETCH = 20_000
# The hashed fields in sorted order: a dict built in this order encodes as orjson's
# OPT_SORT_KEYS would, without the sort.
_ORDER = ("action", "actor", "actor_type", "decision", "detail", "occurred_at", "operation",
          "prev_hash", "purpose", "request_id", "role", "seq", "subjects")
assert tuple(sorted(HASHED_FIELDS)) == _ORDER

_COLUMNS = ("e.seq, {when}, e.request_id, e.actor_type, e.actor, e.role, e.purpose, e.action, "
            "e.operation, e.decision, {subjects}, {detail}, e.prev_hash, e.entry_hash, {refs}")
# SQLite probes the index per entry (in process, an index probe costs little). PostgreSQL
# reads the span's refs after its entries, grouped in one index range scan over the span's
# ids: a correlated subquery per entry cost 1.5 s of 1.9 s per 100,000-entry span in
# EXPLAIN ANALYZE (2026-12-01), the grouped range about 0.45 s.
_SQLITE_WHEN = ("CASE WHEN length(e.occurred_at) = 19 THEN replace(e.occurred_at, ' ', 'T') || "
                "'.000000Z' ELSE replace(e.occurred_at, ' ', 'T') || 'Z' END")
_PG_WHEN = "to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
# The index's refs of each entry, as one string (refs are base64url pseudonyms: no spaces),
# gathered by the database next to the entry: no per-ref Python object, no dict.
_SQLITE_REFS = "(SELECT group_concat(s.ref, ' ') FROM audit_subjects s WHERE s.audit_id = e.id)"
_PG_GROUPED_REFS = ("SELECT s.audit_id, string_agg(s.ref, ' ') FROM audit_subjects s "
                    "WHERE s.audit_id BETWEEN %s AND %s GROUP BY s.audit_id")
_SQLITE_ROWS = (f"SELECT {_COLUMNS.format(when=_SQLITE_WHEN, subjects='e.subjects', detail='e.detail', refs=_SQLITE_REFS)} "
                "FROM audit_events e WHERE e.seq BETWEEN ? AND ? ORDER BY e.seq")
_PG_ROWS = (f"SELECT {_COLUMNS.format(when=_PG_WHEN, subjects='e.subjects::text', detail='e.detail::text', refs='e.id')} "
            "FROM audit_events e WHERE e.seq BETWEEN %s AND %s ORDER BY e.seq")


@dataclass(frozen=True)
class Source:
    """Where the chain is, for a bare driver connection: `sqlite` and a file path, or
    `postgresql` and a libpq connection string."""

    kind: str
    target: str


@dataclass
class Span:
    """What one span's scan found."""

    low: int
    high: int
    good_until: int  # the last seq of the unbroken good run from `low` (low - 1: none)
    first_prev: str | None = None  # prev_hash of the entry at `low`
    last_hash: str | None = None  # hash of the entry at `good_until`
    hashes: dict[int, str] = field(default_factory=dict)  # found hash of each wanted seq

    @property
    def complete(self) -> bool:
        """True when every entry of the span verified."""
        return self.good_until == self.high


def _reencoded_hash(row: tuple[Any, ...]) -> str:
    """The hash over the entry's JSON parsed and encoded again (stored text not canonical)."""
    doc = dict(zip(HASHED_FIELDS, row, strict=False))
    doc["subjects"], doc["detail"] = orjson.loads(row[10]), orjson.loads(row[11])
    return hashlib.sha256(orjson.dumps(doc, option=_SORT)).hexdigest()


def _refs_hold(subjects: str | bytes, index: str | None) -> bool:
    """True when the index holds exactly the refs the entry's subjects name."""
    refs = {s["ref"] for s in orjson.loads(subjects) if isinstance(s, dict) and "ref" in s}
    return refs == (set(index.split(" ")) if index else set())


def _connect(source: Source) -> Any:
    if source.kind == "sqlite":
        return sqlite3.connect(f"file:{quote(source.target)}?mode=ro", uri=True, timeout=30)
    import psycopg  # only where PostgreSQL is used

    # No JIT: compiling the span statement's expressions costs more CPU (about a second a
    # span) than it saves on 100,000 rows; no parallel workers: the spans are the
    # parallelism, each parallel worker would build its own copy of the plan's state.
    return psycopg.connect(source.target, autocommit=False,
                           options="-c jit=off -c max_parallel_workers_per_gather=0")


def _rows(source: Source, conn: Any, low: int, high: int) -> tuple[Iterator[tuple[Any, ...]], Callable[[], None]]:
    """The span's rows (streamed) and what closes their cursor."""
    if source.kind == "sqlite":
        stream = conn.cursor()
        stream.execute(_SQLITE_ROWS, (low, high))
    else:
        stream = conn.cursor("audit_span")  # server-side: streamed, not all in memory
        stream.execute(_PG_ROWS, (low, high))

    def rows() -> Iterator[tuple[Any, ...]]:
        while batch := stream.fetchmany(_FETCH):
            yield from batch

    return rows(), stream.close


def _grouped_refs(conn: Any, ids: list[int]) -> dict[int, str]:
    """PostgreSQL: the index's refs of the entries `ids`, one string per entry (by id)."""
    if not ids:
        return {}
    with conn.cursor() as cursor:
        cursor.execute(_PG_GROUPED_REFS, (min(ids), max(ids)))
        return dict(cursor.fetchall())


def scan_span(source: Source, low: int, high: int, wanted: Iterable[int] = ()) -> Span:
    """Verify the entries at `low`..`high` (links inside the span only); see the module."""
    want = frozenset(wanted)
    span = Span(low, high, low - 1)
    conn = _connect(source)
    rows, close = _rows(source, conn, low, high)
    dumps, fragment, sha256 = orjson.dumps, orjson.Fragment, hashlib.sha256
    deferred = source.kind != "sqlite"  # the index is checked after the span's rows
    checked: list[tuple[int, str | bytes, str]] = []  # (id, subjects, hash), when deferred
    try:
        expected, prev = low, None
        for row in rows:
            (seq, when, request_id, actor_type, actor, role, purpose, action, operation, decision,
             subjects, detail, prev_hash, stored, index) = row
            if seq != expected or (prev is not None and prev_hash != prev):
                break
            try:
                found = sha256(dumps({
                    "action": action, "actor": actor, "actor_type": actor_type,
                    "decision": decision, "detail": fragment(detail), "occurred_at": when,
                    "operation": operation, "prev_hash": prev_hash, "purpose": purpose,
                    "request_id": request_id, "role": role, "seq": seq,
                    "subjects": fragment(subjects)})).hexdigest()
                if found != stored:
                    found = _reencoded_hash(row)
                if found != stored or not (deferred or _refs_hold(subjects, index)):
                    break
            except (orjson.JSONDecodeError, TypeError, ValueError):  # the walk will say what
                break
            if prev is None:
                span.first_prev = prev_hash
            if seq in want:
                span.hashes[seq] = found
            if deferred:
                checked.append((index, subjects, found))  # `index` holds the entry's id here
            prev, expected = found, seq + 1
        close()
        if deferred:
            expected, prev = _index_holds(conn, checked, low, expected, prev)
        span.good_until, span.last_hash = expected - 1, prev
    finally:
        conn.close()
    return span


def _index_holds(conn: Any, checked: list[tuple[int, str | bytes, str]], low: int, expected: int,
                 prev: str | None) -> tuple[int, str | None]:
    """The span's good run cut at the first entry whose index refs do not hold: (the seq
    after it, the last good hash)."""
    refs = _grouped_refs(conn, [entry_id for entry_id, _, _ in checked])
    for n, (entry_id, subjects, _found) in enumerate(checked):
        try:
            holds = _refs_hold(subjects, refs.get(entry_id))
        except (orjson.JSONDecodeError, TypeError, ValueError):
            holds = False
        if not holds:
            return low + n, checked[n - 1][2] if n else None
    return expected, prev


@dataclass(frozen=True)
class Fast:
    """How the span scan runs: where (`Source`), in how many processes, spans how long."""

    source: Source
    workers: int
    span: int
    parallel_from: int  # entries from which worker processes are worth their start


def source_of(conn: Connection) -> Source | None:
    """Where a bare driver finds `conn`'s database (None: in memory, or another driver)."""
    url = conn.engine.url
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:":
            return None
        return Source("sqlite", os.path.abspath(url.database))
    if url.get_backend_name() == "postgresql" and url.get_driver_name() == "psycopg":
        return Source("postgresql", url.set(drivername="postgresql").render_as_string(hide_password=False))
    return None


def pool_for(fast: Fast, entries: int) -> ProcessPoolExecutor | None:
    """Worker processes for a scan of `entries` entries, or None (scan here) when few."""
    if fast.workers < 2 or entries < fast.parallel_from:
        return None
    # fork is instant and shares the imports; a process with other threads spawns instead
    # (a fork could copy a lock another thread holds).
    method = "fork" if threading.active_count() == 1 and \
        "fork" in multiprocessing.get_all_start_methods() else "spawn"
    return ProcessPoolExecutor(fast.workers, mp_context=multiprocessing.get_context(method))


def scanned(fast: Fast, pool: ProcessPoolExecutor | None, spans: list[tuple[int, int]],
             wanted: list[int]) -> Iterator[Span]:
    """The spans' scans, in order (computed ahead by the pool, or one by one here)."""
    def want(low: int, high: int) -> list[int]:
        return [s for s in wanted if low <= s <= high]

    if pool is None:
        for low, high in spans:
            try:
                yield scan_span(fast.source, low, high, want(low, high))
            except Exception:  # noqa: BLE001 - the walk reads the span again and says what failed
                yield Span(low, high, low - 1)
        return
    futures: list[Future[Span]] = [pool.submit(scan_span, fast.source, low, high, want(low, high))
                                   for low, high in spans]
    for (low, high), future in zip(spans, futures, strict=True):
        try:
            yield future.result()
        except Exception:  # noqa: BLE001 - the walk reads the span again and says what failed
            yield Span(low, high, low - 1)
