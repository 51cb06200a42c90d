"""Prometheus metrics (prometheus_client), safe for several uvicorn workers.

With `PROMETHEUS_MULTIPROC_DIR` set (`consent-gateway serve` sets it to a fresh directory)
every worker writes its samples there and `/metrics` merges them, so a scrape sees the whole
server whichever worker answers it. Labels are bounded sets (app names, roles, purposes from
purposes.yaml, operation names from the schema, codes): a caller-supplied string never
becomes a label (an unknown X-Purpose is `unknown`).
"""

from __future__ import annotations

import os
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from sqlalchemy import Engine
from sqlalchemy.pool import QueuePool

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

REQUESTS = Counter(
    "gateway_requests_total", "GraphQL requests by operation, app, purpose, HTTP status and code",
    ["operation", "app", "purpose", "status", "code"],
)
REQUEST_SECONDS = Histogram(
    "gateway_request_seconds", "Time to answer a GraphQL request (audit entry included)",
    ["operation"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
WITHHELD = Counter(
    "gateway_withheld_total", "Fields and customers withheld, by reason code and purpose",
    ["reason", "purpose", "kind"],
)
AUDIT_APPEND_SECONDS = Histogram(
    "gateway_audit_append_seconds", "Time to append a request's audit entry (commit included)",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1),
)
RATE_LIMITED = Counter(
    "gateway_rate_limited_total", "Requests refused by a rate limit or quota, by app and limit",
    ["app", "limit"],
)
PERSONAL_ROWS = Counter(
    "gateway_personal_rows_total", "Customers whose data a request read, by app and purpose",
    ["app", "purpose"],
)
POOL_IN_USE = Gauge(
    "gateway_db_pool_in_use", "Database connections checked out of the pool",
    multiprocess_mode="livesum",
)
POOL_SIZE = Gauge(
    "gateway_db_pool_size", "Connections the pool keeps (overflow excluded)",
    multiprocess_mode="livemax",
)
UNAVAILABLE = Counter(
    "gateway_unavailable_total", "Requests answered 503, by cause", ["cause"],
)


def observe_pool(engine: Engine) -> None:
    """Record the pool's use now (after each request; SQLite's default pool has no size)."""
    pool = engine.pool
    if isinstance(pool, QueuePool):
        POOL_IN_USE.set(pool.checkedout())
        POOL_SIZE.set(pool.size())


def render() -> tuple[bytes, str]:
    """The exposition text of every worker (multiprocess) or of this process."""
    directory = os.environ.get(MULTIPROC_ENV)
    if directory and Path(directory).is_dir() and any(Path(directory).glob("*.db")):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def worker_exited(pid: int) -> None:
    """Drop a stopped worker's live gauges (its counters stay in the totals)."""
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
