"""Load and faults: 2 uvicorn workers on PostgreSQL, mixed traffic, a stale-read checker.

    python bench/load.py                         # 30 s, a fresh database on the shared server
    python bench/load.py --minutes 5             # the long run
    python bench/load.py --fault pg-restart      # own PostgreSQL cluster, restarted mid-load
    python bench/load.py --fault kill-worker     # one worker SIGKILLed mid-load

Traffic (asyncio + httpx, all on 127.0.0.1): readers (marketing app, `customer(id)` for
marketing_email), consent writers (call center: grant / withdraw on customers each owns) and
auditors (compliance officer, `auditEvents`). Afterwards:

- errors: every answer must be 200 without INTERNAL (faults: only 503 with a stable code,
  or a connection cut by the fault, are expected, and the traffic must recover);
- stale reads: a read sent after a withdrawal was answered (so committed) and before any
  later grant was sent must not show the email; every read is checked against the
  customer's mutations (reads overlapping a mutation in flight are ambiguous and skipped);
- audit: every answered request id has its entry; the chain verifies;
- consents: every consent event has its audit entry (no half-written consent).

Prints p50/p99 per kind, requests, errors, stale reads, as JSON too (bench/results/).
The machine has 2 cores shared with other work: figures swing; the checks do not.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._pgcluster import own_cluster
from bench._setup import MASTER_KEY, POLICY_DIR, REPO, postgres_database

READ = "query($id: ID!) { customer(id: $id) { id email } }"
CONSENT = ("mutation($i: RecordConsentInput!) { recordConsent(input: $i) { __typename "
           "... on MutationError { code message } } }")
AUDIT = "{ auditEvents(first: 20) { nodes { seq action decision } } }"
APPS = {"reader": ("marketing", "marketing_email"), "writer": ("call_center", "support"),
        "auditor": ("compliance_officer", "compliance_audit")}


@dataclass
class Call:
    kind: str
    sent: float
    answered: float
    status: int
    codes: tuple[str, ...] = ()
    request_id: str | None = None
    customer: int | None = None
    allowed: bool | None = None  # reads: the email came back (None: withheld for another reason)
    action: str | None = None  # writes: grant / withdraw
    cut: str | None = None  # a transport error (connection cut)


@dataclass
class World:
    url: str
    keys: dict[str, str]
    ids: dict[str, dict[int, str]]  # app kind -> internal id -> its pseudonym
    customers: list[int]
    calls: list[Call] = field(default_factory=list)


# --- setup -----------------------------------------------------------------------------------


def _prepare(url: str, customers: int) -> tuple[dict[str, str], dict[str, dict[int, str]],
                                                list[int], int]:
    """Migrate, seed, create the apps; return keys, pseudonyms and the customers to work on."""
    from gateway.auth.apps import create_app
    from gateway.consent.purposes import load_purposes
    from gateway.demo.seed import seed_demo
    from gateway.policy import PolicyEngine
    from gateway.privacy.keys import load_or_create_master_key
    from gateway.privacy.pseudonyms import PseudonymService
    from gateway.profile.tables import customers as customers_table
    from gateway.store.db import make_engine
    from gateway.store.migrate import upgrade
    from tests.harness import settings_for

    upgrade(url)
    purposes = load_purposes(POLICY_DIR / "purposes.yaml")
    engine = make_engine(url)
    from gateway.privacy.vault import vault_for

    settings = settings_for(url, Path("/tmp"))
    seed_demo(engine, purposes, vault=vault_for(settings), customers=customers, seed=7)
    roles = PolicyEngine(POLICY_DIR, purposes).roles()
    pseudonyms = PseudonymService(load_or_create_master_key(MASTER_KEY, Path("/tmp/unused")))
    keys: dict[str, str] = {}
    ids: dict[str, dict[int, str]] = {}
    with engine.begin() as conn:
        gdpr = [int(r.id) for r in conn.execute(
            select(customers_table.c.id).where(customers_table.c.jurisdiction == "gdpr"))]
        for kind, (role, _purpose) in APPS.items():
            caller, keys[kind] = create_app(conn, f"load-{kind}", role, roles)
            service = pseudonyms.for_app(caller.app_id)
            ids[kind] = {cid: service.customer_id(cid) for cid in gdpr}
            if kind == "writer":
                writer_id = caller.app_id
    engine.dispose()
    return keys, ids, gdpr, writer_id


def _limits_dir(workdir: Path) -> Path:
    """The policies with limits high enough that the load is never refused (their cost stays)."""
    import shutil

    target = workdir / "policies"
    shutil.copytree(POLICY_DIR, target, dirs_exist_ok=True)
    (target / "limits.yaml").write_text("default: {requests: 100000/second, rows: 100000000/minute}\n")
    return target


@contextlib.contextmanager
def _server(url: str, workdir: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    env = {**os.environ, "GATEWAY_DATABASE_URL": url, "GATEWAY_MASTER_KEY": MASTER_KEY,
           "GATEWAY_POLICY_DIR": str(_limits_dir(workdir)), "GATEWAY_LOG_LEVEL": "warning",
           "GATEWAY_RATE_LIMIT_STORAGE": "redis://127.0.0.1:6379/0",
           "GATEWAY_RATE_LIMIT_NAMESPACE": f"load-{port}",
           "PYTHONPATH": str(REPO)}
    with (workdir / "server.log").open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "gateway.cli", "serve", "--port", str(port),
                                 "--workers", "2"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            time.sleep(0.3)
        else:
            raise RuntimeError((workdir / "server.log").read_text()[-3000:])
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


def _workers(supervisor: int) -> list[int]:
    """The uvicorn worker processes (not multiprocessing's resource tracker)."""
    children = Path(f"/proc/{supervisor}/task/{supervisor}/children")
    pids = [int(p) for p in children.read_text().split()] if children.exists() else []
    workers = []
    for pid in pids:
        with contextlib.suppress(OSError):
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
            if b"resource_tracker" not in cmdline:
                workers.append(pid)
    return workers


# --- traffic ---------------------------------------------------------------------------------


async def _send(client: httpx.AsyncClient, world: World, kind: str, query: str,
                variables: dict[str, Any] | None, **facts: Any) -> Call:
    role_kind = {"read": "reader", "write": "writer", "audit": "auditor"}[kind]
    _role, purpose = APPS[role_kind]
    headers = {"Authorization": f"Bearer {world.keys[role_kind]}", "X-Purpose": purpose}
    sent = time.monotonic()
    try:
        response = await client.post(f"{world.url}/graphql", headers=headers,
                                     json={"query": query, "variables": variables or {}})
    except httpx.TransportError as exc:
        call = Call(kind, sent, time.monotonic(), 0, cut=type(exc).__name__, **facts)
        world.calls.append(call)
        return call
    answered = time.monotonic()
    body = response.json()
    codes = tuple(e.get("extensions", {}).get("code", "?") for e in body.get("errors", []))
    call = Call(kind, sent, answered, response.status_code, codes,
                response.headers.get("X-Request-Id"), **facts)
    if kind == "read" and response.status_code == 200 and body.get("data"):
        customer = body["data"].get("customer")
        if customer and customer.get("email"):
            call.allowed = True
        elif "CONSENT_REQUIRED" in codes:
            call.allowed = False  # anything else (an opt-out, an objection) is not the checker's
    if kind == "write" and response.status_code == 200:
        outcome = (body.get("data") or {}).get("recordConsent") or {}
        if outcome.get("__typename") == "MutationError":
            call.codes = (outcome.get("code", "?"),)
    world.calls.append(call)
    return call


async def _reader(client: httpx.AsyncClient, world: World, until: float, rng: random.Random) -> None:
    while time.monotonic() < until:
        cid = rng.choice(world.customers)
        await _send(client, world, "read", READ, {"id": world.ids["reader"][cid]}, customer=cid)


async def _writer(client: httpx.AsyncClient, world: World, until: float, owned: list[int],
                  rng: random.Random) -> None:
    state = {cid: "withdraw" for cid in owned}
    while time.monotonic() < until:
        cid = rng.choice(owned)
        action = "grant" if state[cid] == "withdraw" else "withdraw"
        given = {"customerId": world.ids["writer"][cid], "purpose": "marketing_email",
                 "noticeVersion": 2, "action": action, "sourceChannel": "call_center"}
        if action == "grant":  # relaxing a protection needs evidence (the call's reference)
            given["evidence"] = f"call-{rng.randrange(10**6)}"
        call = await _send(client, world, "write", CONSENT, {"i": given}, customer=cid,
                           action=action)
        if call.status == 200 and not call.codes:
            state[cid] = action
        await asyncio.sleep(rng.uniform(0.0, 0.05))


async def _auditor(client: httpx.AsyncClient, world: World, until: float) -> None:
    while time.monotonic() < until:
        await _send(client, world, "audit", AUDIT, None)
        await asyncio.sleep(0.2)


async def _traffic(world: World, seconds: float, readers: int, writers: int,
                   fault: Any | None) -> None:
    until = time.monotonic() + seconds
    owned = world.customers[: max(writers * 10, 10)]
    limits = httpx.Limits(max_connections=readers + writers + 4)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        # Every owned customer starts withdrawn (a known state for the checker).
        for cid in owned:
            given = {"customerId": world.ids["writer"][cid], "purpose": "marketing_email",
                     "noticeVersion": 2, "action": "withdraw", "sourceChannel": "call_center"}
            await _send(client, world, "write", CONSENT, {"i": given}, customer=cid,
                        action="withdraw")
        world.customers = owned  # readers read the customers whose state moves
        tasks = [_reader(client, world, until, random.Random(i)) for i in range(readers)]
        shares = [owned[i::writers] for i in range(writers)]
        tasks += [_writer(client, world, until, share, random.Random(100 + i))
                  for i, share in enumerate(shares)]
        tasks.append(_auditor(client, world, until))
        if fault is not None:
            tasks.append(fault(until - seconds, seconds))
        await asyncio.gather(*tasks)


# --- checks ----------------------------------------------------------------------------------


def stale_reads(calls: list[Call]) -> dict[str, int]:
    """Reads checked against the customer's committed consent state."""
    writes: dict[int, list[Call]] = defaultdict(list)
    for call in calls:
        if call.kind == "write" and call.status == 200 and not call.codes:
            writes[call.customer or 0].append(call)
    out = Counter(checked=0, stale=0, lost_grant=0, ambiguous=0, unknown=0, allowed_after_grant=0)
    for read in calls:
        if read.kind != "read" or read.allowed is None:
            continue
        mutations = writes.get(read.customer or 0, [])
        if any(w.sent < read.answered and w.answered > read.sent for w in mutations):
            out["ambiguous"] += 1
            continue
        before = [w for w in mutations if w.answered <= read.sent]
        if not before:
            out["unknown"] += 1
            continue
        last = max(before, key=lambda w: w.answered)
        out["checked"] += 1
        if last.action == "withdraw" and read.allowed:
            out["stale"] += 1
        elif last.action == "grant" and not read.allowed:
            out["lost_grant"] += 1
        elif read.allowed:
            out["allowed_after_grant"] += 1  # the checker's control: grants do take effect
    return dict(out)


def _audit_checks(url: str, calls: list[Call], writer_id: int) -> dict[str, Any]:
    from gateway.audit.tables import audit_events
    from gateway.audit.verify import verify_chain
    from gateway.consent.tables import consent_events
    from gateway.privacy.keys import load_or_create_master_key
    from gateway.privacy.signing import Signer
    from gateway.store.db import make_engine

    engine = make_engine(url)
    answered = {c.request_id for c in calls if c.status == 200 and c.request_id}
    with engine.connect() as conn:
        logged = set(conn.execute(select(audit_events.c.request_id).where(
            audit_events.c.request_id.is_not(None))).scalars())
        events = conn.execute(select(func.count()).select_from(consent_events).where(
            consent_events.c.app_id == writer_id)).scalar_one()
        consent_entries = conn.execute(select(func.count()).select_from(audit_events).where(
            audit_events.c.operation == "recordConsent",
            audit_events.c.actor == "load-writer")).scalar_one()
    signer = Signer(load_or_create_master_key(MASTER_KEY, Path("/tmp/unused")))
    result = verify_chain(engine, signer.jwks(), full=True, remember=False)
    engine.dispose()
    written = sum(1 for c in calls if c.kind == "write" and c.status == 200 and not c.codes)
    cut = sum(1 for c in calls if c.kind == "write" and c.status == 0)
    return {"answered_without_entry": len(answered - logged), "chain_ok": result.ok,
            "chain_problem": str(result.problem) if result.problem else None,
            # No half-written consent: every event the load wrote has its request's entry;
            # the client saw each as answered, except those cut mid-way by a fault.
            "consents_answered": written, "writes_cut": cut, "consent_events": int(events),
            "consent_request_entries": int(consent_entries)}


def _summary(calls: list[Call], seconds: float) -> dict[str, Any]:
    by_kind: dict[str, Any] = {}
    for kind in ("read", "write", "audit"):
        ok = [c for c in calls if c.kind == kind and c.status == 200]
        times = sorted((c.answered - c.sent) * 1000 for c in ok)
        by_kind[kind] = {
            "requests": sum(1 for c in calls if c.kind == kind), "ok": len(ok),
            "p50_ms": round(statistics.median(times), 1) if times else None,
            "p99_ms": round(times[int(len(times) * 0.99) - 1], 1) if len(times) >= 100 else None,
        }
    statuses = Counter(c.status for c in calls)
    bad = [c for c in calls if c.status != 200 or "INTERNAL" in c.codes
           or (c.kind == "write" and c.codes)]
    errors = Counter(f"{c.status}:{','.join(c.codes) or c.cut or ''}" for c in bad)
    return {"seconds": seconds, "requests": len(calls), "per_second": round(len(calls) / seconds, 1),
            "statuses": dict(statuses), "errors": dict(errors), "by_kind": by_kind}


# --- main ------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--minutes", type=float, default=None, help="overrides --seconds")
    parser.add_argument("--customers", type=int, default=300)
    parser.add_argument("--readers", type=int, default=12)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--fault", choices=["none", "pg-restart", "kill-worker"], default="none")
    args = parser.parse_args()
    seconds = args.minutes * 60 if args.minutes else args.seconds
    import tempfile

    workdir = Path(tempfile.mkdtemp(prefix="gw-load-"))
    with contextlib.ExitStack() as stack:
        if args.fault == "pg-restart":
            cluster = stack.enter_context(own_cluster())
            from sqlalchemy import create_engine, text

            admin = create_engine(cluster.url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text('CREATE DATABASE "load"'))
            admin.dispose()
            url = cluster.url.rsplit("/", 1)[0] + "/load"
        else:
            cluster = None
            url = stack.enter_context(postgres_database())
        keys, ids, gdpr, writer_id = _prepare(url, args.customers)
        from tests.live import free_port

        port = free_port()
        server = stack.enter_context(_server(url, workdir, port))
        world = World(f"http://127.0.0.1:{port}", keys, ids, gdpr)
        fault_log: dict[str, Any] = {}

        async def fault(start: float, total: float) -> None:
            await asyncio.sleep(total * 0.4)
            fault_log["at_s"] = round(time.monotonic() - start, 1)
            if args.fault == "pg-restart":
                assert cluster is not None
                fault_log["restart_s"] = round(await asyncio.to_thread(cluster.restart), 2)
            else:
                victims = _workers(server.pid)
                os.kill(victims[0], signal.SIGKILL)
                fault_log["killed_worker"] = True
                fault_log["workers_before"] = len(victims)

        started = time.monotonic()
        asyncio.run(_traffic(world, seconds, args.readers, args.writers,
                             fault if args.fault != "none" else None))
        elapsed = time.monotonic() - started
        if args.fault == "kill-worker":
            time.sleep(2)
            fault_log["workers_after"] = len(_workers(server.pid))
        summary = _summary(world.calls, elapsed)
        summary["fault"] = {"kind": args.fault, **fault_log}
        summary["stale_reads"] = stale_reads(world.calls)
        summary["audit"] = _audit_checks(url, world.calls, writer_id)
        if args.fault != "none":
            tail = [c for c in world.calls if c.sent > started + elapsed * 0.8]
            summary["fault"]["recovered"] = bool(tail) and all(c.status == 200 for c in tail)
    summary["machine"] = "2 cores shared with other work: figures swing, the checks do not"
    text = json.dumps(summary, indent=2)
    print(text)
    results = REPO / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / f"load-{args.fault}-{int(time.time())}.json").write_text(text)
    return 0 if _passed(summary, args.fault) else 1


def _passed(summary: dict[str, Any], fault: str) -> bool:
    stale = summary["stale_reads"]
    audit = summary["audit"]
    base = (stale["stale"] == 0 and stale["lost_grant"] == 0 and audit["chain_ok"]
            and audit["answered_without_entry"] == 0
            and audit["consents_answered"] <= audit["consent_events"]
            <= audit["consents_answered"] + audit["writes_cut"]
            and audit["consent_events"] <= audit["consent_request_entries"])
    if fault == "none":
        return base and not summary["errors"]
    expected = all(key.startswith(("503:", "0:")) for key in summary["errors"])
    return base and expected and summary["fault"].get("recovered", False)


if __name__ == "__main__":
    raise SystemExit(main())
