"""SQL time of the subject checks of one page of customers, beside a plain indexed SELECT.

Issue 15, target 5: the consent, objection, restriction and channel flags of a 20-customer
page should cost under 0.2 ms of SQL. For each scenario purpose this runs, on one fresh
seeded database, interleaved and `--repeat` times each (medians reported):

- `before`: the first page as at 59ce574: every customer ranked by the computed order, the
  purpose's condition as hashed sets; then `lookup`, its flags read by a second statement;
- `bare before`: the same computed-order listing without any subject check;
- `page`: the gateway's own first-page statement now (`gateway.profile.service`): the
  stored order's index range, the purpose's condition probed per row; the rows it returns
  are the allowed ones, so no second lookup runs;
- `bare`: the stored-order listing without any subject check;
- `plain`: a plain indexed SELECT of the same 21 customers by primary key (the floor).

`flags before = before + lookup - bare before`, `flags after = page - bare`. Times are the
server's own execution time from `EXPLAIN (ANALYZE, TIMING OFF)` on PostgreSQL (no network,
no driver), and the wall time of the statement through the driver on both databases.

    python bench/subject_flags.py --db postgresql --customers 2000
    python bench/subject_flags.py --db sqlite --customers 2000
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Connection, Select, select, text

from bench._setup import MASTER_KEY, POLICY_DIR, SCENARIO_APPS, bench_database


def _explain_ms(conn: Connection, stmt: Select[Any], params: dict[str, Any]) -> float:
    compiled = stmt.compile(conn)
    state = compiled.construct_expanded_state(params)
    sql = f"EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) {state.statement}"
    bound = state.parameters
    plan = conn.exec_driver_sql(sql, bound).scalar_one()
    return float(plan[0]["Execution Time"])


def _wall_ms(conn: Connection, stmt: Select[Any], params: dict[str, Any]) -> float:
    started = time.perf_counter()
    conn.execute(stmt, params).all()
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="postgresql")
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--no-analyze", action="store_true", help="keep the fresh database without statistics")
    args = parser.parse_args()

    from gateway.app import build_services
    from gateway.config import Settings
    from gateway.consent.state import flags_of
    from gateway.profile import order, service
    from gateway.profile.fields import CUSTOMER_FIELDS
    from gateway.profile.identity import with_data_key
    from gateway.profile.reader import Reader
    from gateway.profile.tables import customers
    from gateway.store.types import utcnow

    with tempfile.TemporaryDirectory() as tmp, bench_database(args.db, Path(tmp), args.customers) as db:
        services = build_services(Settings(database_url=db.url, master_key=MASTER_KEY, policy_dir=POLICY_DIR))
        print(f"{args.db}, {args.customers} customers, {args.repeat} executions each (medians, ms)")
        print("before (59ce574): computed-order listing with the condition, + lookup of its flags; "
              "bare bef: that listing without checks; page: the stored-order listing now (no lookup); "
              "bare: it without checks; plain: the page's rows by primary key. "
              "flags bef = before + lookup - bare bef; flags = page - bare.")
        print(f"{'scenario':<40} {'time':<6} {'before':>8} {'lookup':>8} {'bare bef':>8} "
              f"{'flags bef':>8} {'page':>8} {'bare':>8} {'flags':>8} {'plain':>8}")
        results: list[dict[str, Any]] = []
        try:
            if args.db == "postgresql" and not args.no_analyze:
                # Statistics as a running server has them (autovacuum analyzes after a load):
                # without them the planner picks other plans for every variant.
                with services.engine.connect() as conn:
                    conn.execute(text("ANALYZE"))
                    conn.commit()
            with services.engine.connect() as conn:
                for name, (role, purpose_name) in SCENARIO_APPS.items():
                    purpose = services.purposes.get(purpose_name)
                    assert purpose is not None
                    reader = Reader(
                        plan=services.policy.plan(role, purpose, CUSTOMER_FIELDS),
                        pseudonyms=services.pseudonyms.for_app(1), now=utcnow(),
                        own_purposes=services.policy.purposes_of(role), purposes=services.purposes,
                        vault=services.vault, opener=services.vault.envelope.opener(),
                    )
                    params = service._params(reader, limit=21)
                    with services.engine.begin() as setup:  # the app's stored order
                        order.ensure(setup, reader.pseudonyms.audience, reader.pseudonyms.order)
                    bare = service._in_order(service._ORDERED_ALL)
                    # Before (59ce574): every customer ranked by the computed order, the
                    # subject condition as hashed sets.
                    before = service._listed(reader).order_by(service._RANK, customers.c.id).limit(service._LIMIT)
                    bare_before = with_data_key(select(customers, service._RANK)).order_by(
                        service._RANK, customers.c.id).limit(service._LIMIT)
                    page = service._first_page(reader)  # after: the listing, no lookup
                    rows = conn.execute(page, params).all()
                    ids = [r.id for r in rows]
                    lookup = service._flags(purpose)
                    lparams = {"now": reader.now, "ids": ids}
                    flagged = sum(any(flags_of(r)) for r in conn.execute(lookup, lparams))
                    plain = with_data_key(select(customers)).where(customers.c.id.in_(ids))
                    names = ("before", "lookup", "bare_before", "page", "bare", "plain")
                    stmts = {"before": (before, params), "page": (page, params), "lookup": (lookup, lparams),
                             "bare_before": (bare_before, params), "bare": (bare, params),
                             "plain": (plain, {})}
                    timings: dict[str, list[float]] = {f"{w}{n}": [] for n in names for w in ("", "w")}
                    for _ in range(args.repeat):
                        for n in names:
                            stmt, bound = stmts[n]
                            if args.db == "postgresql":
                                timings[n].append(_explain_ms(conn, stmt, bound))
                            timings[f"w{n}"].append(_wall_ms(conn, stmt, bound))
                    med = {k: statistics.median(v) if v else float("nan") for k, v in timings.items()}
                    # The minimum too: on a shared machine it is the least disturbed run.
                    med.update({f"min{k}": min(v) for k, v in timings.items() if v and not k.startswith("w")})
                    results.append({"scenario": name, "purpose": purpose_name, "flagged": flagged, **med})
                    label = f"{name} ({purpose_name}, {flagged} flagged)"
                    for prefix, what in (("", "server"), ("min", "min"), ("w", "wall")):
                        if f"{prefix}{names[0]}" not in med or med[f"{prefix}{names[0]}"] != med[f"{prefix}{names[0]}"]:
                            continue  # not measured (no EXPLAIN on SQLite: NaN)
                        m = {n: med[f"{prefix}{n}"] for n in names}
                        print(f"{label:<40} {what:<6} {m['before']:8.3f} {m['lookup']:8.3f} "
                              f"{m['bare_before']:8.3f} {m['before'] + m['lookup'] - m['bare_before']:8.3f} "
                              f"{m['page']:8.3f} {m['bare']:8.3f} {m['page'] - m['bare']:8.3f} "
                              f"{m['plain']:8.3f}")
        finally:
            services.engine.dispose()
        out = Path(__file__).parent / "results" / f"subject_flags-{args.db}-{time.strftime('%Y%m%d-%H%M%S')}.json"
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps({"db": args.db, "customers": args.customers, "repeat": args.repeat,
                                   "results": results}, indent=2))
        print(f"results: {out}")


if __name__ == "__main__":
    main()
