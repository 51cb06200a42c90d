"""Consent import throughput (CLI, SQLite and PostgreSQL) and recordConsent latency over HTTP.

    python bench/consent_import.py                       # 100,000 rows, both databases
    python bench/consent_import.py --rows 20000 --db sqlite --calls 200

For each database: a fresh migrated database seeded with `--customers` demo customers, a
CSV of `--rows` consent events over them, then `consent-gateway consents import` run as a
subprocess (the real CLI, progress bar and all) twice: the first run's rows/s is the figure,
the second must insert nothing (idempotency). Then `--calls` recordConsent mutations through
Starlette's TestClient (the whole ASGI app, audit entry included) give the p50 and p95.
Results are printed and written as JSON to bench/results/consent_import-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._setup import MASTER_KEY, POLICY_DIR, REPO, bench_database

PURPOSES = [("marketing_email", 2), ("marketing_sms", 2), ("marketing_push", 1), ("ads_audience", 1)]
ACTIONS = ("grant", "grant", "deny", "withdraw")
CLI = Path(sys.executable).parent / "consent-gateway"


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
    env = {**os.environ, "GATEWAY_DATABASE_URL": url, "GATEWAY_MASTER_KEY": MASTER_KEY,
           "GATEWAY_POLICY_DIR": str(POLICY_DIR)}
    started = time.perf_counter()
    done = subprocess.run([str(CLI), "consents", "import", str(data), "--format", "csv"],
                          env=env, capture_output=True, text=True, check=True)
    return time.perf_counter() - started, done.stderr.strip().splitlines()[-1]


def http_latency(url: str, calls: int) -> dict[str, float]:
    """recordConsent over HTTP (TestClient): p50 / p95 in milliseconds."""
    from starlette.testclient import TestClient

    from gateway.app import build_services, create_app
    from gateway.auth.apps import create_app as create_caller
    from gateway.config import Settings

    services = build_services(Settings(database_url=url, master_key=MASTER_KEY, policy_dir=POLICY_DIR))
    with services.engine.begin() as conn:
        caller, key = create_caller(conn, "bench-call-center", "call_center", services.policy.roles())
    ids = _customer_ids(url)
    pseudonyms = services.pseudonyms.for_app(caller.app_id)
    query = ("mutation($input: RecordConsentInput!) { recordConsent(input: $input) { __typename "
             "... on RecordConsentSuccess { receipt { id } } ... on MutationError { code } } }")
    headers = {"Authorization": f"Bearer {key}", "X-Purpose": "support"}
    timings: list[float] = []
    with TestClient(create_app(services=services)) as client:
        for n in range(calls + 20):
            given = {"customerId": pseudonyms.customer_id(ids[n % len(ids)]), "purpose": "marketing_email",
                     "noticeVersion": 2, "action": "grant" if n % 3 else "withdraw",
                     "sourceChannel": "call_center"}
            started = time.perf_counter()
            answer = client.post("/graphql", json={"query": query, "variables": {"input": given}},
                                 headers=headers)
            elapsed = time.perf_counter() - started
            assert answer.json()["data"]["recordConsent"]["__typename"] == "RecordConsentSuccess", answer.text
            if n >= 20:  # warm-up
                timings.append(elapsed * 1000)
    services.engine.dispose()
    timings.sort()
    return {"p50_ms": statistics.median(timings), "p95_ms": timings[int(len(timings) * 0.95) - 1],
            "calls": len(timings)}


def bench(kind: str, rows: int, customers: int, calls: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, bench_database(kind, Path(tmp), customers) as db:
        data = Path(tmp) / "consents.csv"
        write_csv(data, rows, _customer_ids(db.url))
        first, first_line = run_import(db.url, data)
        second, second_line = run_import(db.url, data)
        result = {
            "db": kind, "rows": rows, "customers": customers,
            "import_seconds": round(first, 2), "rows_per_second": round(rows / first),
            "reimport_seconds": round(second, 2), "import_summary": first_line,
            "reimport_summary": second_line,
            "record_consent_http": http_latency(db.url, calls) if calls else None,
        }
    print(json.dumps(result, indent=2))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    results = [bench(kind, args.rows, args.customers, args.calls) for kind in kinds]
    out = REPO / "bench" / "results" / f"consent_import-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
