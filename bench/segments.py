"""Segmentation and scoring at scale, beside their floors measured in the same run.

    python bench/segments.py --customers 100000 --runs 3            # SQLite
    python bench/segments.py --customers 1000000 --runs 3 --db postgresql

1. A fresh database (an SQLite file in a temporary directory, or a new PostgreSQL database
   next to GATEWAY_TEST_DATABASE_URL's, dropped at the end), migrated, filled with generated
   customers (numpy; about 3 orders and 6 interactions each, 5 % objected to profiling, 2 %
   restricted), written with the driver's bulk path. Not timed against anything.
2. The models are trained once on a sample (not timed).
3. `--runs` times, interleaved:
   - floor: the same aggregates as plain SQL GROUP BYs (orders: count, sum, first and
     last; interactions: counts by kind, last by channel, devices; engagements per hour;
     campaign starts), every row fetched with the bare driver cursor;
   - job: `segments compute --full` then `scores run`, in a fresh process (its peak RSS,
     VmHWM, is the job's memory): every attribute of every profiled customer aggregated, derived and
     written, every score computed and written;
   - count floor: `SELECT count(*)` of the rule's plain condition on `customers`;
   - count: `store.count` of the same rule as a saved segment: the rule, the purpose's
     subject condition and the profiling condition (the rule reads derived data).
4. Medians, ratios to the floors, and a JSON file in bench/results/.
The machine has 2 cores shared with other work: trust the ratios more than the seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench._setup import postgres_database

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
RULE = 'lifecycle = "at_risk" and region in ["Moscow", "Kazan"]'
PLAIN = "lifecycle_stage = 'at_risk' AND region IN ('Moscow', 'Kazan')"
REGIONS = np.array(["Moscow", "Kazan", "Samara", "Berlin", "Bavaria", "London", "Scotland", "Paris"])
CURRENCY = {"Moscow": "RUB", "Kazan": "RUB", "Samara": "RUB", "London": "GBP", "Scotland": "GBP"}
KINDS = np.array(["email_open", "email_click", "web_visit", "call"])
CHANNEL = {"email_open": "email", "email_click": "email", "web_visit": "web", "call": "phone"}
DEVICES = np.array(["mobile", "desktop", "tablet"])
DAY = 86_400


def _stamps(seconds: np.ndarray[Any, Any]) -> list[str]:
    """Unix seconds as the timestamps SQLAlchemy stores (UTC, microseconds)."""
    text = np.datetime_as_string(seconds.astype("datetime64[s]").astype("datetime64[us]"), unit="us")
    return [t.replace("T", " ") for t in text.tolist()]


def generate(n: int, seed: int = 7) -> dict[str, Any]:
    """Columns of the generated tables."""
    rng = np.random.default_rng(seed)
    now = int(NOW.timestamp())
    created = now - rng.integers(30, 1500, n) * DAY - rng.integers(0, DAY, n)
    region = REGIONS[rng.integers(0, len(REGIONS), n)]
    n_orders = rng.poisson(3, n)
    o_cust = np.repeat(np.arange(1, n + 1), n_orders)
    o_created = np.repeat(created, n_orders)
    o_at = o_created + (rng.random(o_cust.size) * (now - o_created)).astype(np.int64)
    status = np.where(rng.random(o_cust.size) < 0.85, "delivered",
                      np.where(rng.random(o_cust.size) < 0.5, "cancelled", "returned"))
    total = np.maximum(100, rng.lognormal(8.0, 0.8, o_cust.size).astype(np.int64))
    o_currency = np.array([CURRENCY.get(r, "EUR") for r in region.tolist()])[o_cust - 1]
    n_inter = rng.poisson(6, n)
    i_cust = np.repeat(np.arange(1, n + 1), n_inter)
    i_at = now - rng.integers(0, 730 * DAY, i_cust.size)
    kind = KINDS[rng.choice(4, i_cust.size, p=[0.5, 0.15, 0.3, 0.05])]
    device = DEVICES[rng.choice(3, i_cust.size, p=[0.55, 0.35, 0.1])]
    month = (i_at // (30 * DAY)) % 24
    objected = np.flatnonzero(rng.random(n) < 0.05) + 1
    restricted = np.flatnonzero(rng.random(n) < 0.02) + 1
    return {"n": n, "created": created, "region": region, "o_cust": o_cust, "o_at": o_at,
            "status": status, "total": total, "o_currency": o_currency, "i_cust": i_cust,
            "i_at": i_at, "kind": kind, "device": device, "month": month,
            "objected": objected, "restricted": restricted}


def _rows(g: dict[str, Any]) -> Iterator[tuple[str, tuple[str, ...], Iterator[tuple[Any, ...]]]]:
    created = _stamps(g["created"])
    regions = g["region"].tolist()
    yield "customers", ("id", "created_at", "updated_at", "region", "country", "jurisdiction",
                        "order_count", "total_spent_cents"), (
        (i + 1, created[i], created[i], regions[i], "RU", "gdpr", 0, 0) for i in range(g["n"]))
    at = _stamps(g["o_at"])
    cust, status, total, cur = (g[k].tolist() for k in ("o_cust", "status", "total", "o_currency"))
    yield "orders", ("id", "customer_id", "number", "ordered_at", "status", "channel", "item_count",
                     "total_cents", "currency"), (
        (k + 1, cust[k], f"B{k + 1}", at[k], status[k], "web", 1, total[k], cur[k]) for k in range(len(at)))
    at = _stamps(g["i_at"])
    cust, kind, device, month = (g[k].tolist() for k in ("i_cust", "kind", "device", "month"))
    yield "interactions", ("id", "customer_id", "kind", "channel", "device", "campaign", "occurred_at"), (
        (k + 1, cust[k], kind[k], CHANNEL[kind[k]], device[k] if kind[k] != "call" else None,
         f"c-{month[k]}" if kind[k].startswith("email") else None, at[k]) for k in range(len(at)))
    prefs = [(int(c), "objection", "profiling") for c in g["objected"]] + [
        (int(c), "restriction", "processing") for c in g["restricted"]]
    stamp = _stamps(np.array([int(NOW.timestamp()) - DAY]))[0]
    yield "preference_events", ("id", "customer_id", "kind", "key", "value", "occurred_at",
                                "recorded_at", "source_channel"), (
        (k + 1, c, kind_, key, "on", stamp, stamp, "import") for k, (c, kind_, key) in enumerate(prefs))
    yield "preference_state", ("customer_id", "kind", "key", "value", "occurred_at", "event_id"), (
        (c, kind_, key, "on", stamp, k + 1) for k, (c, kind_, key) in enumerate(prefs))


def fill(url: str, g: dict[str, Any]) -> None:
    """Write the generated rows with the driver's bulk path."""
    if url.startswith("sqlite"):
        db = sqlite3.connect(url.split("///", 1)[1])
        db.execute("PRAGMA synchronous=OFF")
        for table, cols, rows in _rows(g):
            marks = ", ".join("?" * len(cols))
            db.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})", rows)
            db.commit()
        db.execute("ANALYZE")
        db.commit()
        db.close()
        return
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as db:
        for table, cols, rows in _rows(g):
            with db.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        for table in ("customers", "orders", "interactions", "preference_events"):
            db.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        db.commit()
        db.execute("ANALYZE")


FLOOR_ORDERS = """SELECT customer_id, count(*), sum(total_cents), min(ordered_at), max(ordered_at)
FROM orders WHERE status NOT IN ('cancelled', 'returned') GROUP BY customer_id"""
FLOOR_INTERACTIONS = """SELECT customer_id,
  sum(CASE WHEN kind = 'email_open' THEN 1 ELSE 0 END), sum(CASE WHEN kind = 'email_click' THEN 1 ELSE 0 END),
  count(DISTINCT CASE WHEN kind = 'email_open' THEN campaign END),
  sum(CASE WHEN kind = 'web_visit' THEN 1 ELSE 0 END), sum(CASE WHEN kind = 'call' THEN 1 ELSE 0 END),
  max(CASE WHEN channel = 'email' THEN occurred_at END), max(CASE WHEN channel = 'web' THEN occurred_at END),
  max(CASE WHEN channel = 'phone' THEN occurred_at END),
  sum(CASE WHEN device = 'mobile' THEN 1 ELSE 0 END), sum(CASE WHEN device = 'desktop' THEN 1 ELSE 0 END),
  sum(CASE WHEN device = 'tablet' THEN 1 ELSE 0 END)
FROM interactions GROUP BY customer_id"""
# The job also finds each customer's most engaged hour and when each campaign started: the
# same two aggregates, plainly.
FLOOR_HOURS = {
    "sqlite": """SELECT customer_id, substr(occurred_at, 12, 2), count(*) FROM interactions
WHERE kind IN ('email_open', 'email_click', 'web_visit') GROUP BY customer_id, substr(occurred_at, 12, 2)""",
    "postgresql": """SELECT customer_id, extract(hour FROM occurred_at AT TIME ZONE 'UTC'), count(*)
FROM interactions WHERE kind IN ('email_open', 'email_click', 'web_visit') GROUP BY 1, 2""",
}
FLOOR_CAMPAIGNS = """SELECT campaign, min(occurred_at) FROM interactions
WHERE kind = 'email_open' AND campaign IS NOT NULL GROUP BY campaign"""


def _raw(url: str) -> Any:
    if url.startswith("sqlite"):
        return contextlib.closing(sqlite3.connect(url.split("///", 1)[1]))
    import psycopg

    return psycopg.connect(url.replace("postgresql+psycopg", "postgresql"))


def floor(url: str) -> float:
    """The plain GROUP BYs of the same aggregates, every row fetched."""
    hours = FLOOR_HOURS["sqlite" if url.startswith("sqlite") else "postgresql"]
    with _raw(url) as db:
        start = time.perf_counter()
        for sql in (FLOOR_ORDERS, FLOOR_INTERACTIONS, hours, FLOOR_CAMPAIGNS):
            cur = db.cursor()
            cur.execute(sql)
            cur.fetchall()
        return time.perf_counter() - start


def count_floor(url: str) -> tuple[float, int]:
    """The plain count, timed on its second execution (both counts are timed warm: the
    first statement over `customers` after the job would pay the cache for both)."""
    with _raw(url) as db:
        cur = db.cursor()
        cur.execute(f"SELECT count(*) FROM customers WHERE {PLAIN}")
        cur.fetchone()
        start = time.perf_counter()
        cur.execute(f"SELECT count(*) FROM customers WHERE {PLAIN}")
        n = cur.fetchone()[0]
        return time.perf_counter() - start, int(n)


def _job(url: str, queue: Any) -> None:
    from gateway.consent.purposes import load_purposes
    from gateway.scoring.score import score_all
    from gateway.segmentation.compute import compute
    from gateway.segmentation.config import load_config
    from gateway.store.db import make_engine

    engine = make_engine(url)
    profiling = load_purposes(REPO / "policies" / "purposes.yaml").get("profiling")
    assert profiling is not None
    start = time.perf_counter()
    report = compute(engine, load_config(REPO / "policies"), profiling, NOW, full=True)
    middle = time.perf_counter()
    scored = score_all(engine, profiling, NOW)
    end = time.perf_counter()
    engine.dispose()
    queue.put({"compute": middle - start, "score": end - middle, "total": end - start,
               "profiled": report.profiled, "scored": scored.scored, "peak_rss_mb": _peak_mb()})


def _peak_mb() -> float:
    """This process's peak resident memory since it started its own program (VmHWM).

    Not ru_maxrss: Linux carries it over fork and exec, so a job spawned by a benchmark that
    holds gigabytes of generated rows would report the benchmark's size, not its own."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def job(url: str) -> dict[str, Any]:
    """compute --full then scores run, in a fresh process (its peak memory is the job's)."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_job, args=(url, queue))
    proc.start()
    found: dict[str, Any] = queue.get()
    proc.join()
    return found


def count_job(url: str, segment_id: int) -> tuple[float, int]:
    from gateway.consent.purposes import load_purposes
    from gateway.segmentation.store import count, get_segment
    from gateway.store.db import make_engine

    engine = make_engine(url)
    purposes = load_purposes(REPO / "policies" / "purposes.yaml")
    profiling = purposes.get("profiling")
    assert profiling is not None
    with engine.connect() as conn:
        rule = get_segment(conn, segment_id).rule()
        count(conn, rule, profiling, NOW, profiling)  # warm, as the floor is
        start = time.perf_counter()
        n = count(conn, rule, profiling, NOW, profiling)
        took = time.perf_counter() - start
    engine.dispose()
    return took, n


def prepare(url: str, customers: int, sample: int) -> dict[str, Any]:
    from gateway.consent.purposes import load_purposes
    from gateway.policy import PolicyEngine
    from gateway.profile.fields import CUSTOMER_FIELDS
    from gateway.scoring.train import train
    from gateway.segmentation.compute import compute
    from gateway.segmentation.config import load_config
    from gateway.segmentation.store import create_segment
    from gateway.store.db import make_engine
    from gateway.store.migrate import upgrade

    upgrade(url)
    start = time.perf_counter()
    g = generate(customers)
    fill(url, g)
    filled = time.perf_counter() - start
    engine = make_engine(url)
    purposes = load_purposes(REPO / "policies" / "purposes.yaml")
    profiling = purposes.get("profiling")
    assert profiling is not None
    config = load_config(REPO / "policies")
    compute(engine, config, profiling, NOW)  # facts for training (not timed)
    for name in ("purchase_30d", "churn"):
        train(engine, config, name, profiling, NOW, sample=sample)
    plan = PolicyEngine(REPO / "policies", purposes).plan("marketing", profiling, CUSTOMER_FIELDS)
    with engine.begin() as conn:
        segment = create_segment(conn, plan, name="bench", definition=RULE, description=None,
                                 actor="bench", now=NOW)
    engine.dispose()
    return {"fill_seconds": filled, "orders": int(g["o_cust"].size),
            "interactions": int(g["i_cust"].size), "segment": segment.id}


@contextlib.contextmanager
def database(kind: str) -> Iterator[str]:
    if kind == "postgresql":
        with postgres_database() as url:
            yield url
        return
    with tempfile.TemporaryDirectory() as tmp:
        yield f"sqlite:///{tmp}/bench.db"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--sample", type=int, default=50_000, help="customers the models train on")
    args = parser.parse_args()
    with database(args.db) as url:
        info = prepare(url, args.customers, args.sample)
        print(f"{args.customers} customers, {info['orders']} orders, {info['interactions']} "
              f"interactions written in {info['fill_seconds']:.1f} s ({args.db})", flush=True)
        floors, jobs, cfloors, counts = [], [], [], []
        for run in range(args.runs):
            floors.append(floor(url))
            jobs.append(job(url))
            cfloors.append(count_floor(url))
            counts.append(count_job(url, info["segment"]))
            print(f"run {run + 1}: floor {floors[-1]:.2f} s, job {jobs[-1]['total']:.2f} s "
                  f"(compute {jobs[-1]['compute']:.2f}, score {jobs[-1]['score']:.2f}, peak "
                  f"{jobs[-1]['peak_rss_mb']:.0f} MB); count floor {cfloors[-1][0] * 1000:.1f} ms, "
                  f"count {counts[-1][0] * 1000:.1f} ms", flush=True)
    f, j = statistics.median(floors), statistics.median(r["total"] for r in jobs)
    cf, c = statistics.median(t for t, _ in cfloors), statistics.median(t for t, _ in counts)
    peak = max(r["peak_rss_mb"] for r in jobs)
    result = {
        "customers": args.customers, "db": args.db, "runs": args.runs, **info,
        "floor_group_by_s": f, "job_s": j, "job_over_floor": j / f,
        "compute_s": statistics.median(r["compute"] for r in jobs),
        "score_s": statistics.median(r["score"] for r in jobs), "peak_rss_mb": peak,
        "count_floor_ms": cf * 1000, "count_ms": c * 1000, "count_over_floor": c / cf,
        "plain_count": cfloors[0][1], "segment_count": counts[0][1], "profiled": jobs[0]["profiled"],
    }
    print(f"\nmedians of {args.runs} ({args.db}, {args.customers} customers; 2 shared cores):")
    print(f"  attributes + scoring {j:.2f} s vs plain GROUP BY {f:.2f} s: {j / f:.2f}x (target 3x); "
          f"peak {peak:.0f} MB (target 2048)")
    print(f"  segment count {c * 1000:.1f} ms vs plain count {cf * 1000:.1f} ms: {c / cf:.2f}x "
          f"(target 3x); {counts[0][1]} members of {cfloors[0][1]} by the plain rule")
    out = REPO / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"segments-{args.db}-{args.customers}-{int(time.time())}.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
