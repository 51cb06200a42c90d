"""The portal's pages: p50 latency on the demo database, next to a plain Starlette page.

    python bench/portal.py                      # SQLite, 500 demo customers, 3 runs
    python bench/portal.py --db postgresql --customers 500 --requests 200 --runs 3

One run builds a fresh database (migrated, seeded with the demo data), gives one customer a
history of reads (GraphQL `customer(id)` by the marketing app, so "Who used my data" has
entries), starts a session for them, and serves two apps with uvicorn in subprocesses (one
worker each): the gateway (portal included) and the floor, a plain Starlette page answering a
fixed HTML body of the profile page's size. A client on the same machine asks each page
`--requests` times in a row (one connection, after a warm-up); each run reports the median
(p50) and p95 per page, and the server process's CPU time per request (user + system from
/proc, over the page's requests); the figures are the medians over `--runs`. Every portal
page read writes its audit entry, as in production.

The machine has 2 cores and may be shared: read the ratios to the floor, not the absolutes.
On a loaded machine the wall-clock p50 grows with the load (the server waits for a core);
the CPU per request does not, and is the figure a free core would answer in.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._setup import MASTER_KEY, POLICY_DIR, postgres_database

PAGES = ("/portal/login", "/portal/code", "/portal/profile", "/portal/consents",
         "/portal/activity", "/portal/held", "/portal/rights", "/portal/erase")
PUBLIC = ("/portal/login", "/portal/code")
TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")
TARGET_MS = 50.0
FLOOR_APP = '''
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route
BODY = "<!doctype html><html lang=en><title>floor</title><main>" + "<p>x</p>" * {n} + "</main></html>"
async def page(request):
    return HTMLResponse(BODY, headers={{"Cache-Control": "no-store"}})
app = Starlette(routes=[Route("/", page)])
'''


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _prepare(url: str, customers: int) -> str:
    """Migrate, seed, give the chosen customer reads and a session; their cookie value."""
    from starlette.testclient import TestClient

    from gateway.app import build_services, create_app
    from gateway.auth.apps import create_app as create_caller
    from gateway.config import Settings
    from gateway.demo.seed import seed_demo
    from gateway.portal.settings import PortalSettings
    from gateway.portal.tokens import start_session
    from gateway.profile.tables import interactions
    from gateway.store.migrate import upgrade

    upgrade(url)
    settings = Settings(database_url=url, master_key=MASTER_KEY, policy_dir=POLICY_DIR)
    services = build_services(settings)
    seed_demo(services.engine, services.purposes, vault=services.vault, customers=customers, seed=7)
    with services.engine.begin() as conn:
        # the customer with the most interactions: a long history to show
        cid = int(conn.execute(select(interactions.c.customer_id).group_by(interactions.c.customer_id)
                               .order_by(func.count().desc()).limit(1)).scalar_one())
        caller, key = create_caller(conn, "bench-portal-marketing", "marketing", services.policy.roles())
        cookie, _ = start_session(conn, PortalSettings(session_minutes=600, idle_minutes=600), cid)
    client = TestClient(create_app(services=services))
    token = services.pseudonyms.for_app(caller.app_id).customer_id(cid)
    for _ in range(100):
        client.post("/graphql", json={"query": "query($id: ID!) { customer(id: $id) { email city } }",
                                      "variables": {"id": token}},
                    headers={"Authorization": f"Bearer {key}", "X-Purpose": "marketing_email"})
    services.engine.dispose()
    return cookie


def _cpu_ms(pid: int) -> float:
    """User + system CPU time of process `pid` so far, in ms."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * TICK_MS


def _serve(stack: ExitStack, args: list[str], env: dict[str, str], port: int) -> tuple[str, int]:
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", *args, "--port", str(port),
                             "--log-level", "warning", "--no-access-log"], env=env)
    stack.callback(proc.wait, 10)
    stack.callback(proc.terminate)
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            httpx.get(base + "/healthz" if "factory" in " ".join(args) else base + "/", timeout=1)
            return base, proc.pid
        except httpx.HTTPError:
            time.sleep(0.05)
    raise SystemExit("server did not start")


def _measure(client: httpx.Client, url: str, n: int, cookies: dict[str, str],
             pid: int) -> tuple[float, float, float]:
    for _ in range(10):
        client.get(url, cookies=cookies)
    times = []
    cpu = _cpu_ms(pid)
    for _ in range(n):
        start = time.perf_counter()
        answer = client.get(url, cookies=cookies)
        times.append((time.perf_counter() - start) * 1000)
        if answer.status_code != 200:
            raise SystemExit(f"{url}: HTTP {answer.status_code}")
    cpu = (_cpu_ms(pid) - cpu) / n
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1], cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--customers", type=int, default=500)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pages", default=",".join(PAGES),
                        help="comma-separated pages to ask (e.g. those an older checkout has)")
    opts = parser.parse_args()
    pages = [p for p in opts.pages.split(",") if p]
    with ExitStack() as stack:
        if opts.db == "sqlite":
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            url = f"sqlite:///{tmp}/portal-bench.db"
        else:
            url = stack.enter_context(postgres_database())
        started = time.perf_counter()
        cookie = _prepare(url, opts.customers)
        print(f"database: {opts.db}, {opts.customers} demo customers, seeded in "
              f"{time.perf_counter() - started:.1f} s")
        env = {**os.environ, "GATEWAY_DATABASE_URL": url, "GATEWAY_MASTER_KEY": MASTER_KEY,
               "GATEWAY_POLICY_DIR": str(POLICY_DIR), "GATEWAY_PORTAL_SESSION_MINUTES": "600",
               "GATEWAY_PORTAL_IDLE_MINUTES": "600"}
        gateway, gateway_pid = _serve(stack, ["gateway.app:create_app", "--factory"], env, _port())
        floor_dir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        with httpx.Client() as probe:
            size = len(probe.get(gateway + "/portal/profile", cookies={"cgw_portal": cookie}).text)
        (floor_dir / "portal_floor.py").write_text(FLOOR_APP.format(n=max(1, size // 8)))
        floor, floor_pid = _serve(stack, ["portal_floor:app", "--app-dir", str(floor_dir)], env, _port())
        results: dict[str, list[tuple[float, float, float]]] = {p: [] for p in ("floor", *pages)}
        with httpx.Client() as client:
            for _ in range(opts.runs):
                results["floor"].append(_measure(client, floor + "/", opts.requests, {}, floor_pid))
                for page in pages:
                    cookies = {} if page in PUBLIC else {"cgw_portal": cookie}
                    results[page].append(_measure(client, gateway + page, opts.requests, cookies,
                                                  gateway_pid))
    floor_p50 = statistics.median(r[0] for r in results["floor"])
    floor_cpu = max(statistics.median(r[2] for r in results["floor"]), TICK_MS / opts.requests)
    print(f"\n{'page':<20}{'p50 ms':>9}{'p95 ms':>9}{'x floor':>9}{'CPU ms':>9}{'x floor':>9}"
          f"   target p50 < {TARGET_MS:.0f} ms")
    worst = worst_cpu = 0.0
    for page, runs in results.items():
        p50 = statistics.median(r[0] for r in runs)
        p95 = statistics.median(r[1] for r in runs)
        cpu = statistics.median(r[2] for r in runs)
        if page != "floor":
            worst, worst_cpu = max(worst, p50), max(worst_cpu, cpu)
        print(f"{page:<20}{p50:>9.2f}{p95:>9.2f}{p50 / floor_p50:>9.1f}{cpu:>9.2f}{cpu / floor_cpu:>9.1f}")
    load = os.getloadavg()[0]
    print(f"\nslowest portal page p50: {worst:.2f} ms -> {'met' if worst < TARGET_MS else 'NOT met'};"
          f" most server CPU per request: {worst_cpu:.2f} ms"
          f" (medians of {opts.runs} runs x {opts.requests} requests; shared 2-core machine,"
          f" load average {load:.1f} at the end)")


if __name__ == "__main__":
    main()
