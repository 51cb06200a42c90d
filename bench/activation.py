"""Activation at scale: a dry run and a real run of a large audience to a local receiver, beside
a plain SQL count of the same audience, and trigger latency from event to delivery.

One run, from nothing, cleaned up after:

1. A fresh database (SQLite file, or `--db postgresql`: a new database next to the one
   GATEWAY_TEST_DATABASE_URL names, dropped at the end), migrated, seeded with `--customers`
   customers (sealed first name and email, blind index) in bulk: 80% consented to
   marketing_email, and some objected (4%), opted out of email (3%), restricted (2%),
   suppressed (1%), without an email (1%), with a cap of one email a week (10%).
2. A receiver in its own process (bench/_receiver.py) and a webhook destination to it.
3. A segment (gateway/segmentation) `lifecycle = "active"`: every customer, and a campaign
   over it. Two floors in the same run: the segment's own count (`gateway.segmentation.
   store.count`: its rule plus the profiling gate, as its members are taken) and a bare
   `SELECT count(*) FROM customers WHERE lifecycle_stage = 'active'`.
4. `--runs` alternations of floors and dry run (counts per exclusion reason, in one SQL
   statement over the segment); medians and the ratios dry run / floor (target: within 3x),
   and the peak of Python memory the dry run allocated (tracemalloc: the database's own
   memory is not in it).
5. The real run: the plan (INSERT ... SELECT of the allowed; its time and Python memory
   peak), then `consent-gateway activation work --once` in a subprocess to the receiver
   (every message gated again and its payload read through the profile read path); wall
   time, messages per second and the worker's peak memory (max RSS of the subprocess). The
   receiver's count of distinct message ids must equal the messages sent.
6. Trigger latency: the worker runs (`--poll` seconds between idle passes) while `--events`
   sign-ups are recorded one by one; each fires the `welcome_series` rule (no delay for its
   first step); latency is the receiver's arrival time minus the time the event was
   recorded; p50 and p99.

The machine has 2 cores and is shared with other benchmarks and test suites: trust ratios
and orders of magnitude more than absolute figures. Results also go to
`bench/results/activation-<timestamp>.json` (git-ignored).

    .venv/bin/python bench/activation.py [--db sqlite|postgresql] [--customers 100000]
        [--runs 3] [--events 200] [--poll 0.05] [--skip-real]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._setup import MASTER_KEY, POLICY_DIR, postgres_database

CHUNK = 5000


@contextlib.contextmanager
def database(kind: str, workdir: Path, reuse: str | None = None,
             seed_into: str | None = None) -> Iterator[str]:
    if reuse is not None:
        yield reuse
    elif seed_into is not None:
        yield seed_into
    elif kind == "postgresql":
        with postgres_database() as url:
            yield url
    else:
        yield f"sqlite:///{workdir / 'activation.db'}"


@contextlib.contextmanager
def receiver() -> Iterator[tuple[str, subprocess.Popen[str]]]:
    proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("_receiver.py"))],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    try:
        yield f"http://127.0.0.1:{port}", proc
    finally:
        proc.terminate()
        proc.wait()


def stats(base: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{base}/stats", timeout=30) as answer:
        result: dict[str, Any] = json.loads(answer.read())
        return result


def seed(services: Any, customers: int) -> dict[str, int]:
    """Bulk customers, consents and preferences; what each share got."""
    from sqlalchemy import insert

    from gateway.activation.tables import activation_suppressions
    from gateway.consent.tables import (
        consent_events,
        consent_state,
        preference_events,
        preference_state,
    )
    from gateway.profile.write import add_customers

    rng = random.Random(7)
    now = datetime.now(UTC)
    counts = dict.fromkeys(("consented", "objected", "opted_out", "restricted", "suppressed",
                            "no_email", "capped"), 0)
    event_id = 0
    with services.engine.begin() as conn:
        for start in range(1, customers + 1, CHUNK):
            ids = range(start, min(start + CHUNK, customers + 1))
            rows, consents, prefs, suppress = [], [], [], []
            for cid in ids:
                draw = rng.random()
                no_email = draw < 0.01
                counts["no_email"] += no_email
                rows.append({"id": cid, "created_at": now, "updated_at": now,
                             "first_name": f"Name{cid}", "email": None if no_email else f"c{cid}@bench.example",
                             "city": rng.choice(("Leeds", "York", "Bath")), "jurisdiction": "gdpr",
                             "lifecycle_stage": "active", "order_count": 1, "total_spent_cents": 1000})
                if rng.random() < 0.8:
                    counts["consented"] += 1
                    event_id += 1
                    consents.append({"id": event_id, "customer_id": cid, "purpose": "marketing_email",
                                     "notice_version": 2, "action": "grant", "occurred_at": now,
                                     "recorded_at": now, "source_channel": "import"})
                for kind, key, value, share, name in (
                    ("objection", "direct_marketing", "on", 0.04, "objected"),
                    ("channel", "email", "opt_out", 0.03, "opted_out"),
                    ("restriction", "processing", "on", 0.02, "restricted"),
                ):
                    if rng.random() < share:
                        counts[name] += 1
                        prefs.append({"customer_id": cid, "kind": kind, "key": key, "value": value,
                                      "cap_count": None, "cap_period_days": None})
                if rng.random() < 0.10 and not any(p["customer_id"] == cid and p["kind"] == "channel" for p in prefs[-3:]):
                    counts["capped"] += 1
                    prefs.append({"customer_id": cid, "kind": "channel", "key": "email", "value": "opt_in",
                                  "cap_count": 1, "cap_period_days": 7})
                if rng.random() < 0.01:
                    counts["suppressed"] += 1
                    suppress.append({"scope": "customer", "customer_id": cid, "reason": "complaint",
                                     "created_at": now, "created_by": "bench"})
            add_customers(conn, services.vault, rows)
            if consents:
                conn.execute(insert(consent_events), consents)
                conn.execute(insert(consent_state), [
                    {"customer_id": c["customer_id"], "purpose": c["purpose"], "action": "grant",
                     "notice_version": 2, "occurred_at": now, "event_id": c["id"]} for c in consents])
            for p in prefs:
                p["id"] = event_id = event_id + 1
            if prefs:
                conn.execute(insert(preference_events), [
                    {**p, "occurred_at": now, "recorded_at": now, "source_channel": "import"}
                    for p in prefs])
                conn.execute(insert(preference_state), [
                    {k: p[k] for k in ("customer_id", "kind", "key", "value", "cap_count",
                                       "cap_period_days")} | {"occurred_at": now, "event_id": p["id"]}
                    for p in prefs])
            if suppress:
                conn.execute(insert(activation_suppressions), suppress)
            print(f"\rseeded {ids[-1]:,} / {customers:,}", end="", flush=True)
    print()
    if services.engine.dialect.name == "postgresql":
        with services.engine.connect() as conn:
            for table in ("consent_events", "preference_events"):
                conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
            conn.commit()
            # Statistics, as autovacuum would gather them some minutes after a bulk load: without
            # them the planner runs the segment's NOT EXISTS probes as repeated scans (a 1M count
            # ran for more than ten minutes here before it was cancelled).
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
    return counts


def audience(services: Any, act: Any) -> tuple[str, Any]:
    """A segment of every active customer (gateway/segmentation) and the campaign over it."""
    from gateway.activation.campaigns import CampaignInput, create_campaign
    from gateway.activation.service import CLI
    from gateway.profile.fields import CUSTOMER_FIELDS
    from gateway.segmentation.store import create_segment

    profiling = services.purposes.by_name["profiling"]
    plan = services.policy.plan("marketing", profiling, CUSTOMER_FIELDS)
    with services.engine.begin() as conn:
        info = create_segment(conn, plan, name="bench-active", definition='lifecycle = "active"',
                              description=None, actor="bench", now=datetime.now(UTC))
        found = create_campaign(conn, act, CLI, CampaignInput(
            name="bench", destination="bench-esp", purpose="marketing_email",
            template="newsletter", segment_id=str(info.id)))
    return found.ref, info


def reused(services: Any) -> tuple[str, Any]:
    """The campaign and segment `audience` made in a database seeded by an earlier run."""
    from sqlalchemy import select

    from gateway.activation.tables import activation_campaigns
    from gateway.segmentation.store import get_segment, list_segments

    with services.engine.connect() as conn:
        ref = conn.execute(select(activation_campaigns.c.ref).where(
            activation_campaigns.c.name == "bench")).scalar_one()
        info = next(i for i in list_segments(conn) if i.name == "bench-active")
        return ref, get_segment(conn, info.id)


def _point_destinations(services: Any, base: str) -> None:
    """Aim the reused database's destinations at this run's receiver (a new port)."""
    from sqlalchemy import update

    from gateway.activation.tables import activation_destinations

    with services.engine.begin() as conn:
        conn.execute(update(activation_destinations).values(url=f"{base}/hook"))


def floor_counts(services: Any, info: Any) -> tuple[float, float, int]:
    """The segment counted by gateway/segmentation (its rule and the profiling gate), and a
    bare count of its rule; seconds of each, and the members."""
    from sqlalchemy import func, select

    from gateway.profile.tables import customers
    from gateway.segmentation.store import count

    profiling = services.purposes.by_name["profiling"]
    with services.engine.connect() as conn:
        started = time.perf_counter()
        members = count(conn, info.rule(), profiling, datetime.now(UTC), profiling)
        segment = time.perf_counter() - started
        started = time.perf_counter()
        conn.execute(select(func.count()).select_from(customers)
                     .where(customers.c.lifecycle_stage == "active")).scalar_one()
        bare = time.perf_counter() - started
    return segment, bare, members


def dry(services: Any, act: Any, ref: str) -> tuple[float, Any, float]:
    """Seconds of one dry run, its result, and the peak of Python memory it allocated (MB)."""
    from gateway.activation.campaigns import dry_run
    from gateway.activation.service import CLI

    tracemalloc.start()
    started = time.perf_counter()
    with services.engine.begin() as conn:
        result = dry_run(conn, act, CLI, ref)
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return seconds, result, peak


def worker_env(url: str, base: str, poll: float) -> dict[str, str]:
    return {**os.environ, "GATEWAY_DATABASE_URL": url, "GATEWAY_MASTER_KEY": MASTER_KEY,
            "GATEWAY_POLICY_DIR": str(POLICY_DIR), "GATEWAY_ACTIVATION_ALLOWED_URLS": base + "/",
            "GATEWAY_ACTIVATION_PRIVATE_NETWORKS": "127.0.0.0/8",
            "GATEWAY_ACTIVATION_POLL_SECONDS": str(poll), "GATEWAY_LOG_LEVEL": "warning"}


def real_run(services: Any, act: Any, ref: str, url: str, base: str) -> dict[str, Any]:
    from gateway.activation.campaigns import plan_campaign
    from gateway.activation.service import CLI

    tracemalloc.start()
    started = time.perf_counter()
    with services.engine.begin() as conn:
        planned = plan_campaign(conn, act, CLI, ref)
    plan_seconds = time.perf_counter() - started
    plan_peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    before = stats(base)["unique"]
    started = time.perf_counter()
    profile = ["-m", "cProfile", "-o", os.environ["BENCH_PROFILE"]] if os.environ.get("BENCH_PROFILE") else []
    done = subprocess.run([sys.executable, *profile, "-m", "gateway.cli", "activation", "work", "--once"],
                          env=worker_env(url, base, 0.5), capture_output=True, text=True, check=False)
    send_seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"worker failed:\n{done.stderr[-3000:]}")
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    got = stats(base)
    from gateway.activation.outbox import status_counts

    with services.engine.connect() as conn:
        statuses = status_counts(conn, campaign_id=planned.campaign.id)
    return {"enqueued": planned.enqueued, "sent": statuses.get("sent", 0), "statuses": statuses, "plan_s": plan_seconds,
            "plan_python_peak_mb": plan_peak, "send_s": send_seconds,
            "received_unique": got["unique"] - before, "requests": got["requests"],
            "messages_per_s": planned.enqueued / send_seconds if send_seconds else None,
            "worker_peak_rss_mb": peak_kb / 1024, "worker_summary": done.stderr.strip().splitlines()[-1:]}


def trigger_latency(services: Any, act: Any, url: str, base: str, events: int, poll: float,
                    customers: int) -> dict[str, Any]:
    from gateway.activation.destinations import get_destination
    from gateway.activation.events import EventInput, record_event
    from gateway.activation.service import CLI

    worker = subprocess.Popen([sys.executable, "-m", "gateway.cli", "activation", "work"],
                              env=worker_env(url, base, poll), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        with services.engine.connect() as conn:
            names = get_destination(conn, name="esp-email").pseudonyms(act)
        rng = random.Random(11)
        sent: dict[str, float] = {}
        sample = rng.sample(range(1, customers + 1), min(customers, events * 4))
        allowed = _welcome_allowed(services, sample)
        candidates = [c for c in sample if c in allowed][:events + 1]
        # Warm-up: the worker has started and done its first pass once this one arrives.
        warm = candidates.pop()
        with services.engine.begin() as conn:
            record_event(conn, act, CLI, EventInput(kind="signup", source="bench", customer_id=warm))
        deadline = time.monotonic() + 300
        while names.customer_id(warm) not in stats(base)["arrivals"] and time.monotonic() < deadline:
            time.sleep(0.2)
        for cid in candidates:
            recorded = time.time()
            with services.engine.begin() as conn:
                record_event(conn, act, CLI, EventInput(kind="signup", source="bench", customer_id=cid))
            sent[names.customer_id(cid)] = recorded
            time.sleep(0.05)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            arrivals = stats(base)["arrivals"]
            if all(r in arrivals for r in sent):
                break
            time.sleep(0.5)
        arrivals = stats(base)["arrivals"]
    finally:
        worker.send_signal(signal.SIGINT)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
    latencies = sorted(arrivals[r] - t for r, t in sent.items() if r in arrivals)
    if not latencies:
        return {"events": events, "delivered": 0}
    return {"events": events, "delivered": len(latencies),
            "p50_ms": 1000 * statistics.median(latencies),
            "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
            "max_ms": 1000 * latencies[-1]}


def _welcome_allowed(services: Any, ids: list[int]) -> set[int]:
    """Those of `ids` the gate would let a welcome email through: consented, no objection,
    restriction, opt-out, suppression or reached cap (so each probe measures a delivery, not
    an exclusion). One statement for all of them: the cap's set of capped customers is
    computed once, not once per candidate (after a real run it joins every sent message)."""
    from sqlalchemy import select

    from gateway.activation.gate import Facts, capped, epoch, reachable, reason, suppressed
    from gateway.consent.state import flags_of, subject_flag_columns
    from gateway.profile.tables import customers

    purpose = services.purposes.by_name["marketing_email"]
    now = datetime.now(UTC)
    stmt = select(customers.c.id, *subject_flag_columns(customers.c.id, purpose, now),
                  suppressed(customers.c.id, "email", now).label("s"),
                  reachable("email").label("r"), capped(customers.c.id, "email").label("c"),
                  ).where(customers.c.id.in_(ids))
    with services.engine.connect() as conn:
        rows = conn.execute(stmt, {"now_epoch": epoch(now)}).all()
    return {int(row.id) for row in rows
            if reason(purpose, Facts(flags_of(row), bool(row.s), bool(row.r), bool(row.c))) is None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--poll", type=float, default=0.05)
    parser.add_argument("--skip-real", action="store_true")
    parser.add_argument("--reuse", metavar="URL", help="a database seeded by an earlier run "
                        "(kept: a run killed after seeding, or a copy); its size must be --customers")
    parser.add_argument("--seed-into", metavar="URL", help="seed this existing empty database "
                        "(created by the caller, kept afterwards for --reuse; the caller drops it)")
    args = parser.parse_args()

    from dataclasses import replace

    from gateway.activation.destinations import DestinationInput, create_destination
    from gateway.activation.service import CLI, Activation
    from gateway.app import build_services
    from gateway.config import Settings
    from gateway.store.migrate import upgrade

    out: dict[str, Any] = {"db": args.db, "customers": args.customers, "runs": args.runs,
                           "note": "2 shared cores; medians"}
    with tempfile.TemporaryDirectory() as tmp, database(args.db, Path(tmp), args.reuse, args.seed_into) as url, receiver() as (base, _proc):
        upgrade(url)
        settings = Settings(database_url=url, master_key=MASTER_KEY, policy_dir=POLICY_DIR,
                            master_key_file=Path(tmp) / "master.key")
        settings = replace(settings, activation_allowed_urls=base + "/",
                           activation_private_networks="127.0.0.0/8", activation_batch_size=1000)
        services = build_services(settings)
        s = services
        act = Activation.build(settings, s.purposes, s.policy, s.pseudonyms, s.vault, s.signer)
        if args.reuse is None:
            started = time.perf_counter()
            out["seeded"] = seed(services, args.customers)
            out["seed_s"] = time.perf_counter() - started
            with services.engine.begin() as conn:
                for name in ("bench-esp", "esp-email"):
                    create_destination(conn, act, CLI, DestinationInput(
                        name=name, kind="webhook", channel="email", purpose="marketing_email",
                        fields=("firstName", "email"), url=f"{base}/hook"))
            ref, info = audience(services, act)
        else:
            out["reused"] = True
            _point_destinations(services, base)
            ref, info = reused(services)
        segment_floors, bare_floors, drys, dry_peaks = [], [], [], []
        floor_cpu, dry_cpu = [], []
        result = None
        members = 0
        for _ in range(args.runs):
            # Process time too: on SQLite the statements run in this process, so it is their
            # own cost, much less moved by other jobs on a shared machine than wall time.
            cpu = time.process_time()
            segment, bare, members = floor_counts(services, info)
            floor_cpu.append(time.process_time() - cpu)
            segment_floors.append(segment)
            bare_floors.append(bare)
            cpu = time.process_time()
            seconds, result, peak = dry(services, act, ref)
            dry_cpu.append(time.process_time() - cpu)
            drys.append(seconds)
            dry_peaks.append(peak)
        assert result is not None and result.audience == members
        out["floor_segment_count_s"] = statistics.median(segment_floors)
        out["floor_bare_count_s"] = statistics.median(bare_floors)
        out["dry_run_s"] = statistics.median(drys)
        out["dry_run_python_peak_mb"] = max(dry_peaks)
        if args.db == "sqlite":
            out["floors_cpu_s"] = statistics.median(floor_cpu)  # segment count + bare count
            out["dry_run_cpu_s"] = statistics.median(dry_cpu)
            out["dry_cpu_over_floors_cpu"] = out["dry_run_cpu_s"] / out["floors_cpu_s"]
        out["dry_over_segment_count"] = out["dry_run_s"] / out["floor_segment_count_s"]
        out["dry_over_bare_count"] = out["dry_run_s"] / out["floor_bare_count_s"]
        out["dry_run"] = result.counts()
        print(json.dumps({k: out[k] for k in ("floor_segment_count_s", "floor_bare_count_s",
                                              "dry_run_s", "dry_run_python_peak_mb",
                                              "dry_run_cpu_s", "floors_cpu_s",
                                              "dry_cpu_over_floors_cpu", "dry_over_segment_count",
                                              "dry_over_bare_count") if k in out}))
        if not args.skip_real:
            out["real_run"] = real_run(services, act, ref, url, base)
            print(json.dumps(out["real_run"]))
            real = out["real_run"]
            if real["received_unique"] != real["sent"]:
                print(f"MISMATCH: the receiver holds {real['received_unique']} distinct messages, "
                      f"the outbox says {real['sent']} were sent")
        out["trigger"] = trigger_latency(services, act, url, base, args.events, args.poll,
                                         args.customers)
        print(json.dumps(out["trigger"]))
        services.engine.dispose()
    results = Path(__file__).with_name("results")
    results.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    (results / f"activation-{args.db}-{stamp}.json").write_text(json.dumps(out, indent=2, default=str))
    print(json.dumps(out, indent=2, default=str))


if __name__ == "__main__":
    main()
