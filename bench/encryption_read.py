"""What encryption at rest costs on the read path, and how fast erasure (crypto-shredding) is.

Read: the gateway's in-process endpoint path (`GraphQLEndpoint._handle`: authentication,
execution, policy, audit entry, commit) answers bench/_floors.py's `customers(first: 20)` read
(30 fields and orders; app `support`, purpose `service`, which opens every sealed identifier:
names and birth date raw, email/phone/street/card masked) over two storage formats of the
same seeded data, in the same run:

  sealed     the real storage: identifiers AES-GCM-sealed under per-customer data keys,
             one unwrap per customer per request, only selected and allowed fields opened;
  plaintext  a copy of the database whose sealed columns hold the UTF-8 plaintext, read by
             the same gateway with `open_column` swapped for a decode (same SQL, same plan).

Runs alternate (sealed, plaintext, sealed, ...); each run times `--requests` calls; medians
over `--runs`. The ratio is plaintext time / sealed time (1.0: encryption is free).

Erasures: per erased customer, one transaction that destroys the data key, deletes the
source records and deletes the customer row (orders, interactions, consent state cascade).

    /work/venv/bin/python bench/encryption_read.py [--db sqlite|postgresql] [--customers 500]
        [--runs 7] [--requests 200] [--erasures 200]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._floors import QUERY
from bench._setup import POLICY_DIR, BenchDatabase, bench_database, copy_database


def _settings(url: str, master_key: str) -> Any:
    from gateway.config import Settings

    return Settings(database_url=url, master_key=master_key, policy_dir=POLICY_DIR)


@contextlib.contextmanager
def plaintext_copy(db: BenchDatabase, workdir: Path) -> Iterator[str]:
    """A copy of `db` whose sealed columns hold plaintext UTF-8 bytes instead of ciphertext."""
    from sqlalchemy import select, update

    from gateway.app import build_services
    from gateway.profile.identity import SEALED, read_identity
    from gateway.profile.tables import customers
    from gateway.store.db import make_engine

    with copy_database(db.url, workdir, "plain") as url:
        services = build_services(_settings(url, db.master_key))
        engine = make_engine(url)
        try:
            with engine.begin() as conn:
                ids = list(conn.execute(select(customers.c.id)).scalars())
                for cid in ids:
                    identity = read_identity(conn, services.vault, cid) or {}
                    conn.execute(update(customers).where(customers.c.id == cid).values(**{
                        c: None if v is None else (v.isoformat() if isinstance(v, date) else v).encode()
                        for c, v in identity.items() if c in SEALED
                    }))
            yield url
        finally:
            services.engine.dispose()
            engine.dispose()


def _plain_open(_opener: Any, row: Any, column: str) -> Any:
    from gateway.profile.identity import SEALED

    blob = row._mapping[column]
    if blob is None:
        return None
    value = bytes(blob).decode()
    return date.fromisoformat(value) if SEALED[column] is date else value


@contextlib.contextmanager
def plaintext_reads() -> Iterator[None]:
    """The reader's decrypt step replaced by a decode, for the plaintext copy only."""
    from gateway.profile import reader

    saved = reader.open_column
    reader.open_column = _plain_open
    try:
        yield
    finally:
        reader.open_column = saved


def _endpoint(url: str, db: BenchDatabase) -> tuple[Any, Callable[[], None]]:
    from gateway.api.http import GraphQLEndpoint
    from gateway.api.schema import build_schema
    from gateway.app import build_services

    settings = _settings(url, db.master_key)
    services = build_services(settings)
    return GraphQLEndpoint(services, build_schema(settings)), services.engine.dispose


def _time(call: Callable[[], object], requests: int) -> float:
    """CPU microseconds of this process per call over `requests` calls.

    CPU time, not wall time: the machine is shared, and the read is single-threaded and in
    process (SQLite and the gateway both run on this thread; PostgreSQL's own work is not
    counted, the same for both formats).
    """
    started = time.process_time()
    for _ in range(requests):
        call()
    return (time.process_time() - started) / requests * 1e6


def bench_decrypt_step(db: BenchDatabase, runs: int) -> dict[str, float]:
    """The decrypt step alone: open every sealed column of one page of 20 customers."""
    from sqlalchemy import select

    from gateway.app import build_services
    from gateway.profile.identity import SEALED, open_column, with_data_key
    from gateway.profile.tables import customers

    services = build_services(_settings(db.url, db.master_key))
    try:
        with services.engine.connect() as conn:
            rows = conn.execute(with_data_key(select(customers)).order_by(customers.c.id).limit(20)).all()
    finally:
        services.engine.dispose()
    envelope = services.vault.envelope

    def page() -> None:
        opener = envelope.opener()
        for row in rows:
            for column in SEALED:
                open_column(opener, row, column)

    per_page = statistics.median(_time(page, 200) for _ in range(runs))
    fields = sum(row._mapping[c] is not None for row in rows for c in SEALED)
    return {"us_per_page": per_page, "customers": len(rows), "fields": fields}


def bench_reads(db: BenchDatabase, workdir: Path, runs: int, requests: int) -> dict[str, Any]:
    body = orjson.dumps({"query": QUERY})
    headers: dict[str, str | None] = {
        "authorization": f"Bearer {db.keys['support']}", "x-purpose": "service", "accept": None}
    with plaintext_copy(db, workdir) as plain_url:
        sealed_ep, close_a = _endpoint(db.url, db)
        plain_ep, close_b = _endpoint(plain_url, db)
        try:
            def sealed() -> object:
                return sealed_ep._handle(body, headers)

            def plain() -> object:
                with plaintext_reads():
                    return plain_ep._handle(body, headers)

            a, b = sealed(), plain()
            if a.body != b.body:  # the same answer, or the comparison means nothing
                raise RuntimeError("the plaintext copy answers differently from the sealed database")
            if b"errors" in a.body:
                raise RuntimeError(f"the read has errors: {a.body[:300]!r}")
            for _ in range(max(requests // 4, 10)):  # warm-up (caches, pools)
                sealed(), plain()
            times: dict[str, list[float]] = {"sealed": [], "plaintext": []}
            for _ in range(runs):
                times["sealed"].append(_time(sealed, requests))
                times["plaintext"].append(_time(plain, requests))
        finally:
            close_a()
            close_b()
    med = {k: statistics.median(v) for k, v in times.items()}
    return {"runs_us": times, "median_us": med, "ratio": med["plaintext"] / med["sealed"]}


def bench_erasures(db: BenchDatabase, count: int) -> dict[str, Any]:
    from sqlalchemy import delete, select

    from gateway.privacy.envelope import destroy_data_key
    from gateway.profile.tables import customers, source_records
    from gateway.store.db import make_engine

    engine = make_engine(db.url)
    try:
        with engine.connect() as conn:
            ids = list(conn.execute(select(customers.c.id).order_by(customers.c.id.desc())
                                    .limit(count)).scalars())
        started = time.perf_counter()
        for cid in ids:
            with engine.begin() as conn:
                destroy_data_key(conn, cid)
                conn.execute(delete(source_records).where(source_records.c.customer_id == cid))
                conn.execute(delete(customers).where(customers.c.id == cid))
        seconds = time.perf_counter() - started
    finally:
        engine.dispose()
    return {"erased": len(ids), "seconds": seconds, "per_second": len(ids) / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--customers", type=int, default=500)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--erasures", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, bench_database(args.db, Path(tmp), args.customers) as db:
        reads = bench_reads(db, Path(tmp), args.runs, args.requests)
        step = bench_decrypt_step(db, args.runs)
        erasures = bench_erasures(db, min(args.erasures, args.customers - 20))
    med = reads["median_us"]
    print(f"db={args.db} customers={args.customers} runs={args.runs} requests/run={args.requests}")
    print("read customers(first: 20), 30 fields + orders, app support / purpose service, in process")
    for name in ("plaintext", "sealed"):
        runs = " ".join(f"{t:.0f}" for t in reads["runs_us"][name])
        print(f"  {name:<9} median {med[name]:8.0f} CPU us/request  ({1e6 / med[name]:6.0f}/s)  runs: {runs}")
    print(f"  ratio sealed throughput / plaintext throughput: {reads['ratio']:.3f} "
          f"(encryption costs {med['sealed'] - med['plaintext']:.0f} us per request)")
    print(f"  decrypt step alone: {step['us_per_page']:.0f} us per page "
          f"({step['customers']} unwraps + {step['fields']} sealed values opened)")
    print(f"erasures (destroy data key + delete source records + delete customer, one transaction each): "
          f"{erasures['erased']} in {erasures['seconds']:.2f} s = {erasures['per_second']:.0f}/s")


if __name__ == "__main__":
    main()
