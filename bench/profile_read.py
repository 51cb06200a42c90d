"""Throughput of a 30-field profile read: the gateway against its two floors, in one run.

    python bench/profile_read.py [--runs 3] [--duration 10] [--connections 16]
                                 [--customers 2000] [--db sqlite|postgresql] [--profile]

Creates a fresh database (migrated, seeded, with apps), starts three one-worker uvicorn
servers pinned to CPU 0 (floor A: Starlette; floor B: plain strawberry; the gateway), checks
their answers, loads each target from CPU 1 (wrk, or a Python client when wrk is missing),
interleaving targets across runs, prints medians and ratios with the PASS/FAIL of the target
(gateway c1 >= 60% of plain strawberry), times the same read in process, and writes
everything to bench/results/profile_read-<timestamp>.json. See bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` and `gateway` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._inprocess import FLOOR_B_LABEL, run_inprocess
from bench._load import INSTALL_WRK, LoadResult, run_load, wrk_path
from bench._servers import TARGETS, fleet, verify
from bench._setup import bench_database

RESULTS = Path(__file__).resolve().parent / "results"
TARGET_RATIO = 0.60
RATIOS = (("c1", "b"), ("c2", "b"), ("c0", "b"), ("b", "a"), ("c1", "a"),
          ("p1", "b"), ("p2", "b"), ("p0", "b"), ("p1", "a"))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3,
                        help="measurements per target (default 3; 0: in-process part only)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    parser.add_argument("--warmup", type=float, default=2.0,
                        help="seconds of warm-up per measurement")
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections")
    parser.add_argument("--customers", type=int, default=2000, help="demo customers to seed")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--targets", default="a,b,c0,c1,c2",
                        help="comma-separated, from a,b,c0,c1,c2,p0,p1,p2 (c0: compliance officer, all "
                        "fields allowed; c1: support app, service; c2: marketing app, consent; "
                        "pN: cN as a persisted document, through its compiled plan)")
    parser.add_argument("--load", choices=("auto", "wrk", "python"), default="auto",
                        help="load generator (auto: wrk if installed)")
    parser.add_argument("--iterations", type=int, default=200,
                        help="in-process executions per batch (0 skips the in-process part)")
    parser.add_argument("--gc-probe", action="store_true",
                        help="serve through bench/_probe.py and report the servers' GC share")
    parser.add_argument("--profile", action="store_true",
                        help="add the phase breakdown and a cProfile top-15 of the gateway path")
    args = parser.parse_args(argv)
    args.targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    unknown = [t for t in args.targets if t not in TARGETS]
    if unknown:
        parser.error(f"unknown targets {unknown}; choose from {sorted(TARGETS)}")
    return args


def load_tool(choice: str) -> str:
    """wrk when installed (and asked for), else the Python client, with install advice."""
    if choice == "python":
        return "python"
    if wrk_path():
        return "wrk"
    if choice == "wrk":
        raise SystemExit(f"wrk is not installed: {INSTALL_WRK}")
    print(f"wrk is not installed; using the Python load generator (slower, it may cap floor A).\n"
          f"  install wrk: {INSTALL_WRK}")
    return "python"


def summarize(
    runs: dict[str, list[LoadResult]], cpu: dict[str, list[float]]
) -> dict[str, dict[str, Any]]:
    """Median, min and max requests/s, median p50/p99 and server CPU per request, per target."""
    out: dict[str, dict[str, Any]] = {}
    for target, results in runs.items():
        rps = [r.rps for r in results]
        out[target] = {
            "rps_median": statistics.median(rps), "rps_min": min(rps), "rps_max": max(rps),
            "p50_ms_median": statistics.median(r.p50_ms for r in results),
            "p99_ms_median": statistics.median(r.p99_ms for r in results),
            "cpu_us_per_request_median": statistics.median(cpu[target]) if cpu[target] else None,
            "failures": sum(r.failures for r in results),
        }
    return out


def ratios(summary: dict[str, dict[str, Any]]) -> dict[str, float]:
    """Throughput ratios between targets that were measured."""
    return {
        f"{x}/{y}": summary[x]["rps_median"] / summary[y]["rps_median"]
        for x, y in RATIOS if x in summary and y in summary and summary[y]["rps_median"]
    }


def cpu_ratios(summary: dict[str, dict[str, Any]]) -> dict[str, float]:
    """The same ratios from server CPU per request (y's CPU / x's CPU): less noisy when the
    server is CPU-bound (server CPU near 100%), meaningless when it waits on the database."""
    out: dict[str, float] = {}
    for x, y in RATIOS:
        if x in summary and y in summary:
            cx = summary[x]["cpu_us_per_request_median"]
            cy = summary[y]["cpu_us_per_request_median"]
            if cx and cy:
                out[f"{x}/{y}"] = cy / cx
    return out


def print_table(summary: dict[str, dict[str, Any]], found: dict[str, dict[str, Any]]) -> None:
    """The results table."""
    print(f"\n{'target':<7}{'req/s median':>13}{'(min-max)':>18}{'p50 ms':>9}{'p99 ms':>9}"
          f"{'CPU us/req':>11}{'GC':>5}{'RSS MiB':>9}{'errors/resp':>12}  what")
    for target, s in summary.items():
        cpu = s["cpu_us_per_request_median"]
        share = s.get("gc_share_of_cpu_median")
        gc = "-" if share is None else f"{share:.0%}"
        spread = f"({s['rps_min']:,.0f}-{s['rps_max']:,.0f})"
        print(f"{target:<7}{s['rps_median']:>13,.0f}{spread:>18}"
              f"{s['p50_ms_median']:>9.1f}{s['p99_ms_median']:>9.1f}"
              f"{(f'{cpu:,.0f}' if cpu else '-'):>11}{gc:>5}{s['server_rss_mib_last'] or 0:>9,.0f}"
              f"{sum(found[target]['errors'].values()):>12}  {TARGETS[target][1]}")
        if s["failures"]:
            print(f"        !! {s['failures']} failed or non-2xx requests")


def measure(args: argparse.Namespace, tool: str, workdir: Path, db: Any) -> dict[str, Any]:
    """Start the servers, verify them, and load every target `runs` times, interleaved."""
    with fleet(db, workdir, args.targets, args.gc_probe) as servers:
        found = verify(servers)
        for target, info in found.items():
            print(f"  verified {target}: 200, {info['nodes']} nodes, errors {info['errors'] or 0},"
                  f" {info['bytes']:,} bytes")
        runs: dict[str, list[LoadResult]] = {t: [] for t in args.targets}
        cpu: dict[str, list[float]] = {t: [] for t in args.targets}
        rss: dict[str, list[float]] = {t: [] for t in args.targets}
        gc_share: dict[str, list[float]] = {t: [] for t in args.targets}
        for run in range(1, args.runs + 1):
            for target in args.targets:
                request, server = servers.requests[target], servers.server_of(target)
                if args.warmup > 0:
                    run_load(request, args.warmup, args.connections, tool)
                gc_before = server.gc_seconds()
                before = server.cpu_seconds()
                result = run_load(request, args.duration, args.connections, tool)
                used = server.cpu_seconds() - before
                gc_after = server.gc_seconds()
                if gc_before is not None and gc_after is not None and used > 0:
                    gc_share[target].append((gc_after - gc_before) / used)
                runs[target].append(result)
                rss[target].append(server.rss_mb())
                if result.requests:
                    cpu[target].append(used / result.requests * 1e6)
                print(f"  run {run}/{args.runs} {target:<3} {result.rps:>9,.0f} req/s  "
                      f"p50 {result.p50_ms:6.1f} ms  p99 {result.p99_ms:6.1f} ms  "
                      f"server CPU {used / max(result.seconds, 1e-9):4.0%}  "
                      f"RSS {rss[target][-1]:,.0f} MiB"
                      + (f"  GC {gc_share[target][-1]:4.0%} of CPU" if gc_share[target] else "")
                      + (f"  failures {result.failures}" if result.failures else ""))
    summary = summarize(runs, cpu)
    for target, values in rss.items():
        summary[target]["server_rss_mib_last"] = values[-1] if values else None
        shares = gc_share[target]
        summary[target]["gc_share_of_cpu_median"] = statistics.median(shares) if shares else None
    return {"verified": found, "runs": {t: [r.as_dict() for r in v] for t, v in runs.items()},
            "cpu_us_per_request": cpu, "server_rss_mib": rss, "summary": summary,
            "ratios": ratios(summary), "cpu_ratios": cpu_ratios(summary)}


def print_inprocess(inproc: dict[str, Any]) -> None:
    """The in-process figures (and the profile, when taken)."""
    timings = inproc["timings"]
    print(f"\nIn process, no HTTP ({inproc['iterations']} interleaved executions each; "
          "us per request: median, p10, p90, mean, of which GC; then the thread's CPU median):")
    base = timings.get(FLOOR_B_LABEL, {}).get("median_us")
    base_cpu = timings.get(FLOOR_B_LABEL, {}).get("cpu_median_us")
    for label, t in timings.items():
        vs_b = f"  b/this {base / t['median_us']:.2f}" if base else ""
        cpu = t.get("cpu_median_us")
        by_cpu = f"  cpu {cpu:,.0f} b/this {base_cpu / cpu:.2f}" if cpu and base_cpu else ""
        print(f"  {label:<46}{t['median_us']:>8,.0f}{t['p10_us']:>8,.0f}{t['p90_us']:>8,.0f}"
              f"{t['mean_us']:>8,.0f}{t['gc_us']:>8,.0f}{vs_b}{by_cpu}")
    for name, leak in inproc["leak"].items():
        print(f"  leak check {name}, {leak['requests']} requests: "
              f"{leak['frames_per_request']:,.0f} "
              f"frames kept per request on the shared WITHHELD errors, "
              f"{leak['objects_per_request']:,.0f} objects surviving a full GC and "
              f"{leak['rss_kb_per_request']:,.0f} KiB RSS more per request; "
              f"that GC took {leak['full_gc_ms_after']:,.0f} ms")
    for key in ("breakdown_c1", "breakdown_c0"):
        if key in inproc:
            name = key.removeprefix("breakdown_")
            print(f"\nPhase breakdown of _handle, {name} (wall us per request, calls per request):")
            for label, us, calls in inproc[key]:
                print(f"  {label:<52}{us:>9,.0f}{calls:>8.1f}")
    if "cprofile_c1" in inproc:
        print("\ncProfile of GraphQLEndpoint._handle, c1 (top 15 by own time, then cumulative):")
        print(inproc["cprofile_c1"])


def environment(tool: str) -> dict[str, Any]:
    """Versions and machine facts recorded with the results."""
    packages = ("strawberry-graphql", "graphql-core", "starlette", "uvicorn", "SQLAlchemy",
                "orjson")
    return {"python": platform.python_version(), "cpus": os.cpu_count(), "load_tool": tool,
            "machine": platform.machine(), **{p: version(p) for p in packages},
            "loadavg": os.getloadavg()}


def main(argv: list[str] | None = None) -> int:
    """Run the whole benchmark; exit 0 whatever the verdict (it is printed and saved)."""
    args = parse_args(argv)
    tool = load_tool(args.load)
    started = datetime.datetime.now(datetime.UTC)
    report: dict[str, Any] = {"started": started.isoformat(), "args": vars(args),
                              "environment": environment(tool)}
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        workdir = Path(tmp)
        print(f"seeding {args.customers:,} customers into a fresh {args.db} database ...")
        with bench_database(args.db, workdir, args.customers) as db:
            print(f"  seeded in {db.seed_seconds:.1f} s; starting servers "
                  f"(targets {', '.join(args.targets)}; load: {tool}, {args.connections} "
                  f"connections, {args.runs} x {args.duration:g} s)")
            if args.runs > 0:
                report.update(measure(args, tool, workdir, db))
            if args.iterations > 0:
                try:
                    report["inprocess"] = run_inprocess(db, args.iterations, args.profile)
                except Exception as exc:  # noqa: BLE001 - keep the HTTP figures whatever happens
                    report["inprocess_error"] = repr(exc)
                    print(f"\nthe in-process part failed: {exc!r}")
    if "inprocess" in report:
        print_inprocess(report["inprocess"])
    verdict = None
    if "summary" in report:
        print_table(report["summary"], report["verified"])
        print()
        for name, value in report["ratios"].items():
            print(f"  {name:<6} = {value:.2f}   (requests/s)")
        for name, value in report["cpu_ratios"].items():
            print(f"  {name:<6} = {value:.2f}   (server CPU per request, inverted)")
    if "c1/b" in report.get("ratios", {}):
        verdict = report["ratios"]["c1/b"] >= TARGET_RATIO
        print(f"\nTarget: the full gateway keeps >= {TARGET_RATIO:.0%} of plain strawberry's "
              f"throughput (c1/b >= {TARGET_RATIO:.2f}): "
              f"{'PASS' if verdict else 'FAIL'} ({report['ratios']['c1/b']:.2f})")
    report["target"] = {"c1/b_min": TARGET_RATIO, "pass": verdict}
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"profile_read-{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"\nresults: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
