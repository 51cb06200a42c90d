"""Ingestion on both backends: validation, idempotency, objection, survivorship, audit, erasure."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select

from gateway.audit.tables import audit_events
from gateway.linkage.ingest import Ingestion, IngestReport, ingest_audited
from gateway.linkage.mapping import identity_mapping
from gateway.linkage.survivorship import Survivorship
from gateway.linkage.tables import golden_provenance, linkage_keys, linkage_links
from gateway.profile.identity import read_identity
from gateway.profile.tables import source_records
from gateway.rights.erase import erase_customer
from tests.harness import Gateway

ANNA = {"record_id": "crm-1", "first_name": "Anna", "last_name": "Kowalska", "birth_date": "1984-03-07",
        "email": "anna.k@example.org", "phone": "+48601234567", "postcode": "00-950", "city": "Warszawa"}
BORIS = {"record_id": "crm-2", "first_name": "Boris", "last_name": "Petrov", "birth_date": "07.11.1979",
         "email": "boris@example.net", "phone": "+79161234567", "postcode": "101000", "city": "Moskva"}


def _ingest(gw: Gateway, source: str, rows: list[dict[str, Any]], mode: str = "skip") -> IngestReport:
    mapping = identity_mapping(sorted({k for r in rows for k in r}), source)
    ctx = Ingestion(gw.services.vault, Survivorship(), actor="test")
    with gw.engine.begin() as conn:
        return ingest_audited(conn, ctx, source, rows, mapping, audit=gw.services.pseudonyms.for_audit(),
                              signer=gw.services.signer, mode=mode)


def _count(gw: Gateway, table: Any, *where: Any) -> int:
    with gw.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def test_rows_are_validated_with_reasons_and_reingesting_changes_nothing(fresh_gateway: Gateway) -> None:
    # given
    gw = fresh_gateway
    rows = [ANNA, BORIS,
            {"record_id": "crm-3", "first_name": "X", "email": "not-an-email"},
            {"record_id": "crm-4", "first_name": "Y", "birth_date": "31/02/1990"},
            {"first_name": "no key"},
            {**ANNA, "first_name": "Again"}]
    before = _count(gw, source_records)
    # when
    first = _ingest(gw, "crm", rows)
    second = _ingest(gw, "crm", rows)
    # then: each bad row named with its field and reason, never its value
    assert [(r.row, r.field) for r in first.rejected] == [(3, "email"), (4, "birth_date"),
                                                          (5, "record_id"), (6, "record_id")]
    assert all("not-an-email" not in r.reason and "1990" not in r.reason for r in first.rejected)
    assert (first.new_records, first.new_persons) == (2, 2)
    assert (second.new_records, second.unchanged, second.new_persons) == (0, 2, 0)
    assert _count(gw, source_records) == before + 2


def test_all_mode_refuses_the_whole_batch_and_audits_the_refusal(fresh_gateway: Gateway) -> None:
    # given
    gw = fresh_gateway
    before = _count(gw, source_records)
    # when
    report = _ingest(gw, "crm", [ANNA, {"record_id": "bad", "email": "nope"}], mode="all")
    # then
    assert report.refused and report.new_records == 0
    assert _count(gw, source_records) == before
    with gw.engine.connect() as conn:
        entry = conn.execute(select(audit_events).where(audit_events.c.action == "linkage.ingest")
                             .order_by(audit_events.c.seq.desc())).first()
    assert entry is not None and entry.decision == "deny"


def test_a_second_source_links_to_the_person_and_the_audit_holds_counts_only(fresh_gateway: Gateway) -> None:
    # given
    gw = fresh_gateway
    crm = _ingest(gw, "crm", [ANNA, BORIS])
    web = [{"record_id": "w-1", "first_name": "Ania", "last_name": "Kowalska", "birth_date": "07/03/1984",
            "email": "ANNA.K@example.org"},
           {"record_id": "w-2", "first_name": "Борис", "last_name": "Петров", "birth_date": "1979-11-07",
            "phone": "8 916 123-45-67", "country": "RU"}]
    # when
    report = _ingest(gw, "web", web)
    # then: both web records joined their person (nickname; Cyrillic and a national phone)
    assert report.customer_of["w-1"] == crm.customer_of["crm-1"]
    assert report.customer_of["w-2"] == crm.customer_of["crm-2"]
    assert report.new_persons == 0 and report.linked_to_existing == 2
    with gw.engine.connect() as conn:
        entry = conn.execute(select(audit_events).where(audit_events.c.action == "linkage.ingest")
                             .order_by(audit_events.c.seq.desc())).first()
        links = conn.execute(select(linkage_links.c.method, linkage_links.c.evidence)
                             .where(linkage_links.c.customer_id == crm.customer_of["crm-1"])).all()
        digests = conn.execute(select(linkage_keys.c.digest)).scalars().all()
    assert entry is not None
    text = json.dumps(entry.detail, default=str)
    assert entry.detail["counts"]["linked_to_existing"] == 2
    for value in ("Kowalska", "anna.k", "Петров", "1984", "916"):
        assert value not in text
    assert {m for m, _ in links} == {"new", "probabilistic"}
    assert all(len(d) == 64 and "kowalska" not in d for d in digests)


def test_objection_to_identity_resolution_allows_exact_keys_only(fresh_gateway: Gateway) -> None:
    # given: Anna objected; Boris did not (the control)
    gw = fresh_gateway
    crm = _ingest(gw, "crm", [ANNA, BORIS])
    gw.preference(crm.customer_of["crm-1"], "objection", "identity_resolution", "on")
    fuzzy = [{"record_id": "w-1", "first_name": "Anna", "last_name": "Kowalska", "birth_date": "1984-03-07",
              "postcode": "00-950", "city": "Warszawa"},
             {"record_id": "w-2", "first_name": "Boris", "last_name": "Petrov", "birth_date": "1979-11-07",
              "postcode": "101000", "city": "Moskva"}]
    exact = [{"record_id": "e-1", "first_name": "A.", "email": "anna.k@example.org"}]
    # when
    probabilistic = _ingest(gw, "web", fuzzy)
    by_email = _ingest(gw, "email", exact)
    # then: no probabilistic link to Anna, the control links; her own email still links
    assert probabilistic.customer_of["w-1"] != crm.customer_of["crm-1"]
    assert probabilistic.customer_of["w-2"] == crm.customer_of["crm-2"]
    assert by_email.customer_of["e-1"] == crm.customer_of["crm-1"]
    with gw.engine.connect() as conn:
        method = conn.execute(select(source_records.c.link_method).where(
            source_records.c.customer_id == crm.customer_of["crm-1"],
            source_records.c.source == "email")).scalar_one()
    assert method == "exact_only"


def test_golden_record_takes_the_most_recent_surname_with_its_provenance(fresh_gateway: Gateway) -> None:
    # given: a CRM record, then a newer loyalty record after a change of surname
    gw = fresh_gateway
    crm = _ingest(gw, "crm", [ANNA])
    cid = crm.customer_of["crm-1"]
    # when
    _ingest(gw, "loyalty", [{"record_id": "L-1", "first_name": "Anna", "last_name": "Nowak",
                             "birth_date": "1984-03-07", "email": "anna.k@example.org",
                             "loyalty_card": "6300 1234 5678 9012"}])
    # then
    with gw.engine.connect() as conn:
        identity = read_identity(conn, gw.services.vault, cid)
        provenance = {r.attribute: (r.rule, r.source) for r in conn.execute(
            select(golden_provenance.c.attribute, golden_provenance.c.rule, source_records.c.source)
            .join(source_records, source_records.c.id == golden_provenance.c.source_record_id)
            .where(golden_provenance.c.customer_id == cid))}
    assert identity is not None
    assert identity["last_name"] == "Nowak" and identity["first_name"] == "Anna"
    assert identity["loyalty_card"] == "6300 1234 5678 9012"
    assert provenance["last_name"] == ("most_recent", "loyalty")
    assert provenance["loyalty_card"] == ("verified_first", "loyalty")
    assert provenance["first_name"][0] == "most_frequent"


def test_erasure_reaches_every_linkage_table(fresh_gateway: Gateway) -> None:
    # given
    gw = fresh_gateway
    crm = _ingest(gw, "crm", [ANNA, BORIS])
    anna, boris = crm.customer_of["crm-1"], crm.customer_of["crm-2"]
    tables = ((linkage_keys, linkage_keys.c.customer_id), (linkage_links, linkage_links.c.customer_id),
              (golden_provenance, golden_provenance.c.customer_id))
    assert all(_count(gw, t, c == anna) > 0 for t, c in tables)
    # when
    with gw.engine.begin() as conn:
        erasure = erase_customer(conn, gw.services.vault, anna, subject_ref="c_test", actor="test",
                                 jurisdiction="gdpr")
    # then: nothing of hers left; Boris (the control) keeps his
    assert all(_count(gw, t, c == anna) == 0 for t, c in tables)
    assert all(_count(gw, t, c == boris) > 0 for t, c in tables)
    assert erasure.counts["linkage"] > 0
