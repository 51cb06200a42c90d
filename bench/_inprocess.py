"""In-process timing of the read (no HTTP): where the gateway's time goes.

Times, per request, the gateway's synchronous endpoint path `GraphQLEndpoint._handle(body,
headers)` (authentication, execution, error formatting, audit entry, commit) against plain
strawberry's `execute_sync` of the floor schema and the hand-written floor A, on the seeded
database. It also checks that the withheld-field leak stays fixed (frames kept per request). With `profile=True` it adds a phase
breakdown (wall time per gateway step, measured by wrapping the step functions) and a
cProfile of `_handle`.

Between timed calls the frames leaked by the shared `WITHHELD` errors are released (untimed),
so that a growing heap does not slow the later measurements; the HTTP targets get no such
help and show the leak's real effect.
"""

from __future__ import annotations

import contextlib
import cProfile
import gc
import hashlib
import io
import pstats
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import orjson

from bench._floors import QUERY, floor_schema, page_json, read_page
from bench._leak import drop_shared_tracebacks, shared_traceback_entries
from bench._setup import POLICY_DIR, SCENARIO_APPS, BenchDatabase

FLOOR_B_LABEL = "b  floor B (strawberry execute_sync)"
C1_LABEL = "c1 gateway _handle, support/service"
P1_LABEL = "p1 gateway _handle, support, persisted (plan)"


def _settings(db: BenchDatabase) -> Any:
    import os
    import tempfile

    from bench._servers import _rate_limits
    from gateway.config import Settings

    # The limiter as the servers run it (BENCH_RATE_LIMITS), with limits that never refuse.
    limits = _rate_limits(dict(os.environ), Path(tempfile.mkdtemp(prefix="bench-limits-")))
    return Settings(database_url=db.url, master_key=db.master_key,
                    policy_dir=Path(limits.get("GATEWAY_POLICY_DIR", POLICY_DIR)),
                    rate_limits=limits["GATEWAY_RATE_LIMITS"] == "on",
                    rate_limit_storage=limits.get("GATEWAY_RATE_LIMIT_STORAGE", "memory://"))


@dataclass
class Subjects:
    """The callables timed in process, by label, and what they need."""

    calls: dict[str, Callable[[], object]] = field(default_factory=dict)
    endpoint: Any = None
    headers: dict[str, dict[str, str | None]] = field(default_factory=dict)
    closers: list[Callable[[], None]] = field(default_factory=list)


def _subjects(db: BenchDatabase) -> Subjects:
    from gateway.api.http import GraphQLEndpoint
    from gateway.api.schema import build_schema
    from gateway.app import build_services
    from gateway.store.db import make_engine

    settings = _settings(db)
    services = build_services(settings)
    endpoint = GraphQLEndpoint(services, build_schema(settings))
    engine = make_engine(db.url)
    vault = services.vault  # the floors open sealed identifiers with the same keys
    schema = floor_schema()
    body = orjson.dumps({"query": QUERY})
    out = Subjects(endpoint=endpoint,
                   closers=[services.engine.dispose, engine.dispose])
    for app, (_role, purpose) in SCENARIO_APPS.items():
        out.headers[app] = {"authorization": f"Bearer {db.keys[app]}", "x-purpose": purpose,
                            "accept": None}

    def floor_a() -> bytes:
        with engine.connect() as conn:
            rows, totals = read_page(conn, 20)
        return orjson.dumps(page_json(rows, totals, vault.envelope.opener()))

    def floor_b() -> object:
        result = schema.execute_sync(QUERY, context_value={"engine": engine, "vault": vault})
        assert result.errors is None, result.errors
        return result

    out.calls["a  floor A (SQL + dicts + orjson)"] = floor_a
    out.calls[FLOOR_B_LABEL] = floor_b
    out.calls["c0 gateway _handle, compliance (0 errors)"] = partial(
        endpoint._handle, body, out.headers["compliance"])
    out.calls[C1_LABEL] = partial(endpoint._handle, body, out.headers["support"])
    out.calls["c2 gateway _handle, marketing/marketing_email"] = partial(
        endpoint._handle, body, out.headers["marketing"])
    # The same reads as persisted documents: registered once by each app (the text with its
    # hash), then named by the hash alone and served through the compiled plan.
    sha = {"persistedQuery": {"version": 1, "sha256Hash": hashlib.sha256(QUERY.encode()).hexdigest()}}
    persisted = orjson.dumps({"extensions": sha})
    for app in ("compliance", "support", "marketing"):
        registered = endpoint._handle(orjson.dumps({"query": QUERY, "extensions": sha}), out.headers[app])
        assert registered.status == 200, registered
    out.calls[P1_LABEL] = partial(endpoint._handle, persisted, out.headers["support"])
    out.calls["p2 gateway _handle, marketing, persisted (plan)"] = partial(
        endpoint._handle, persisted, out.headers["marketing"])
    out.calls["p0 gateway _handle, compliance, persisted (plan)"] = partial(
        endpoint._handle, persisted, out.headers["compliance"])
    return out


class GCClock:
    """Wall time spent in the cyclic garbage collector, charged to the label running."""

    def __init__(self) -> None:
        self.label = ""
        self.seconds: dict[str, float] = {}
        self._started = 0.0

    def __call__(self, phase: str, _info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            spent = time.perf_counter() - self._started
            self.seconds[self.label] = self.seconds.get(self.label, 0.0) + spent


def time_calls(
    calls: dict[str, Callable[[], object]], iterations: int
) -> dict[str, dict[str, float]]:
    """Per-call microseconds (median, 10th and 90th percentile) of `iterations` calls each,
    and the garbage collector's share (mean us per call spent in collections it triggered).

    The calls are interleaved one by one (a, b, c0, ..., a, b, ...), so that the machine's
    noise bursts spread over all of them; the median per call is the figure to compare.
    """
    for call in calls.values():
        for _ in range(max(5, iterations // 10)):
            call()
            drop_shared_tracebacks()
    samples: dict[str, list[float]] = {label: [] for label in calls}
    cpu: dict[str, list[float]] = {label: [] for label in calls}
    clock, thread_clock = time.perf_counter, time.thread_time
    gc_clock = GCClock()
    gc.collect()
    gc.callbacks.append(gc_clock)
    try:
        for _ in range(iterations):
            for label, call in calls.items():
                gc_clock.label = label
                started, cpu_started = clock(), thread_clock()
                call()
                samples[label].append((clock() - started) * 1e6)
                # This thread's CPU: on a shared machine, wall time counts other processes.
                cpu[label].append((thread_clock() - cpu_started) * 1e6)
                gc_clock.label = ""
                drop_shared_tracebacks()
    finally:
        gc.callbacks.remove(gc_clock)
    out: dict[str, dict[str, float]] = {}
    for label, values in samples.items():
        deciles = statistics.quantiles(values, n=10)
        out[label] = {"median_us": statistics.median(values), "mean_us": statistics.fmean(values),
                      "p10_us": deciles[0], "p90_us": deciles[-1],
                      "cpu_median_us": statistics.median(cpu[label]),
                      "gc_us": gc_clock.seconds.get(label, 0.0) / iterations * 1e6}
    return out


# --- phase breakdown ------------------------------------------------------------------------


class PhaseTimer:
    """Wall time and call count per wrapped function, accumulated over many requests."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    def wrap(self, label: str, func: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - started
                self.calls[label] = self.calls.get(label, 0) + 1

        return timed


@contextlib.contextmanager
def _patched(timer: PhaseTimer, endpoint: Any) -> Iterator[None]:
    """Wrap the gateway's steps (module globals, looked up at call time) with timers."""
    import strawberry.schema.schema as sschema
    from graphql.execution import executor
    from sqlalchemy.engine import Connection

    from gateway.api import context, http, query
    from gateway.profile import service

    targets: list[tuple[Any, str, str]] = [
        (endpoint.services.authenticator, "authenticate", "1 authenticate (cached key)"),
        (endpoint.schema, "execute_sync", "2 schema.execute_sync (all below)"),
        (sschema, "validate", "2.1 graphql validate (ValidationCache miss)"),
        (context.RequestContext, "reader", "2.2 ctx.reader (plan, pseudonymizer)"),
        (service, "list_customers", "2.3 list_customers (SQL, views, nested)"),
        (service, "_views", "2.3.1 _views: build_view + orders"),
        (service, "load_nested", "2.3.2 load_nested (orders SQL)"),
        (query, "to_customer", "2.4 to_customer x20"),
        (context.RequestContext, "record", "2.5 ctx.record (audit fields)"),
        (executor, "located_error", "2.6 located_error (one per withheld field)"),
        (http, "format_error", "3 format_error (one per error)"),
        (http, "write_entry", "4 write_entry (audit insert)"),
        (Connection, "commit", "5 commit"),
    ]
    # (object, name, original, whether the object itself held it: instances usually do not)
    saved = [(obj, name, getattr(obj, name), name in vars(obj)) for obj, name, _ in targets]
    try:
        for obj, name, label in targets:
            setattr(obj, name, timer.wrap(label, getattr(obj, name)))
        yield
    finally:
        for obj, name, original, own in reversed(saved):
            if own:
                setattr(obj, name, original)
            else:
                delattr(obj, name)


def phase_breakdown(subjects: Subjects, app: str, iterations: int) -> list[tuple[str, float, float]]:
    """(step, microseconds per request, calls per request) of `_handle` for `app`."""
    endpoint = subjects.endpoint
    body = orjson.dumps({"query": QUERY})
    headers = subjects.headers[app]
    timer = PhaseTimer()
    with _patched(timer, endpoint):
        handle = timer.wrap("0 _handle (total)", endpoint._handle)
        for _ in range(iterations):
            handle(body, headers)
            drop_shared_tracebacks()
    rows = [(label, timer.seconds[label] / iterations * 1e6, timer.calls[label] / iterations)
            for label in sorted(timer.seconds)]
    return rows


def cprofile_top(call: Callable[[], object], iterations: int, top: int = 15) -> str:
    """cProfile of `iterations` calls: the top functions by own time, then by cumulative time."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(iterations):
        call()
        drop_shared_tracebacks()
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.strip_dirs().sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    lines = [ln for ln in out.getvalue().splitlines() if ln.strip()]
    return "\n".join(lines)


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def leak_check(call: Callable[[], object], requests: int = 50) -> dict[str, float]:
    """Growth per request of `call` (frames on the shared errors, live objects, RSS), and
    the time of a full collection afterwards."""
    drop_shared_tracebacks()
    gc.collect()
    objects, rss = len(gc.get_objects()), _rss_mb()
    for _ in range(requests):
        call()
    frames = shared_traceback_entries()
    started = time.perf_counter()
    gc.collect()
    full_gc_ms = (time.perf_counter() - started) * 1000
    grown_objects, grown_rss = len(gc.get_objects()) - objects, _rss_mb() - rss
    drop_shared_tracebacks()
    gc.collect()
    return {"requests": requests, "frames_per_request": frames / requests,
            "objects_per_request": grown_objects / requests,
            "rss_kb_per_request": grown_rss * 1024 / requests,
            "full_gc_ms_after": full_gc_ms}


def run_inprocess(db: BenchDatabase, iterations: int, profile: bool) -> dict[str, Any]:
    """Timings, the leak check (and with `profile`, breakdowns and cProfile) as a dict."""
    subjects = _subjects(db)
    try:
        result: dict[str, Any] = {"iterations": iterations,
                                  "timings": time_calls(subjects.calls, iterations),
                                  "leak": {"c1": leak_check(subjects.calls[C1_LABEL])}}
        if profile:
            result["breakdown_c1"] = phase_breakdown(subjects, "support", iterations)
            result["breakdown_c0"] = phase_breakdown(subjects, "compliance", iterations)
            result["cprofile_c1"] = cprofile_top(subjects.calls[C1_LABEL], max(20, iterations // 2))
    finally:
        for close in subjects.closers:
            close()
    return result
