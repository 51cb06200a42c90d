"""Scaling with workers: an audited read on PostgreSQL, 1 uvicorn worker against 2.

    python bench/workers.py                          # 3 runs x 8 s, 64 connections
    python bench/workers.py --runs 3 --duration 8 --connections 64 --customers 500

One fresh PostgreSQL database (next to GATEWAY_TEST_DATABASE_URL's, dropped after), seeded
with `--customers` demo customers; then these servers, each under uvicorn with `--workers`
1 or 2 (not pinned: the workers, PostgreSQL and wrk share the machine's cores):

| target | what |
|---|---|
| `floor1`, `floor2` | plain Starlette (1 and 2 workers): the same customer row read by primary key with SQLAlchemy Core, answered with orjson. No GraphQL, no policy, no audit. |
| `gw1`, `gw2` | the gateway (1 and 2 workers), group commit of the audit on (the default) |
| `gw2_single` | the gateway, 2 workers, `GATEWAY_AUDIT_GROUP_COMMIT=false`: each request commits its own entry (the path before group commit) |

The request: the support app, purpose `service`, `{ customers(first: 1) { nodes { id
firstName city } } }`: one customer, three fields, one audit entry per request. The targets
are measured in turn, `--runs` times (a 2 s warm-up each), with wrk (or the Python client).
Printed: req/s and latency per target (medians of the runs), `gw2/gw1` (target >= 1.8),
`floor2/floor1` (what the machine gives a second worker at all), the audited reads/s of
`gw2` (issue 15's target: >= 5,000) and its p99 beside `gw2_single`'s. After the load the
audit chain is verified and its entries counted against the requests answered.
JSON in bench/results/workers-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench._load import Request, run_load, wrk_path
from bench._servers import _environment, _free_port, post
from bench._setup import bench_database

QUERY = "{ customers(first: 1) { nodes { id firstName city } } }"
TARGETS: dict[str, tuple[str, int, dict[str, str]]] = {
    "floor1": ("bench.workers:floor_app", 1, {}),
    "floor2": ("bench.workers:floor_app", 2, {}),
    "gw1": ("gateway.app:create_app", 1, {}),
    "gw2": ("gateway.app:create_app", 2, {}),
    "gw2_single": ("gateway.app:create_app", 2, {"GATEWAY_AUDIT_GROUP_COMMIT": "false"}),
}


def floor_app() -> Any:
    """Plain Starlette: one customer row by primary key (SQLAlchemy Core), orjson."""
    import os

    from sqlalchemy import select
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request as StarletteRequest
    from starlette.responses import Response
    from starlette.routing import Route

    from gateway.profile.tables import customers
    from gateway.store.db import make_engine

    engine = make_engine(os.environ["BENCH_DATABASE_URL"])
    statement = select(customers.c.id, customers.c.city).where(customers.c.id == 1)

    def read() -> bytes:
        with engine.connect() as conn:
            row = conn.execute(statement).one()
        return orjson.dumps({"data": {"customers": {"nodes": [{"id": str(row.id), "city": row.city}]}}})

    async def graphql(_request: StarletteRequest) -> Response:
        return Response(await run_in_threadpool(read), media_type="application/json")

    return Starlette(routes=[Route("/graphql", graphql, methods=["POST"])])


def _command(app: str, port: int, workers: int) -> list[str]:
    import importlib.util

    cmd = [sys.executable, "-m", "uvicorn", app, "--factory", "--host", "127.0.0.1", "--port",
           str(port), "--workers", str(workers), "--no-access-log", "--log-level", "info"]
    if importlib.util.find_spec("uvloop"):
        cmd += ["--loop", "uvloop"]
    if importlib.util.find_spec("httptools"):
        cmd += ["--http", "httptools"]
    return cmd


@contextlib.contextmanager
def server(db: Any, workdir: Path, target: str) -> Iterator[tuple[Request, int]]:
    """Start `target`'s server; the request to load it with; stop it (by pid) on exit."""
    app, workers, extra = TARGETS[target]
    port = _free_port()
    env = {**_environment(db, workdir), "GATEWAY_RATE_LIMITS": "off", **extra}
    log = workdir / f"{target}.log"
    with log.open("wb") as fh:
        process = subprocess.Popen(_command(app, port, workers), cwd=REPO, env=env, stdout=fh,
                                   stderr=subprocess.STDOUT)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {db.keys['support']}",
               "X-Purpose": "service"}
    request = Request("127.0.0.1", port, "/graphql", orjson.dumps({"query": QUERY}), headers)
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{target} exited:\n{log.read_text()}")
            # every worker started (each logs it once), then one right answer
            started = log.read_text(errors="replace").count("Application startup complete")
            with contextlib.suppress(Exception):
                answer = post(request) if started >= workers else None
                if answer is not None and answer.status_code == 200:
                    assert answer.json()["data"]["customers"]["nodes"], answer.text
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{target} did not answer:\n{log.read_text()}")
            time.sleep(0.3)
        yield request, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _tree_cpu(root: int) -> float:
    """User + system CPU seconds of process `root` and its descendants (uvicorn's workers)."""
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(stat.parent.name)
        parents[pid], ticks[pid] = int(fields[1]), int(fields[11]) + int(fields[12])
    tree, grew = {root}, True
    while grew:
        found = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= found
        grew = bool(found)
    return sum(ticks.get(pid, 0) for pid in tree) / os.sysconf("SC_CLK_TCK")


def _entries(url: str) -> int:
    from sqlalchemy import func, select

    from gateway.audit.tables import audit_events
    from gateway.store.db import make_engine

    engine = make_engine(url)
    with engine.connect() as conn:
        count = int(conn.execute(select(func.count()).select_from(audit_events)).scalar_one())
    engine.dispose()
    return count


def _verify(url: str, master_key: str) -> bool:
    from gateway.audit.verify import verify_chain
    from gateway.privacy.keys import load_or_create_master_key
    from gateway.privacy.signing import Signer
    from gateway.store.db import make_engine

    engine = make_engine(url)
    master = load_or_create_master_key(master_key, Path("/nonexistent/master.key"))
    result = verify_chain(engine, Signer(master).jwks(), remember=False)
    engine.dispose()
    return result.ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--customers", type=int, default=500)
    parser.add_argument("--targets", default=",".join(TARGETS))
    parser.add_argument("--load", choices=["wrk", "python"], default="wrk" if wrk_path() else "python")
    args = parser.parse_args()
    targets = args.targets.split(",")
    runs: dict[str, list[dict[str, Any]]] = {t: [] for t in targets}
    with tempfile.TemporaryDirectory() as tmp, bench_database("postgresql", Path(tmp), args.customers) as db:
        gateway_answered = 0
        before = _entries(db.url)
        for run in range(args.runs):
            for target in targets:
                with server(db, Path(tmp), target) as (request, pid):
                    run_load(request, args.warmup, args.connections, args.load)
                    cpu = _tree_cpu(pid)
                    found = run_load(request, args.duration, args.connections, args.load)
                    cpu_us = (_tree_cpu(pid) - cpu) / max(found.requests, 1) * 1e6
                runs[target].append({**found.as_dict(), "cpu_us_per_req": round(cpu_us)})
                if target.startswith("gw"):
                    gateway_answered += found.requests
                print(f"run {run + 1} {target:>10}: {found.rps:8.0f} req/s  p50 {found.p50_ms:6.1f} ms  "
                      f"p99 {found.p99_ms:6.1f} ms  server CPU {cpu_us:6.0f} us/req  "
                      f"failures {found.failures}", flush=True)
        entries = _entries(db.url) - before
        valid = _verify(db.url, db.master_key)
    median = {t: {k: statistics.median(r[k] for r in rs)
                  for k in ("rps", "p50_ms", "p99_ms", "cpu_us_per_req")}
              for t, rs in runs.items()}
    summary: dict[str, Any] = {"median": median, "chain_valid": valid, "entries_written": entries,
                               "gateway_requests_measured": gateway_answered}

    def ratio(a: str, b: str) -> float | None:
        if a not in median or b not in median or not median[b]["rps"]:
            return None
        return round(float(median[a]["rps"]) / float(median[b]["rps"]), 2)

    summary["gw2/gw1"] = ratio("gw2", "gw1")
    summary["floor2/floor1"] = ratio("floor2", "floor1")
    summary["gw2/gw2_single"] = ratio("gw2", "gw2_single")
    print("\n| target | req/s (median) | p50 ms | p99 ms | server CPU us/req |\n|---|---|---|---|---|")
    for t, m in median.items():
        print(f"| {t} | {m['rps']:.0f} | {m['p50_ms']:.1f} | {m['p99_ms']:.1f} | {m['cpu_us_per_req']:.0f} |")
    print(f"\ngw2/gw1 = {summary['gw2/gw1']} (target >= 1.8); floor2/floor1 = {summary['floor2/floor1']}; "
          f"gw2/gw2_single = {summary['gw2/gw2_single']}")
    if "gw2" in median:
        print(f"audited reads/s with 2 workers: {median['gw2']['rps']:.0f} (target >= 5,000)")
    print(f"chain valid after the load: {valid}; entries written {entries} "
          f">= requests measured {gateway_answered} (warm-ups and checks write too)")
    results = REPO / "bench" / "results"
    results.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (results / f"workers-{stamp}.json").write_text(json.dumps({"runs": runs, **summary}, indent=2))


if __name__ == "__main__":
    main()
