"""Online matching latency: one new record against 100,000 stored persons.

    python bench/linkage_online.py --persons 100000 --queries 300

A fresh SQLite database (temporary directory) is filled with generated persons: their
source records sealed under per-person data keys and their blind-indexed keys, loaded in
bulk from the generator's truth (the fill is not what is measured). Then records the
database does not hold (other records of stored persons, and strangers) are matched one at
a time with `gateway.linkage.online.match_one`: blind-index lookup of candidates, their
records opened, scored with the trained model in Python, vetoed like the batch clustering.
Printed: p50/p95/p99 latency, how often the right person was found, and the floor of the
same run: one indexed lookup of a blind-index digest (plain SQL). The machine has 2 cores
shared with other work.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, select, text

from gateway.linkage.keys import digests
from gateway.linkage.model import default_model
from gateway.linkage.online import PairScorer, match_one
from gateway.linkage.prepare import frame_of
from gateway.linkage.synth import generate
from gateway.linkage.tables import linkage_keys
from gateway.privacy.envelope import store_data_keys
from gateway.privacy.vault import Vault
from gateway.profile.identity import seal_source
from gateway.profile.tables import customers, source_records
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.store.types import utcnow

VAULT = Vault.build(bytes(range(32)))


def fill(engine: Any, records: list[dict[str, Any]], truth: list[int]) -> dict[int, int]:
    """Persons and their records, as ingestion would have stored them; person -> customer id."""
    now = utcnow()
    by_person: dict[int, list[int]] = defaultdict(list)
    for i, person in enumerate(truth):
        by_person[person].append(i)
    frame = frame_of(records)
    rows = frame.to_dict("records")
    customer_of: dict[int, int] = {}
    with engine.begin() as conn:
        persons = sorted(by_person)
        conn.execute(insert(customers), [{"id": n + 1, "created_at": now, "updated_at": now,
                                          "jurisdiction": "gdpr", "order_count": 0,
                                          "total_spent_cents": 0} for n in range(len(persons))])
        keys = {}
        key_rows = []
        for n, person in enumerate(persons):
            key, key_row = VAULT.envelope.new_data_key(n + 1)
            keys[n + 1] = key
            key_rows.append(key_row)
            customer_of[person] = n + 1
        store_data_keys(conn, key_rows)
        record_rows, key_values = [], []
        for i, record in enumerate(records):
            cid = customer_of[truth[i]]
            digest = VAULT.blind.digest("source", f"{record['source']}:{record['record_id']}") or ""
            values = {k: v for k, v in record.items() if k not in ("record_id", "source") and v}
            record_rows.append({"id": i + 1, "customer_id": cid, "source": record["source"], "source_key": digest,
                                "attributes": seal_source(keys[cid], cid, record["source"], digest, values),
                                "first_seen_at": now, "last_seen_at": now, "link_method": "seed",
                                "link_confidence": 1.0})
            key_values += [{"source_record_id": i + 1, "customer_id": cid, "kind": kind, "digest": d}
                           for kind, d in digests(VAULT, rows[i])]
        for start in range(0, len(record_rows), 20_000):
            conn.execute(insert(source_records), record_rows[start:start + 20_000])
        for start in range(0, len(key_values), 50_000):
            conn.execute(insert(linkage_keys), key_values[start:start + 50_000])
    return customer_of


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    records, truth, _ = generate(int(args.persons * 3.0), seed=17)
    counts = Counter(truth)
    held_out: list[int] = []
    seen: set[int] = set()
    for i, person in enumerate(truth):  # one record of some persons is kept out, to be matched
        if len(held_out) >= args.queries:
            break
        if person not in seen and counts[person] > 1:
            held_out.append(i)
            seen.add(person)
    out = set(held_out)
    keep = [i for i in range(len(records)) if i not in out]
    tmp = Path(tempfile.mkdtemp(prefix="linkage-online-"))
    url = f"sqlite:///{tmp}/online.db"
    upgrade(url)
    engine = make_engine(url)
    start = time.perf_counter()
    customer_of = fill(engine, [records[i] for i in keep], [truth[i] for i in keep])
    print(f"filled {len(customer_of):,} persons, {len(keep):,} records in {time.perf_counter() - start:.0f} s")
    model = default_model()
    scorer = PairScorer(model)
    strangers = generate(args.queries * 3, seed=99)[0][: args.queries // 3]
    queries = [(records[i], customer_of.get(truth[i])) for i in held_out] + [(s, None) for s in strangers]
    times, right = [], 0
    floor = []
    with engine.connect() as conn:
        for record, expected in queries:
            values = {k: v for k, v in record.items() if k not in ("record_id", "source") and v}
            t = time.perf_counter()
            found = match_one(conn, VAULT, model, values, scorer=scorer)
            times.append((time.perf_counter() - t) * 1000)
            right += found.customer_id == expected
            digest = VAULT.blind.digest("linkage", f"email:{values.get('email', '')}") or ""
            t = time.perf_counter()
            conn.execute(select(linkage_keys.c.customer_id).where(linkage_keys.c.kind == "email",
                                                                  linkage_keys.c.digest == digest)).all()
            floor.append((time.perf_counter() - t) * 1000)
        conn.execute(text("SELECT 1"))
    times.sort()
    q = statistics.quantiles(times, n=100)
    print("Machine: 2 cores shared with other work.")
    print(f"online match of one record against {len(customer_of):,} persons ({len(queries)} queries, "
          f"{len(held_out)} of stored persons, {len(queries) - len(held_out)} strangers)")
    print(f"  p50 {statistics.median(times):.1f} ms   p95 {q[94]:.1f} ms   p99 {q[98]:.1f} ms   "
          f"right person (or none for strangers): {right / len(queries):.1%}")
    print(f"  floor, one indexed blind-index lookup (plain SQL): p50 {statistics.median(floor):.2f} ms "
          f"-> ratio {statistics.median(times) / max(statistics.median(floor), 1e-6):.0f}x")
    engine.dispose()


if __name__ == "__main__":
    main()
