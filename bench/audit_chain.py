"""Audit chain benchmark: append throughput (chained vs plain inserts) and verification speed.

    python bench/audit_chain.py                         # SQLite, 1,000,000 entries to verify
    python bench/audit_chain.py --db postgresql         # on GATEWAY_TEST_DATABASE_URL's server
    python bench/audit_chain.py --entries 100000 --threads 8 --appends 3000
    python bench/audit_chain.py --hot-only                # write_entry per call, both backends

1. Append: `--threads` threads, then `--processes` OS processes (as uvicorn workers would),
   each append through `write_entry` (one transaction per entry, the head row lock, hashing,
   subject refs, checkpoints every 1,000), against plain inserts of the same rows into the
   same table (one transaction each, no chain) in a second fresh database of the same
   schema, in the same run. Reports entries/s and the ratio.
2. Verify: `--entries` properly chained rows are computed in Python and bulk inserted (with a
   signed checkpoint every 1,000), then, `--verify-runs` times, the floor (every entry and
   index row streamed with the bare driver, no checks) and `verify_chain(full=True)` (span
   scan in worker processes, then the walk); once the sequential walk alone (`workers=0`,
   the verification before the span scan). Target: 1,000,000 entries in under 5 s.
3. Hot path (`--hot-runs`, default 5): in-process time of one `write_entry` call as a list
   read of 20 customers and 30 fields makes it (commit excluded), median per run, on SQLite
   and PostgreSQL.

Results go to bench/results/audit_chain-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import multiprocessing
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import insert, text, update

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench._setup import postgres_database
from gateway.audit.chain import GENESIS, checkpoint_message, entry_hash
from gateway.audit.group import GroupCommitter
from gateway.audit.service import AuditEntry, checkpoint_policy, prepare, write_entry
from gateway.audit.tables import audit_chain_head, audit_checkpoints, audit_events, audit_subjects
from gateway.audit.verify import verify_chain
from gateway.config import Settings
from gateway.privacy.pseudonyms import PseudonymService
from gateway.privacy.signing import Signer
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade

MASTER = bytes(range(32))


@contextlib.contextmanager
def database(kind: str) -> Iterator[str]:
    """A fresh migrated database (SQLite file or PostgreSQL database), removed afterwards."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/audit.db"
            upgrade(url)
            yield url
        return
    with postgres_database() as url:
        upgrade(url)
        yield url


def _entry(i: int) -> AuditEntry:
    return AuditEntry(actor_type="app", actor="bench-app", action="read", role="support",
                      purpose="support", operation="customers",
                      subjects=[(i % 1000 + 1, "ALLOWED"), (i % 777 + 1, "CONSENT_REQUIRED")],
                      fields={"firstName": "ALLOWED", "email": "ALLOWED", "city": "ALLOWED"})


def _run_threads(threads: int, total: int, work: Any) -> float:
    counter = itertools.count()
    lock = threading.Lock()

    def loop() -> None:
        while True:
            with lock:
                i = next(counter)
            if i >= total:
                return
            work(i)

    started = time.perf_counter()
    pool = [threading.Thread(target=loop) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return total / (time.perf_counter() - started)


def bench_append(kind: str, threads: int, appends: int) -> dict[str, float]:
    """Chained appends vs plain inserts, entries/s, same thread count."""
    pseudonyms, signer = PseudonymService(MASTER), Signer(MASTER)
    audit = pseudonyms.for_audit()
    settings = Settings(audit_checkpoint_every=1000, audit_checkpoint_seconds=3600)
    with database(kind) as plain_url, database(kind) as chain_url:
        plain_engine = make_engine(plain_url, **({} if kind == "sqlite" else {"pool_size": threads}))
        chain_engine = make_engine(chain_url, **({} if kind == "sqlite" else {"pool_size": threads}))

        def plain(i: int) -> None:
            e = _entry(i)
            with plain_engine.begin() as conn:
                conn.execute(insert(audit_events).values(
                    seq=i + 1, occurred_at=e.occurred_at, request_id=e.request_id,
                    actor_type=e.actor_type, actor=e.actor, role=e.role, purpose=e.purpose,
                    action=e.action, operation=e.operation, decision=e.decision(),
                    subjects=[{"ref": audit.customer_id(c), "code": k} for c, k in e.subjects],
                    detail={"fields": e.fields, "errors": e.errors}))

        def chained(i: int) -> None:
            with chain_engine.begin() as conn:
                write_entry(conn, _entry(i), audit, signer, settings)

        plain_rate = _run_threads(threads, appends, plain)
        chain_rate = _run_threads(threads, appends, chained)
        ok = verify_chain(chain_engine, signer.jwks()).ok
        plain_engine.dispose()
        chain_engine.dispose()
    return {"plain_per_s": round(plain_rate), "chained_per_s": round(chain_rate),
            "ratio": round(chain_rate / plain_rate, 3), "chain_valid": ok}


def _process_worker(url: str, mode: str, first: int, count: int, barrier: Any, threads: int) -> None:
    """One OS process appending `count` entries from `threads` threads (each one entry at a
    time, waiting for it, as requests do), started by `barrier`. `mode`: plain (insert, one
    transaction each, no chain), chained (`write_entry`, one transaction each) or group
    (`GroupCommitter`: the entries of the process's threads committed in groups)."""
    pseudonyms, signer = PseudonymService(MASTER), Signer(MASTER)
    audit = pseudonyms.for_audit()
    settings = Settings(audit_checkpoint_every=1000, audit_checkpoint_seconds=3600)
    engine = make_engine(url, **({} if url.startswith("sqlite") else {"pool_size": threads + 2}))
    committer = GroupCommitter(engine, signer, checkpoint_policy(settings))
    with engine.connect() as conn:  # connect before the clock starts
        conn.execute(text("SELECT 1"))

    def one(i: int) -> None:
        if mode == "group":
            committer.submit(prepare(_entry(i), audit)).result()
            return
        with engine.begin() as conn:
            if mode == "chained":
                write_entry(conn, _entry(i), audit, signer, settings)
            else:
                e = _entry(i)
                conn.execute(insert(audit_events).values(
                    seq=i + 1, occurred_at=e.occurred_at, request_id=e.request_id,
                    actor_type=e.actor_type, actor=e.actor, role=e.role, purpose=e.purpose,
                    action=e.action, operation=e.operation, decision=e.decision(),
                    subjects=[{"ref": audit.customer_id(c), "code": k} for c, k in e.subjects],
                    detail={"fields": e.fields, "errors": e.errors}))

    share = count // threads

    def client(n: int) -> None:
        for i in range(first + n * share, first + (n + 1) * share):
            one(i)

    pool = [threading.Thread(target=client, args=(n,)) for n in range(threads)]
    barrier.wait()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    barrier.wait()
    committer.close()
    engine.dispose()


def _run_processes(url: str, mode: str, processes: int, total: int, threads: int = 1) -> float:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(processes + 1)
    share = total // processes // threads * threads
    workers = [ctx.Process(target=_process_worker, args=(url, mode, n * share, share, barrier, threads))
               for n in range(processes)]
    for w in workers:
        w.start()
    barrier.wait()
    started = time.perf_counter()
    barrier.wait()
    elapsed = time.perf_counter() - started
    for w in workers:
        w.join()
    return share * processes / elapsed


def bench_append_processes(kind: str, processes: int, appends: int, threads: int,
                           runs: int) -> dict[str, Any]:
    """Plain inserts, chained appends and group-committed appends from `processes` OS processes
    (like uvicorn workers) of `threads` threads each, entries/s, medians of `runs`."""
    rates: dict[str, list[float]] = {"plain": [], "chained": [], "group": []}
    valid = True
    for _ in range(runs):
        for mode, found in rates.items():
            with database(kind) as url:
                found.append(_run_processes(url, mode, processes, appends, threads))
                if mode != "plain":
                    engine = make_engine(url)
                    valid = valid and verify_chain(engine, Signer(MASTER).jwks()).ok
                    engine.dispose()
            print(f"  {mode}: {found[-1]:.0f} entries/s", flush=True)
    med = {m: round(statistics.median(r)) for m, r in rates.items()}
    return {"processes": processes, "threads_per_process": threads,
            "plain_per_s": med["plain"], "chained_per_s": med["chained"], "group_per_s": med["group"],
            "chained/plain": round(med["chained"] / med["plain"], 3),
            "group/plain": round(med["group"] / med["plain"], 3),
            "group/chained": round(med["group"] / med["chained"], 2),
            "runs": {m: [round(x) for x in r] for m, r in rates.items()}, "chain_valid": valid}


_HOT_FIELDS = {f"field{i}": ("ALLOWED" if i % 4 else "POLICY_DENIED") for i in range(30)}


def _hot_entry(i: int) -> AuditEntry:
    return AuditEntry(actor_type="app", actor="bench-app", action="read", role="support",
                      purpose="support", operation="customers",
                      subjects=[((i * 20 + k) % 5000 + 1, "ALLOWED") for k in range(20)],
                      fields=dict(_HOT_FIELDS), errors={"POLICY_DENIED": 20})


def bench_write_entry(kind: str, runs: int, calls: int = 400) -> dict[str, Any]:
    """Microseconds per `write_entry` call (one request's append, commit excluded)."""
    audit, signer = PseudonymService(MASTER).for_audit(), Signer(MASTER)
    settings = Settings(audit_checkpoint_every=1000, audit_checkpoint_seconds=60)
    medians: list[float] = []
    with database(kind) as url:
        engine = make_engine(url)
        for run in range(runs):
            times: list[float] = []
            for i in range(calls):
                entry = _hot_entry(run * calls + i)
                with engine.connect() as conn:
                    started = time.perf_counter()
                    write_entry(conn, entry, audit, signer, settings)
                    times.append(time.perf_counter() - started)
                    conn.commit()
            medians.append(statistics.median(times) * 1e6)
        engine.dispose()
    return {"db": kind, "runs_us": [round(m) for m in medians], "median_us": round(statistics.median(medians))}


def generate(url: str, entries: int, batch: int = 20_000) -> float:
    """Bulk insert `entries` properly chained rows (and checkpoints); seconds taken."""
    signer, audit = Signer(MASTER), PseudonymService(MASTER).for_audit()
    refs = [audit.customer_id(i) for i in range(1, 1001)]
    # The JSON columns as the chain writer stores them: the canonical bytes it hashed.
    engine = make_engine(url, json_serializer=lambda v: orjson.dumps(v, option=orjson.OPT_SORT_KEYS).decode())
    started = time.perf_counter()
    prev, t0 = GENESIS, datetime(2026, 1, 1, tzinfo=UTC)
    with engine.begin() as conn:
        rows: list[dict[str, Any]] = []
        refs_rows: list[dict[str, Any]] = []  # the per-customer index verification checks
        cps: list[dict[str, Any]] = []
        for seq in range(1, entries + 1):
            row = {"id": seq, "seq": seq, "occurred_at": t0 + timedelta(milliseconds=seq),
                   "request_id": f"00000000-0000-4000-8000-{seq:012d}", "actor_type": "app",
                   "actor": "bench-app", "role": "support", "purpose": "support", "action": "read",
                   "operation": "customers", "decision": "allow",
                   "subjects": [{"ref": refs[seq % 1000], "code": "ALLOWED"}],
                   "detail": {"fields": {"firstName": "ALLOWED", "city": "ALLOWED"}, "errors": {}},
                   "prev_hash": prev}
            row["entry_hash"] = prev = entry_hash(row)
            rows.append(row)
            refs_rows.append({"audit_id": seq, "ref": refs[seq % 1000]})
            if seq % 1000 == 0 or seq == entries:
                when = t0 + timedelta(milliseconds=seq)
                cps.append({"seq": seq, "entry_hash": prev, "signed_at": when, "kid": signer.kid,
                            "signature": signer.sign(checkpoint_message(seq, prev, when, signer.kid))})
            if len(rows) >= batch:
                conn.execute(insert(audit_events), rows)
                conn.execute(insert(audit_subjects), refs_rows)
                rows, refs_rows = [], []
        if rows:
            conn.execute(insert(audit_events), rows)
            conn.execute(insert(audit_subjects), refs_rows)
        conn.execute(insert(audit_checkpoints), cps)
        conn.execute(update(audit_chain_head).values(
            seq=entries, head_hash=prev, last_checkpoint_seq=entries, last_checkpoint_at=t0))
    engine.dispose()
    return time.perf_counter() - started


def _stream_floor(url: str) -> float:
    """Seconds to stream every entry and index row with the bare driver (no checks): the floor."""
    source = _verify_source(url)
    started = time.perf_counter()
    if source.kind == "sqlite":
        conn: Any = sqlite3.connect(source.target)
        cursors = [conn.cursor(), conn.cursor()]
    else:
        import psycopg

        conn = psycopg.connect(source.target)
        cursors = [conn.cursor("floor_events"), conn.cursor("floor_refs")]
    # The columns as text, as the verifier reads them (no JSON or timestamp parsing).
    cast = "" if source.kind == "sqlite" else "::text"
    cursors[0].execute(f"SELECT id, seq, occurred_at{cast}, request_id, actor_type, actor, role, purpose, "
                       f"action, operation, decision, subjects{cast}, detail{cast}, prev_hash, entry_hash "
                       "FROM audit_events ORDER BY seq")
    cursors[1].execute("SELECT audit_id, ref FROM audit_subjects")
    rows = 0
    for cursor in cursors:
        while batch := cursor.fetchmany(20_000):
            rows += len(batch)
        cursor.close()
    conn.close()
    return time.perf_counter() - started


def _verify_source(url: str) -> Any:
    from sqlalchemy.engine import make_url

    from gateway.audit.scan import Source

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return Source("sqlite", str(parsed.database))
    return Source("postgresql", parsed.set(drivername="postgresql").render_as_string(hide_password=False))


def bench_verify(kind: str, entries: int, runs: int, before: bool) -> dict[str, Any]:
    """Generate `entries` chained rows; then, `runs` times: the bare streaming floor and a full
    verification; once (`before`) the sequential walk alone (workers=0: the path before the
    span scan)."""
    out: dict[str, Any] = {"entries": entries}
    with database(kind) as url:
        out["generate_s"] = round(generate(url, entries), 1)
        engine = make_engine(url)
        jwks = Signer(MASTER).jwks()
        floors, fast = [], []
        for _ in range(runs):
            floors.append(_stream_floor(url))
            result = verify_chain(engine, jwks, full=True, remember=False)
            assert result.ok and result.entries == entries, result
            fast.append(result.seconds)
            print(f"  verify run: floor {floors[-1]:.2f} s, verify {fast[-1]:.2f} s", flush=True)
        out.update(floor_s=round(statistics.median(floors), 2), verify_s=round(statistics.median(fast), 2),
                   verify_runs_s=fast, floor_runs_s=[round(f, 2) for f in floors],
                   ratio_to_floor=round(statistics.median(fast) / statistics.median(floors), 2),
                   verify_per_s=round(entries / statistics.median(fast)), target_s=5.0,
                   valid=True, checkpoints=result.checkpoints)
        if before:
            walk = verify_chain(engine, jwks, full=True, remember=False, workers=0)
            assert walk.ok
            out["sequential_walk_s"] = walk.seconds
        engine.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--processes", type=int, default=4, help="0: skip the process variant")
    parser.add_argument("--appends", type=int, default=3000)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--hot-runs", type=int, default=5, help="0: skip the write_entry timing")
    parser.add_argument("--hot-only", action="store_true", help="only the write_entry timing")
    parser.add_argument("--verify-runs", type=int, default=3)
    parser.add_argument("--process-threads", type=int, default=16,
                        help="threads per process in the process variant (concurrent requests)")
    parser.add_argument("--append-runs", type=int, default=3)
    parser.add_argument("--no-before", action="store_true",
                        help="skip the sequential walk (the verification before the span scan)")
    args = parser.parse_args()
    out: dict[str, Any] = {"db": args.db, "threads": args.threads}
    if args.hot_only:
        args.appends = args.entries = 0
    if args.hot_runs:
        out["write_entry"] = [bench_write_entry(kind, args.hot_runs) for kind in ("sqlite", "postgresql")]
        for found in out["write_entry"]:
            print("write_entry:", json.dumps(found), flush=True)
    if args.appends:
        out["append"] = bench_append(args.db, args.threads, args.appends)
        print("append (threads):", json.dumps(out["append"]), flush=True)
    if args.appends and args.processes:
        out["append_processes"] = bench_append_processes(args.db, args.processes, args.appends,
                                                         args.process_threads, args.append_runs)
        print("append (processes):", json.dumps(out["append_processes"]), flush=True)
    if args.entries:
        out["verify"] = bench_verify(args.db, args.entries, args.verify_runs, not args.no_before)
        print("verify:", json.dumps(out["verify"]), flush=True)
    results = REPO / "bench" / "results"
    results.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (results / f"audit_chain-{stamp}.json").write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
