"""Consent import throughput (CLI, SQLite and PostgreSQL) and recordConsent latency over HTTP.

    python bench/consent_import.py                     # 100,000 rows, both databases, 3 runs
    python bench/consent_import.py --rows 20000 --db sqlite --calls 200 --repeat 1

Each run, per database: a fresh migrated database seeded with `--customers` demo customers
and a CSV of `--rows` consent events over them.

- import: `consent-gateway consents import` as a subprocess (the real CLI: validation of
  every row, progress bars, the derived state, the audit entry, one transaction), timed
  from process start to exit; then run again, which must insert nothing (idempotency).
- import floor (same run, same database): the same CSV rows inserted with SQLAlchemy Core
  `executemany` into a copy of `consent_events` (same columns, keys and indexes), in
  batches of 5,000, one transaction, no validation, no state, no audit.
- HTTP: the gateway under uvicorn (one worker, pinned to CPU 0 when taskset exists), and
  `--calls` sequential recordConsent mutations over a real socket (httpx, keep-alive)
  from this process; the p50 / p95. Floor (same run, same database, same way): a plain
  Starlette endpoint under uvicorn that inserts one consent event with SQLAlchemy Core and
  commits (`bench.consent_import:floor_app`). Both servers run at once (both on CPU 0) and
  the calls alternate, gateway then floor, so that the load of the machine weighs on both.

Medians over `--repeat` runs are printed with the ratios; everything is written as JSON
to bench/results/consent_import-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._load import pin_prefix
from bench._servers import _rate_limits
from bench._setup import MASTER_KEY, POLICY_DIR, REPO, bench_database

PURPOSES = [("marketing_email", 2), ("marketing_sms", 2), ("marketing_push", 1), ("ads_audience", 1)]
ACTIONS = ("grant", "grant", "deny", "withdraw")
CLI = Path(sys.executable).parent / "consent-gateway"
WARMUP = 20


def _env(url: str) -> dict[str, str]:
    return {**os.environ, "GATEWAY_DATABASE_URL": url, "GATEWAY_MASTER_KEY": MASTER_KEY,
            "GATEWAY_POLICY_DIR": str(POLICY_DIR),
            "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}


def _customer_ids(url: str) -> list[int]:
    from sqlalchemy import create_engine, select

    from gateway.profile.tables import customers

    engine = create_engine(url)
    with engine.connect() as conn:
        ids = [int(i) for i in conn.execute(select(customers.c.id)).scalars()]
    engine.dispose()
    return ids


def write_csv(path: Path, rows: int, ids: list[int], seed: int = 3) -> None:
    """`rows` distinct consent events over the customers `ids`."""
    rng = random.Random(seed)
    start = datetime(2025, 10, 1, tzinfo=UTC)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["customer_id", "purpose", "notice_version", "action", "occurred_at",
                         "source_channel", "evidence", "expires_at"])
        for n in range(rows):
            purpose, version = rng.choice(PURPOSES)
            when = start + timedelta(seconds=n * 7 + rng.randrange(7))
            writer.writerow([rng.choice(ids), purpose, version, rng.choice(ACTIONS),
                             when.isoformat(), "import", f"batch-{n // 1000}", ""])


def run_import(url: str, data: Path) -> tuple[float, str]:
    """Seconds for the CLI import (process start to exit) and its summary line."""
    started = time.perf_counter()
    done = subprocess.run([str(CLI), "consents", "import", str(data), "--format", "csv"],
                          env=_env(url), capture_output=True, text=True, check=True)
    return time.perf_counter() - started, done.stderr.strip().splitlines()[-1]


def floor_insert(url: str, data: Path) -> float:
    """Seconds to insert the CSV's rows with plain Core executemany into a copy of the table."""
    from sqlalchemy import MetaData, Table, create_engine, insert

    from gateway.consent.tables import consent_events

    engine = create_engine(url)
    meta = MetaData()
    meta.reflect(engine, only=["customers", "apps"])  # the tables its foreign keys name
    # Same columns, keys, unique index and foreign keys; constraint names left to the database.
    copy = Table("bench_floor_events", meta, *(c._copy() for c in consent_events.columns))
    copy.create(engine)
    now = datetime.now(UTC)
    started = time.perf_counter()
    with data.open(encoding="utf-8", newline="") as fh, engine.begin() as conn:
        batch: list[dict[str, Any]] = []
        for n, row in enumerate(csv.DictReader(fh)):
            batch.append({
                "customer_id": int(row["customer_id"]), "purpose": row["purpose"],
                "notice_version": int(row["notice_version"]), "action": row["action"],
                "occurred_at": datetime.fromisoformat(row["occurred_at"]), "recorded_at": now,
                "source_channel": row["source_channel"],
                # the column holds sealed bytes now; the floor stores the raw text as bytes
                "evidence": row["evidence"].encode(),
                "idempotency_key": f"floor:{n}",
            })
            if len(batch) == 5000:
                conn.execute(insert(copy), batch)
                batch = []
        if batch:
            conn.execute(insert(copy), batch)
    elapsed = time.perf_counter() - started
    copy.drop(engine)
    engine.dispose()
    return elapsed


# --- HTTP -------------------------------------------------------------------------------------


def floor_app() -> Any:
    """The HTTP floor: parse a JSON body, insert one consent event with Core, commit, answer."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from gateway.consent.tables import consent_events
    from gateway.store.db import make_engine

    engine = make_engine(os.environ["GATEWAY_DATABASE_URL"])
    stmt = consent_events.insert().returning(consent_events.c.id)

    def _insert(body: dict[str, Any]) -> int:
        now = datetime.now(UTC)
        with engine.begin() as conn:
            return int(conn.execute(stmt, {
                "customer_id": int(body["customerId"]), "purpose": body["purpose"],
                "notice_version": body["noticeVersion"], "action": body["action"],
                "occurred_at": now, "recorded_at": now, "source_channel": body["sourceChannel"],
                "evidence": body["evidence"].encode(),
            }).scalar_one())

    async def record(request: Request) -> JSONResponse:
        from starlette.concurrency import run_in_threadpool

        body = await request.json()
        return JSONResponse({"id": await run_in_threadpool(_insert, body)})

    return Starlette(routes=[Route("/record", record, methods=["POST"])])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def _server(app: str, url: str, probe: str, extra: dict[str, str] | None = None) -> Iterator[str]:
    """A uvicorn worker for `app` (a factory), pinned to CPU 0; its base URL."""
    import httpx

    port = _free_port()
    cmd = [*pin_prefix(0), sys.executable, "-m", "uvicorn", app, "--factory", "--host",
           "127.0.0.1", "--port", str(port), "--workers", "1", "--no-access-log",
           "--log-level", "warning"]
    process = subprocess.Popen(cmd, env={**_env(url), **(extra or {})}, cwd=str(REPO))
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(base + probe, timeout=1).status_code < 500:
                    break
            time.sleep(0.1)
        else:
            raise RuntimeError(f"{app} did not start")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def _percentiles(timings: list[float]) -> dict[str, float]:
    timings = sorted(timings)
    return {"p50_ms": round(statistics.median(timings), 3),
            "p95_ms": round(timings[int(len(timings) * 0.95) - 1], 3), "calls": len(timings)}


def http_latency(url: str, calls: int) -> dict[str, Any]:
    """recordConsent over HTTP and the plain-insert floor, sequential calls, one socket each."""
    import httpx
    from sqlalchemy import create_engine

    from gateway.auth.apps import create_app as create_caller
    from gateway.consent.purposes import load_purposes
    from gateway.policy import PolicyEngine
    from gateway.privacy.keys import load_or_create_master_key
    from gateway.privacy.pseudonyms import PseudonymService

    engine = create_engine(url)
    roles = PolicyEngine(POLICY_DIR, load_purposes(POLICY_DIR / "purposes.yaml")).roles()
    with engine.begin() as conn:
        caller, key = create_caller(conn, "bench-call-center", "call_center", roles)
    engine.dispose()
    ids = _customer_ids(url)
    master = load_or_create_master_key(MASTER_KEY, Path(tempfile.gettempdir()) / "unused.key")
    pseudonyms = PseudonymService(master).for_app(caller.app_id)
    query = ("mutation($input: RecordConsentInput!) { recordConsent(input: $input) { __typename "
             "... on RecordConsentSuccess { receipt { id } } ... on MutationError { code } } }")
    headers = {"Authorization": f"Bearer {key}", "X-Purpose": "support"}

    def given(n: int, customer: str) -> dict[str, Any]:
        return {"customerId": customer, "purpose": "marketing_email", "noticeVersion": 2,
                "action": "grant" if n % 3 else "withdraw", "sourceChannel": "call_center",
                # a staff grant needs the customer's word as evidence (gateway/consent/access.py)
                "evidence": f"call-{n}"}

    gateway: list[float] = []
    floor: list[float] = []
    # The rate limiter runs on every call, with limits too high to refuse any (as profile_read).
    limits = _rate_limits(dict(os.environ), Path(tempfile.mkdtemp(prefix="bench-limits-")))
    # Both servers run at once and the calls alternate (gateway, floor, gateway, ...), so that
    # a change of the machine's load during the run weighs on both alike.
    with _server("gateway.app:create_app", url, "/healthz", limits) as gw_base, \
            _server("bench.consent_import:floor_app", url, "/record") as floor_base, \
            httpx.Client(base_url=gw_base) as gw_client, httpx.Client(base_url=floor_base) as floor_client:
        for n in range(calls + WARMUP):
            body = {"query": query, "variables": {"input": given(n, pseudonyms.customer_id(ids[n % len(ids)]))}}
            started = time.perf_counter()
            answer = gw_client.post("/graphql", json=body, headers=headers)
            elapsed = time.perf_counter() - started
            assert answer.status_code == 200 and "RecordConsentSuccess" in answer.text, answer.text
            if n >= WARMUP:
                gateway.append(elapsed * 1000)
            started = time.perf_counter()
            answer = floor_client.post("/record", json=given(n, str(ids[n % len(ids)])))
            elapsed = time.perf_counter() - started
            assert answer.status_code == 200, answer.text
            if n >= WARMUP:
                floor.append(elapsed * 1000)
    return {"record_consent": _percentiles(gateway), "floor_plain_insert": _percentiles(floor)}


def bench(kind: str, rows: int, customers: int, calls: int) -> dict[str, Any]:
    """One run on one database kind."""
    with tempfile.TemporaryDirectory() as tmp, bench_database(kind, Path(tmp), customers) as db:
        data = Path(tmp) / "consents.csv"
        write_csv(data, rows, _customer_ids(db.url))
        first, first_line = run_import(db.url, data)
        second, second_line = run_import(db.url, data)
        floor = floor_insert(db.url, data)
        result: dict[str, Any] = {
            "db": kind, "rows": rows, "customers": customers,
            "import_seconds": round(first, 2), "rows_per_second": round(rows / first),
            "floor_rows_per_second": round(rows / floor),
            "reimport_seconds": round(second, 2), "import_summary": first_line,
            "reimport_summary": second_line,
            "http": http_latency(db.url, calls) if calls else None,
        }
    print(json.dumps(result, indent=2), flush=True)
    return result


def summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the runs of one database kind, with the ratios to the floors."""
    def med(values: list[float]) -> float:
        return round(statistics.median(values), 3)

    out: dict[str, Any] = {"runs": len(results)}
    rps = med([r["rows_per_second"] for r in results])
    floor = med([r["floor_rows_per_second"] for r in results])
    out.update(import_rows_per_second=rps, floor_rows_per_second=floor,
               import_vs_floor=round(rps / floor, 3),
               import_rows_per_second_each=[r["rows_per_second"] for r in results])
    if results[0]["http"]:
        p50 = med([r["http"]["record_consent"]["p50_ms"] for r in results])
        fp50 = med([r["http"]["floor_plain_insert"]["p50_ms"] for r in results])
        out.update(record_consent_p50_ms=p50, floor_p50_ms=fp50,
                   record_consent_vs_floor=round(p50 / fp50, 2),
                   record_consent_p95_ms=med([r["http"]["record_consent"]["p95_ms"] for r in results]),
                   record_consent_p50_each=[r["http"]["record_consent"]["p50_ms"] for r in results])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    runs: dict[str, list[dict[str, Any]]] = {k: [] for k in kinds}
    for _ in range(args.repeat):
        for kind in kinds:
            runs[kind].append(bench(kind, args.rows, args.customers, args.calls))
    medians = {kind: summary(found) for kind, found in runs.items()}
    print(json.dumps({"medians": medians}, indent=2))
    out = REPO / "bench" / "results" / f"consent_import-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"args": vars(args), "runs": runs, "medians": medians}, indent=2),
                   encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
