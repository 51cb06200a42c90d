"""recordConsent in process: the compiled plan, the general path and a plain insert, interleaved.

    python bench/mutation_inprocess.py --db sqlite --calls 300
    python bench/mutation_inprocess.py --db postgresql --calls 300   # GATEWAY_TEST_DATABASE_URL's server
    python bench/mutation_inprocess.py --db sqlite --calls 300 --profile   # cProfile of the plan

A fresh seeded database (`--customers`), a call-center app, and, call after call in turn:

- `plan`: `GraphQLEndpoint._handle(body, headers)` of the benchmark's recordConsent (the
  document of `bench/consent_import.py`, with evidence), answered by its compiled plan
  (`gateway/api/mutation_plans.py`): authentication, rate limiter off, the same checks, the
  ledger write, the receipt, the audit entry, the commit;
- `general`: the same request with the plan switched off (graphql-core and strawberry execute
  it, as before the plan);
- `floor`: the floor of `consent_import.py`'s HTTP endpoint without HTTP: one consent event
  inserted with SQLAlchemy Core and committed.

Printed per target: the median thread CPU and wall time per call (ms), and the ratios to the
floor. Thread CPU leaves out the database server's own CPU (PostgreSQL) and is what a loaded
machine disturbs least.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._setup import MASTER_KEY, POLICY_DIR, bench_database

QUERY = ("mutation($input: RecordConsentInput!) { recordConsent(input: $input) { __typename "
         "... on RecordConsentSuccess { receipt { id } } ... on MutationError { code } } }")


def _targets(url: str, customers: list[int]) -> tuple[dict[str, Callable[[int], object]], Any]:
    import gateway.api.http as http_module
    from gateway.api.http import GraphQLEndpoint
    from gateway.api.schema import build_schema
    from gateway.app import build_services
    from gateway.auth.apps import create_app as create_caller
    from gateway.config import Settings
    from gateway.consent.tables import consent_events

    settings = Settings(database_url=url, master_key=MASTER_KEY, policy_dir=POLICY_DIR, rate_limits=False)
    services = build_services(settings)
    endpoint = GraphQLEndpoint(services, build_schema(settings))
    with services.engine.begin() as conn:
        caller, key = create_caller(conn, "bench-call-center", "call_center", services.policy.roles())
    pseudonyms = services.pseudonyms.for_app(caller.app_id)
    headers: dict[str, str | None] = {"authorization": f"Bearer {key}", "x-purpose": "support"}
    planned = http_module.run_mutation

    def body(n: int) -> bytes:
        return orjson.dumps({"query": QUERY, "variables": {"input": {
            "customerId": pseudonyms.customer_id(customers[n % len(customers)]),
            "purpose": "marketing_email", "noticeVersion": 2,
            "action": "grant" if n % 3 else "withdraw", "sourceChannel": "call_center",
            "evidence": f"call-{n}"}}})

    def gateway(n: int, plan: bool) -> object:
        http_module.run_mutation = planned if plan else (lambda *_: None)  # type: ignore[assignment]
        answer = endpoint._handle(body(n), headers)
        assert answer.status == 200 and "RecordConsentSuccess" in str(answer.body), answer.body
        return answer

    stmt = consent_events.insert().returning(consent_events.c.id)

    def floor(n: int) -> object:
        now = datetime.now(UTC)
        with services.engine.begin() as conn:
            return conn.execute(stmt, {
                "customer_id": customers[n % len(customers)], "purpose": "marketing_email",
                "notice_version": 2, "action": "grant", "occurred_at": now, "recorded_at": now,
                "source_channel": "call_center", "evidence": f"call-{n}".encode(),
            }).scalar_one()

    return {"plan": lambda n: gateway(n, True), "general": lambda n: gateway(n, False),
            "floor": floor}, services


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--customers", type=int, default=500)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    from sqlalchemy import create_engine, select

    from gateway.profile.tables import customers as customers_table

    with tempfile.TemporaryDirectory() as tmp, bench_database(args.db, Path(tmp), args.customers) as db:
        engine = create_engine(db.url)
        with engine.connect() as conn:
            ids = [int(i) for i in conn.execute(select(customers_table.c.id)).scalars()]
        engine.dispose()
        targets, services = _targets(db.url, ids)
        cpu: dict[str, list[float]] = {name: [] for name in targets}
        wall: dict[str, list[float]] = {name: [] for name in targets}
        for n in range(20):  # warm-up: caches, plans, connections
            for call in targets.values():
                call(n)
        for n in range(20, 20 + args.calls):
            for name, call in targets.items():
                c, w = time.thread_time(), time.perf_counter()
                call(n)
                cpu[name].append(time.thread_time() - c)
                wall[name].append(time.perf_counter() - w)
        floor_cpu, floor_wall = statistics.median(cpu["floor"]), statistics.median(wall["floor"])
        print(f"{args.db}, {args.calls} calls each, interleaved; median ms per call")
        for name in targets:
            c, w = statistics.median(cpu[name]), statistics.median(wall[name])
            print(f"  {name:8} thread CPU {c * 1000:7.3f} ({c / floor_cpu:5.2f}x floor)   "
                  f"wall {w * 1000:7.3f} ({w / floor_wall:5.2f}x floor)")
        if args.profile:
            profile = cProfile.Profile()
            profile.enable()
            for n in range(20 + args.calls, 20 + 2 * args.calls):
                targets["plan"](n)
            profile.disable()
            stats = pstats.Stats(profile)
            stats.sort_stats("cumulative").print_stats(30)
            stats.sort_stats("tottime").print_stats(20)
        services.engine.dispose()


if __name__ == "__main__":
    main()
