"""Erasures per second: the gateway's erasure against plain deletion of the same rows.

One run seeds one database (bench/_setup.py) and copies it three times (SQLite: the file after
a checkpoint; PostgreSQL: CREATE DATABASE ... TEMPLATE), so the three variants erase exactly
the same customers with the same rows:

  case     what `consent-gateway rights erase` does per person: open an `erase` case and
           carry it out (`gateway.rights`), with its audit entries (opened, started,
           completed), the ledger proof kept under a tombstone, the data
           key destroyed, every row deleted; one transaction per person;
  erase    `gateway.rights.erase.erase_customer` alone (no case, no audit entries);
  floor    plain DELETEs of the same rows (consent and preference state and events,
           interactions, orders, source records, data key, customer), one transaction per
           person.

Runs alternate the variants (case, erase, floor, case, ...), each erasing the next `--batch`
customers; figures are medians over `--runs`, ratios are floor time / variant time (1.0:
as fast as plain deletion). The machine is shared and has 2 cores: trust the ratios.

    /work/venv/bin/python bench/erasure.py [--db sqlite|postgresql] [--customers 800]
        [--runs 7] [--batch 40]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._setup import MASTER_KEY, POLICY_DIR, bench_database, copy_database

Variant = Callable[[Any, int], None]


def _case_variant(services: Any) -> Variant:
    from gateway.rights.cases import open_case
    from gateway.rights.service import Execution, Rights, execute_case
    from gateway.rights.subjects import find_by_id
    from gateway.rights.trail import Actor

    rights = Rights(services.purposes, services.signer, services.pseudonyms, services.settings,
                    services.vault)
    actor = Actor("system", "cli", operation="rights erase")

    def run(conn: Any, cid: int) -> None:
        person = find_by_id(conn, cid)
        assert person is not None
        case = open_case(conn, rights.trail(actor), person, "erase", note="bench")
        execute_case(conn, rights, actor, case.ref, Execution())

    return run


def _erase_variant(services: Any) -> Variant:
    from gateway.rights.erase import erase_customer

    def run(conn: Any, cid: int) -> None:
        erase_customer(conn, services.vault, cid, subject_ref="bench", actor="bench",
                       jurisdiction="gdpr")

    return run


def _floor_variant(_services: Any) -> Variant:
    from sqlalchemy import delete

    from gateway.consent.tables import (
        consent_events,
        consent_state,
        preference_events,
        preference_state,
    )
    from gateway.privacy.tables import data_keys
    from gateway.profile.tables import customers, interactions, orders, source_records

    tables = (consent_state, preference_state, consent_events, preference_events, interactions,
              orders, source_records, data_keys)

    def run(conn: Any, cid: int) -> None:
        for table in tables:
            conn.execute(delete(table).where(table.c.customer_id == cid))
        conn.execute(delete(customers).where(customers.c.id == cid))

    return run


def _verify_gone(engine: Any, ids: list[int]) -> None:
    from sqlalchemy import func, select

    from gateway.profile.tables import customers

    with engine.connect() as conn:
        left = conn.execute(select(func.count()).select_from(customers)
                            .where(customers.c.id.in_(ids))).scalar_one()
    assert left == 0, f"{left} customers were not erased"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--customers", type=int, default=800)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--batch", type=int, default=40)
    args = parser.parse_args()
    if args.runs * args.batch > args.customers:
        parser.error("--runs x --batch must not exceed --customers")

    from sqlalchemy import func, select

    from gateway.app import build_services
    from gateway.config import Settings
    from gateway.consent.tables import consent_events, preference_events
    from gateway.profile.tables import customers, interactions, orders

    makers = {"case": _case_variant, "erase": _erase_variant, "floor": _floor_variant}
    times: dict[str, list[float]] = {name: [] for name in makers}
    with tempfile.TemporaryDirectory() as tmp, \
            bench_database(args.db, Path(tmp), args.customers) as db, contextlib.ExitStack() as stack:
        variants: dict[str, tuple[Any, Variant]] = {}
        for name, make in makers.items():
            url = stack.enter_context(copy_database(db.url, Path(tmp), name))
            services = build_services(Settings(database_url=url, master_key=MASTER_KEY,
                                               policy_dir=POLICY_DIR))
            stack.callback(services.engine.dispose)
            variants[name] = (services, make(services))
        engine = variants["floor"][0].engine
        with engine.connect() as conn:
            ids = list(conn.execute(select(customers.c.id).order_by(customers.c.id)).scalars())
            rows = {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                    for t in (customers, orders, interactions, consent_events, preference_events)}
        for run in range(args.runs):
            batch = ids[run * args.batch:(run + 1) * args.batch]
            for name, (services, variant) in variants.items():
                started = time.perf_counter()
                for cid in batch:
                    with services.engine.begin() as conn:
                        variant(conn, cid)
                times[name].append(time.perf_counter() - started)
                _verify_gone(services.engine, batch)
    med = {name: statistics.median(t) for name, t in times.items()}
    per_second = {name: args.batch / m for name, m in med.items()}
    print(f"db={args.db} customers={args.customers} rows={rows} runs={args.runs} batch={args.batch}")
    print("one transaction per erased person; medians of the runs; shared 2-core machine")
    for name in makers:
        runs = " ".join(f"{args.batch / t:.0f}" for t in times[name])
        ratio = med["floor"] / med[name]
        print(f"  {name:<5} {per_second[name]:7.0f} erasures/s  ({1e3 * med[name] / args.batch:6.2f} ms each)"
              f"  ratio to floor {ratio:5.3f}  runs/s: {runs}")


if __name__ == "__main__":
    main()
