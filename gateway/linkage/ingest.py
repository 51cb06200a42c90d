"""Ingestion: a source's rows validated, matched, clustered into persons and stored sealed.

One call is one transaction on the caller's connection, with its audit entry (counts only):
validate every row (a report of rejected rows with their reasons, never their values);
in `all` mode one bad row refuses the whole batch; re-ingesting a record (same source and
source key) changes nothing when its values are the same. New records are matched against
each other and against the persons they share a blocking key with (found through the
blind-indexed `linkage_keys`), with exactly the production model and clustering
(gateway/linkage/resolve.py); a customer who objected to identity resolution, or a source
without a basis for probabilistic matching, is matched on exact lawful keys only.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, insert, select, update

from gateway.audit.service import record_event
from gateway.audit.writer import SignerLike
from gateway.config import Settings
from gateway.consent.tables import preference_state
from gateway.linkage import normalize as n
from gateway.linkage.cluster import TraitScorer, cluster, traits_of
from gateway.linkage.fields import CANONICAL, MAX_LENGTH
from gateway.linkage.keys import EXACT_KINDS, digests
from gateway.linkage.mapping import SourceMapping, apply
from gateway.linkage.model import (
    MIN_TRAIN_RECORDS,
    TrainedModel,
    default_model,
    is_current,
    predict,
    train,
)
from gateway.linkage.online import PairScorer
from gateway.linkage.prepare import frame_of
from gateway.linkage.records import Stored, load_records, refresh_golden, write_keys
from gateway.linkage.survivorship import Survivorship
from gateway.linkage.tables import linkage_keys, linkage_links, linkage_models, linkage_runs
from gateway.policy.codes import Code
from gateway.privacy.datakeys import DataKeys
from gateway.privacy.envelope import store_data_keys
from gateway.privacy.pseudonyms import Pseudonymizer
from gateway.privacy.vault import Vault
from gateway.profile.identity import open_source, seal_source
from gateway.profile.tables import customers, source_records
from gateway.store.types import utcnow

MODES = ("skip", "all")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
OBJECTION_SCOPE = "identity_resolution"
COMPARISON_LABELS: dict[str, list[str]] = {}


@dataclass(frozen=True)
class Rejected:
    """A row that was not ingested: its number (1 = first data row), the field, why."""

    row: int
    field: str | None
    reason: str


@dataclass(frozen=True)
class Incoming:
    """A valid row: its source, source key and canonical values (normalised); `ref` names it
    in the report (the source key, or `source:key` when one call ingests several sources)."""

    row: int
    key: str
    values: dict[str, str]
    source: str = ""
    ref: str = ""


@dataclass
class IngestReport:
    """What one ingestion did, in counts (and the customer each record now belongs to)."""

    source: str
    received: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    unchanged: int = 0
    updated: int = 0
    new_records: int = 0
    new_persons: int = 0
    linked_to_existing: int = 0
    probabilistic: int = 0
    exact_only: int = 0
    refused: bool = False
    run_id: int | None = None
    model_id: int | None = None
    customer_of: dict[str, int] = field(default_factory=dict)
    record_of: dict[str, int] = field(default_factory=dict)  # source key -> source_records.id

    def counts(self) -> dict[str, int]:
        """The counts for the audit entry and the run row (no ids, no values)."""
        return {"received": self.received, "rejected": len(self.rejected), "unchanged": self.unchanged,
                "updated": self.updated, "new_records": self.new_records,
                "new_persons": self.new_persons, "linked_to_existing": self.linked_to_existing,
                "probabilistic": self.probabilistic, "exact_only": self.exact_only}


def validate_rows(mapping: SourceMapping, rows: Sequence[Mapping[str, Any]]) -> tuple[list[Incoming], list[Rejected]]:
    """Map and check every row; the valid ones normalised, the others with their reason."""
    good: list[Incoming] = []
    bad: list[Rejected] = []
    seen: set[str] = set()
    key_column = mapping.key or "record_id"
    for number, row in enumerate(rows, start=1):
        key = str(row.get(key_column) or "").strip()
        if not key:
            bad.append(Rejected(number, key_column, "the source key is missing"))
            continue
        if len(key) > MAX_LENGTH or _CONTROL.search(key):
            bad.append(Rejected(number, key_column, "the source key is too long or has control characters"))
            continue
        if key in seen:
            bad.append(Rejected(number, key_column, "the same source key appears twice in this batch"))
            continue
        problem = None
        values = apply(mapping, row)
        for name, value in values.items():
            if len(value) > MAX_LENGTH or _CONTROL.search(value):
                problem = Rejected(number, name, f"{name} is longer than {MAX_LENGTH} or has control characters")
                break
        if problem is None and "email" in values and not _EMAIL.match(values["email"]):
            problem = Rejected(number, "email", "email is not an address like name@example.com")
        if problem is None and "birth_date" in values:
            digits = n.date_digits(values["birth_date"], mapping.day_first is not False)
            if n.as_date(digits) is None:
                problem = Rejected(number, "birth_date", "birth_date is not a date in a known format")
            else:
                values["birth_date"] = f"{digits[:4]}-{digits[4:6]}-{digits[6:]}"
        if problem is None and "phone" in values:
            phone = n.phone(values["phone"], values.get("country") or mapping.country)
            if not phone.startswith("+") or not 8 <= len(phone) - 1 <= 15:
                problem = Rejected(number, "phone", "phone is not a number with a known country code")
            else:
                values["phone"] = phone
        if problem is None and not any(values.get(f) for f in CANONICAL if f != "country"):
            problem = Rejected(number, None, "the row holds no attribute of a person")
        if problem is not None:
            bad.append(problem)
            continue
        seen.add(key)
        good.append(Incoming(number, key, values))
    return good, bad


@dataclass(frozen=True)
class Ingestion:
    """The long-lived parts an ingestion needs."""

    vault: Vault
    survivorship: Survivorship
    actor: str = "gateway"


def latest_model(conn: Connection) -> tuple[int, TrainedModel] | None:
    """The newest stored model and its version."""
    m = linkage_models.c
    row = conn.execute(select(m.id, m.params, m.records).order_by(m.id.desc()).limit(1)).first()
    return (int(row.id), TrainedModel(dict(row.params), int(row.records))) if row else None


def store_model(conn: Connection, model: TrainedModel, trained_on: str, now: datetime) -> int:
    """Store a model's parameters under a new version."""
    return int(conn.execute(insert(linkage_models).values(
        created_at=now, records=model.records, trained_on=trained_on, params=model.settings,
    ).returning(linkage_models.c.id)).scalar_one())


def _objected(conn: Connection, customer_ids: Sequence[int]) -> set[int]:
    ps = preference_state.c
    out: set[int] = set()
    for start in range(0, len(customer_ids), 5000):
        chunk = list(customer_ids[start:start + 5000])
        out.update(int(r) for r in conn.execute(select(ps.customer_id).where(
            ps.customer_id.in_(chunk), ps.kind == "objection", ps.key == OBJECTION_SCOPE, ps.value == "on"
        )).scalars())
    return out


def _candidates(conn: Connection, found: Sequence[tuple[str, str]], kinds: Sequence[str] | None = None) -> dict[tuple[str, str], set[int]]:
    """(kind, digest) -> customers holding that key."""
    lk = linkage_keys.c
    wanted = [f for f in set(found) if kinds is None or f[0] in kinds]
    out: dict[tuple[str, str], set[int]] = {}
    digests_only = sorted({d for _, d in wanted})
    kinds = sorted({k for k, _ in wanted})
    for start in range(0, len(digests_only), 2000):
        chunk = digests_only[start:start + 2000]
        # Naming the kinds lets the lookup walk the (kind, digest) index instead of a scan.
        query = select(lk.kind, lk.digest, lk.customer_id).where(lk.kind.in_(kinds), lk.digest.in_(chunk))
        for row in conn.execute(query):
            out.setdefault((row.kind, row.digest), set()).add(int(row.customer_id))
    return out


class _Union:
    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        self.parent[self.find(b)] = self.find(a)


def _evidence(pairs: pd.DataFrame, frame: pd.DataFrame, labels: np.ndarray,
              model: TrainedModel) -> dict[int, tuple[float, dict[str, str]]]:
    """Per record: its strongest edge inside its cluster, with the label of each comparison's
    level (what drove the link; never a value)."""
    out: dict[int, tuple[float, dict[str, str]]] = {}
    if len(pairs) == 0:
        return out
    rows = frame.to_dict("records")
    scorer = PairScorer(model)
    names = {c["output_column_name"]: [lv.get("label_for_charts", "") for lv in c["comparison_levels"]]
             for c in model.settings.get("comparisons", [])}
    inside = pairs[labels[pairs["unique_id_l"].to_numpy()] == labels[pairs["unique_id_r"].to_numpy()]]
    best: dict[int, tuple[float, int]] = {}
    for left, right, weight in zip(inside["unique_id_l"].tolist(), inside["unique_id_r"].tolist(),
                                   inside["match_weight"].tolist(), strict=True):
        for me, other in ((left, right), (right, left)):
            if me not in best or weight > best[me][0]:
                best[me] = (float(weight), other)
    for me, (weight, other) in best.items():
        levels = scorer.levels(rows[me], rows[other])
        out[me] = (weight, {n: names.get(n, [])[i] if i < len(names.get(n, [])) else str(i)
                            for n, i in levels.items() if i > 0})
    return out


def ingest(conn: Connection, ctx: Ingestion, source: str, rows: Sequence[Mapping[str, Any]],
           mapping: SourceMapping, *, mode: str = "skip", now: datetime | None = None) -> IngestReport:
    """Ingest `rows` of `source` (see the module docstring); the caller commits and audits."""
    return ingest_many(conn, ctx, [(source, rows, mapping)], mode=mode, now=now)


def ingest_many(conn: Connection, ctx: Ingestion,
                batches: Sequence[tuple[str, Sequence[Mapping[str, Any]], SourceMapping]], *,
                mode: str = "skip", now: datetime | None = None) -> IngestReport:
    """Ingest the rows of several sources in one matching run (the demo seed, a nightly
    load); the sources must share one basis (`identity_resolution`). With several sources
    the report names records `source:key`."""
    if mode not in MODES:
        raise ValueError("mode must be skip or all")
    lawful = {m.identity_resolution for _, _, m in batches}
    if len(lawful) > 1:
        raise ValueError("one run links sources of one basis (identity_resolution) only")
    now = now or utcnow()
    several = len(batches) > 1
    report = IngestReport(source=batches[0][0] if not several else "several",
                          received=sum(len(rows) for _, rows, _ in batches))
    incoming: list[Incoming] = []
    for source, rows, mapping in batches:
        good, bad = validate_rows(mapping, rows)
        incoming += [Incoming(i.row, i.key, i.values, source, f"{source}:{i.key}" if several else i.key)
                     for i in good]
        report.rejected += bad
    if report.rejected and mode == "all":
        report.refused = True
        return report
    vault = ctx.vault
    keys = DataKeys(conn, vault)
    fresh = _split_known(conn, vault, keys, incoming, report, now)
    touched: set[int] = {cid for cid in report.customer_of.values()} if report.updated else set()
    if fresh:
        touched |= _link(conn, ctx, keys, fresh, lawful.pop() if lawful else "probabilistic", report, now)
    refresh_golden(conn, vault, ctx.survivorship, touched, now, keys)
    report.run_id = int(conn.execute(insert(linkage_runs).values(
        started_at=now, finished_at=utcnow(), source=report.source[:16], actor=ctx.actor[:64],
        model_id=report.model_id, counts=report.counts(),
    ).returning(linkage_runs.c.id)).scalar_one())
    if report.new_records:
        conn.execute(update(linkage_links).where(linkage_links.c.run_id.is_(None),
                                                 linkage_links.c.linked_at == now)
                     .values(run_id=report.run_id))
    return report


def _split_known(conn: Connection, vault: Vault, keys: DataKeys, incoming: list[Incoming],
                 report: IngestReport, now: datetime) -> list[tuple[Incoming, str]]:
    """Records already held are compared (unchanged, or updated in place); the rest returned
    with their source-key digest."""
    s = source_records.c
    digest_of = {item.key: vault.blind.digest("source", item.key) or "" for item in incoming}
    known: dict[tuple[str, str], Any] = {}
    for source in sorted({item.source for item in incoming}):
        wanted = sorted({digest_of[i.key] for i in incoming if i.source == source})
        for start in range(0, len(wanted), 2000):
            for held_row in conn.execute(select(source_records).where(
                    s.source == source, s.source_key.in_(wanted[start:start + 2000]))):
                known[(source, held_row.source_key)] = held_row
    fresh: list[tuple[Incoming, str]] = []
    changed: list[Stored] = []
    for item in incoming:
        digest = digest_of[item.key]
        source = item.source
        row: Any = known.get((source, digest))
        if row is None:
            fresh.append((item, digest))
            continue
        cid = int(row.customer_id) if row.customer_id is not None else None
        key = keys.get(cid) if cid is not None else None
        if cid is None or key is None:
            report.rejected.append(Rejected(item.row, None, "this record's person was erased"))
            continue
        report.customer_of[item.ref] = cid
        report.record_of[item.ref] = int(row.id)
        held = open_source(key, cid, source, digest, row.attributes)
        if {k: str(v) for k, v in held.items()} == item.values:
            report.unchanged += 1
            continue
        conn.execute(update(source_records).where(s.id == row.id).values(
            attributes=seal_source(key, cid, source, digest, item.values), last_seen_at=now))
        changed.append(Stored(int(row.id), cid, source, digest, item.values, row.first_seen_at, now))
        report.updated += 1
    if changed:
        from gateway.linkage.records import rekey

        rekey(conn, vault, changed)
    return fresh


def _model(conn: Connection, frame: pd.DataFrame, now: datetime) -> tuple[int, TrainedModel]:
    found = latest_model(conn)
    if found is not None and is_current(found[1]):
        return found
    if len(frame) >= MIN_TRAIN_RECORDS:
        model, kind = train(frame), "data"
    else:
        model, kind = default_model(), "default"
    return store_model(conn, model, kind, now), model


def _link(conn: Connection, ctx: Ingestion, keys: DataKeys,
          fresh: list[tuple[Incoming, str]], lawful: str, report: IngestReport, now: datetime) -> set[int]:
    """Cluster the new records with the persons they may belong to and store them."""
    vault = ctx.vault
    new_frame = frame_of([item.values for item, _ in fresh])
    new_rows = new_frame.to_dict("records")
    new_keys = [digests(vault, row) for row in new_rows]
    holders = _candidates(conn, [k for ks in new_keys for k in ks],
                          None if lawful == "probabilistic" else EXACT_KINDS)
    candidates = sorted({c for cs in holders.values() for c in cs})
    objected = _objected(conn, candidates)
    n_new = len(fresh)
    # Exact, lawful keys first (for everyone): an email or card both records hold.
    unions = _Union(n_new)
    exact_owner: dict[int, int] = {}
    by_key: dict[tuple[str, str], int] = {}
    for i, ks in enumerate(new_keys):
        for kind, digest in ks:
            if kind not in EXACT_KINDS:
                continue
            owners = holders.get((kind, digest), set())
            if len(owners) == 1 and (lawful != "probabilistic" or next(iter(owners)) in objected):
                exact_owner.setdefault(i, next(iter(owners)))
            if lawful != "probabilistic":
                j = by_key.setdefault((kind, digest), i)
                if j != i:
                    unions.union(j, i)
    labels: np.ndarray
    model_id: int | None = None
    weights: dict[int, tuple[float, dict[str, str]]] = {}
    owner_of: dict[int, int] = {}
    if lawful == "probabilistic":
        existing = [r for r in load_records(conn, vault, [c for c in candidates if c not in objected], keys)]
        frame = frame_of([*(r.values for r in existing), *(item.values for item, _ in fresh)])
        model_id, model = _model(conn, frame, now)
        report.model_id = model_id
        pairs = predict(frame, model) if len(frame) > 1 else pd.DataFrame(
            columns=["unique_id_l", "unique_id_r", "match_weight"])
        groups = [r.customer_id for r in existing] + [-1] * n_new
        labels = cluster(len(frame), pairs, traits_of(frame), TraitScorer(model.settings), groups=groups)
        weights = _evidence(pairs, frame, labels, model)
        offset = len(existing)
        label_owner = {int(labels[i]): existing[i].customer_id for i in range(offset)}
        for i in range(n_new):
            owner = label_owner.get(int(labels[offset + i]))
            if owner is not None:
                owner_of[i] = owner
        new_labels = [int(labels[offset + i]) for i in range(n_new)]
    else:
        new_labels = [unions.find(i) for i in range(n_new)] if lawful == "exact_only" else list(range(n_new))
        offset = 0
    for i, owner in exact_owner.items():
        owner_of.setdefault(i, owner)
    # Persons: a label with an existing owner joins it; others become new customers.
    label_customer: dict[int, int] = {}
    for i in range(n_new):
        if i in owner_of:
            label_customer.setdefault(new_labels[i], owner_of[i])
    created: list[int] = []
    for i in range(n_new):
        label = new_labels[i]
        if label not in label_customer:
            label_customer[label] = new_customer(conn, vault, keys, fresh[i][0].values, now)
            created.append(label_customer[label])
    report.new_persons = len(created)
    # Store the records, their keys and how each was linked.
    record_rows = []
    for i, (item, digest) in enumerate(fresh):
        cid = owner_of.get(i, label_customer[new_labels[i]])
        key = keys.get(cid)
        assert key is not None
        record_rows.append({"customer_id": cid, "source": item.source, "source_key": digest,
                            "attributes": seal_source(key, cid, item.source, digest, item.values),
                            "first_seen_at": now, "last_seen_at": now,
                            "link_method": "", "link_confidence": 0.0})
        report.customer_of[item.ref] = cid
    ids = [int(i) for i in conn.execute(insert(source_records).returning(source_records.c.id),
                                        record_rows).scalars()] if record_rows else []
    if len(ids) != len(record_rows):
        s = source_records.c
        id_of = {(str(r.source), str(r.source_key)): int(r.id) for r in conn.execute(
            select(s.id, s.source, s.source_key).where(s.source_key.in_([d for _, d in fresh])))}
        ids = [id_of[(item.source, d)] for item, d in fresh]
    label_sizes = Counter(new_labels)
    links = []
    for i, ((item, _), rid) in enumerate(zip(fresh, ids, strict=True)):
        cid = report.customer_of[item.ref]
        report.record_of[item.ref] = rid
        weight, levels = weights.get(offset + i, (None, {}))
        alone = cid in created and label_sizes[new_labels[i]] == 1
        via_exact = lawful != "probabilistic" or (exact_owner.get(i) == cid and cid in objected)
        method = "new" if alone else ("exact_only" if via_exact else "probabilistic")
        if method == "exact_only":
            report.exact_only += 1
        elif method == "probabilistic":
            report.probabilistic += 1
        if cid not in created:
            report.linked_to_existing += 1
        links.append({"source_record_id": rid, "customer_id": cid, "run_id": None, "model_id": model_id,
                      "method": method, "match_weight": weight, "evidence": levels, "linked_at": now})
        conn.execute(update(source_records).where(source_records.c.id == rid).values(
            link_method=method, link_confidence=_probability(weight)))
    if links:
        conn.execute(insert(linkage_links), links)
    write_keys(conn, vault, [(rid, report.customer_of[item.ref], row)
                             for (item, _), rid, row in zip(fresh, ids, new_rows, strict=True)])
    report.new_records = len(fresh)
    return {report.customer_of[item.ref] for item, _ in fresh}


def _probability(weight: float | None) -> float:
    if weight is None:
        return 1.0
    return float(1 / (1 + 2 ** (-weight)))


def new_customer(conn: Connection, vault: Vault, keys: DataKeys, values: Mapping[str, str], now: datetime) -> int:
    """A new customer (a person no record of whom was known) with a fresh data key."""
    country = n.country(values.get("country")) if values.get("country") else None
    jurisdiction = "152-fz" if country == "RU" else "gdpr"
    cid = int(conn.execute(insert(customers).values(
        created_at=now, updated_at=now, jurisdiction=jurisdiction, order_count=0, total_spent_cents=0,
    ).returning(customers.c.id)).scalar_one())
    key, key_row = vault.envelope.new_data_key(cid)
    store_data_keys(conn, [key_row])
    keys.remember(cid, key)
    return cid


def ingest_audited(conn: Connection, ctx: Ingestion, source: str, rows: Sequence[Mapping[str, Any]],
                   mapping: SourceMapping, *, audit: Pseudonymizer, signer: SignerLike,
                   mode: str = "skip", actor_type: str = "operator", role: str | None = None,
                   settings: Settings | None = None) -> IngestReport:
    """`ingest` with its audit entry (`linkage.ingest`, counts only) on the same connection.

    A batch refused in `all` mode writes nothing but its audit entry (decision: deny).
    """
    report = ingest(conn, ctx, source, rows, mapping, mode=mode)
    detail: dict[str, Any] = {"source": source, "mode": mode, "counts": report.counts(),
                              "model_id": report.model_id, "run_id": report.run_id}
    record_event(conn, "linkage.ingest", audit=audit, signer=signer, settings=settings,
                 actor=ctx.actor, actor_type=actor_type, role=role, purpose="identity_resolution",
                 operation="ingest", detail=detail,
                 refused=Code.INVALID_INPUT.value if report.refused else None)
    return report
