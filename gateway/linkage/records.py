"""Source records at rest: sealed attributes, blind-indexed keys, links and provenance.

Every read and write of `source_records` that linkage does goes through here, so the
attributes are always sealed under the data key of the customer the record belongs to (and
re-sealed when it moves to another in a merge or split).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from gateway.linkage.keys import digests
from gateway.linkage.prepare import frame_of
from gateway.linkage.survivorship import Candidate, Survivorship, choose, golden_columns
from gateway.linkage.tables import golden_provenance, linkage_keys, linkage_links
from gateway.privacy.datakeys import DataKeys
from gateway.privacy.vault import Vault
from gateway.profile.identity import find_customers_by, open_source, seal_customer, seal_source
from gateway.profile.tables import customers, source_records


@dataclass(frozen=True)
class Stored:
    """A source record as stored, its attributes opened."""

    id: int
    customer_id: int
    source: str
    source_key: str
    values: dict[str, str]
    first_seen_at: datetime
    last_seen_at: datetime


def load_records(conn: Connection, vault: Vault, customer_ids: Iterable[int],
                 keys: DataKeys | None = None) -> list[Stored]:
    """The source records of `customer_ids`, opened (a shredded customer's are skipped)."""
    wanted = sorted(set(customer_ids))
    if not wanted:
        return []
    keys = keys or DataKeys(conn, vault)
    keys.load(wanted)
    s = source_records.c
    out: list[Stored] = []
    for start in range(0, len(wanted), 5000):
        chunk = wanted[start:start + 5000]
        for row in conn.execute(select(source_records).where(s.customer_id.in_(chunk)).order_by(s.id)):
            key = keys.get(int(row.customer_id))
            if key is None:
                continue
            values = open_source(key, int(row.customer_id), row.source, row.source_key, row.attributes)
            out.append(Stored(int(row.id), int(row.customer_id), row.source, row.source_key,
                              {k: str(v) for k, v in values.items()}, row.first_seen_at, row.last_seen_at))
    return out


def write_keys(conn: Connection, vault: Vault, rows: Sequence[tuple[int, int, Mapping[str, Any]]]) -> int:
    """Store the blind-indexed keys of records: (source record id, customer id, prepared row)."""
    values = [{"source_record_id": rid, "customer_id": cid, "kind": kind, "digest": digest}
              for rid, cid, row in rows for kind, digest in digests(vault, row)]
    if values:
        conn.execute(insert(linkage_keys), values)
    return len(values)


def rekey(conn: Connection, vault: Vault, records: Sequence[Stored]) -> None:
    """Replace the keys of `records` (after their values or their customer changed)."""
    ids = [r.id for r in records]
    if not ids:
        return
    conn.execute(delete(linkage_keys).where(linkage_keys.c.source_record_id.in_(ids)))
    frame = frame_of([r.values for r in records])
    rows = frame.to_dict("records")
    write_keys(conn, vault, [(r.id, r.customer_id, row) for r, row in zip(records, rows, strict=True)])


def move_record(conn: Connection, keys: DataKeys, record: Stored, to: int) -> Stored:
    """Re-seal `record` under customer `to`'s data key and attach it to `to`."""
    key = keys.get(to)
    if key is None:
        raise ValueError("the target customer has no data key")
    blob = seal_source(key, to, record.source, record.source_key, record.values)
    conn.execute(update(source_records).where(source_records.c.id == record.id)
                 .values(customer_id=to, attributes=blob))
    conn.execute(update(linkage_keys).where(linkage_keys.c.source_record_id == record.id)
                 .values(customer_id=to))
    conn.execute(update(linkage_links).where(linkage_links.c.source_record_id == record.id)
                 .values(customer_id=to))
    return Stored(record.id, to, record.source, record.source_key, record.values,
                  record.first_seen_at, record.last_seen_at)


def refresh_golden(conn: Connection, vault: Vault, settings: Survivorship, customer_ids: Iterable[int],
                   now: datetime, keys: DataKeys | None = None) -> int:
    """Recompute the golden record of each customer from their source records, with its
    provenance; a customer left without records keeps what they had. Returns how many."""
    keys = keys or DataKeys(conn, vault)
    ids = sorted(set(customer_ids))
    by_customer: dict[int, list[Stored]] = {}
    for record in load_records(conn, vault, ids, keys):
        by_customer.setdefault(record.customer_id, []).append(record)
    done = 0
    for cid, records in by_customer.items():
        key = keys.get(cid)
        if key is None:
            continue
        choices = choose(settings, [Candidate(r.id, r.source, r.last_seen_at, r.values) for r in records])
        columns = golden_columns(choices)
        email = columns.get("email")
        if email and set(find_customers_by(conn, vault, "email", email)) - {cid}:
            columns["email"] = None  # another person holds it (a household address): not theirs alone
            choices = [c for c in choices if c.attribute != "email"]
        sealed = seal_customer(vault, key, cid, {
            k: columns.get(k) for k in ("first_name", "last_name", "birth_date", "loyalty_card",
                                         "email", "phone", "street")})
        plain = {k: columns.get(k) for k in ("city", "postcode", "region", "country")}
        conn.execute(update(customers).where(customers.c.id == cid)
                     .values(**sealed, **plain, updated_at=now))
        conn.execute(delete(golden_provenance).where(golden_provenance.c.customer_id == cid))
        if choices:
            conn.execute(insert(golden_provenance), [
                {"customer_id": cid, "attribute": c.attribute, "source_record_id": c.record_id,
                 "rule": c.rule, "chosen_at": now} for c in choices])
        done += 1
    return done
