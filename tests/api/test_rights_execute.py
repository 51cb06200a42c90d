"""Each right carried out end to end through HTTP: access, export, rectify, restrict, object, erase."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select

from gateway.consent.tables import consent_events
from gateway.profile.identity import read_identity
from gateway.rights.tables import rights_erasures, rights_ledger_proofs, rights_rectifications
from tests.api.support import add_interaction, add_person, add_source, audit_text, codes
from tests.harness import Gateway
from tests.rights.support import EXPORT, OFFICER, audit_rows, delivered, execute, executed, opened

READ = "query($id: ID!) { customer(id: $id) { id firstName email city } }"


def _read_as_marketing(gw: Gateway, cid: int) -> dict[str, Any]:
    answer: dict[str, Any] = gw.post(READ, variables={"id": gw.pseudonym(cid)}).json()
    return answer


def _document(gw: Gateway, result: dict[str, Any]) -> dict[str, Any]:
    """The document the case produced, as its data subject receives it; the officer's answer
    holds none of it."""
    assert result["document"] is None
    outcome = json.loads(result["case"]["outcome"])
    assert outcome["delivered_to"] == "data_subject"
    return delivered(gw, result["case"]["id"])


def test_export_holds_everything_and_who_read_it(gw: Gateway) -> None:
    # given: a customer with a source record, an interaction, consents and a marketing read
    cid, values = add_person(gw)
    source_id = add_source(gw, cid)
    add_interaction(gw, cid, campaign="spring-sale")
    gw.consent(cid, "marketing_email")
    gw.consent(cid, "marketing_sms", "deny")
    gw.preference(cid, "channel", "email", "opt_in")
    gw.preference(cid, "objection", "profiling", "on")
    assert _read_as_marketing(gw, cid)["data"]["customer"]["email"] == values["email"]
    case = opened(gw, cid, "export")
    # when: the officer carries out the export
    result = executed(gw, case["id"])
    doc = _document(gw, result)
    # then: the case is completed, the document holds the profile in the clear ...
    assert result["case"]["status"] == "completed"
    assert [s["step"] for s in result["case"]["steps"]] == ["opened", "started", "completed"]
    assert doc["format"] == "consent-gateway/subject-export/v1"
    profile = doc["profile"]
    assert (profile["email"], profile["first_name"], profile["phone"]) == (
        values["email"], values["first_name"], values["phone"])
    assert "email_bidx" not in profile and "id" not in profile
    # ... the source record with provenance, orders, interactions
    assert [s["attributes"]["source_id"] for s in doc["sources"]] == [source_id]
    assert doc["sources"][0]["link_method"] == "deterministic"
    assert len(doc["orders"]) == 1 and doc["orders"][0]["total"] == "49.99"
    assert [i["campaign"] for i in doc["interactions"]] == ["spring-sale"]
    # ... consents with their history, channels, objections; empty derived sections
    assert {c["purpose"]: c["action"] for c in doc["consents"]["current"]} == {
        "marketing_email": "grant", "marketing_sms": "deny"}
    assert len(doc["consents"]["history"]) == 2
    assert [(c["key"], c["value"]) for c in doc["channels"]] == [("email", "opt_in")]
    assert [(o["kind"], o["key"], o["value"]) for o in doc["objections_and_restrictions"]] == [
        ("objection", "profiling", "on")]
    # (no computed attributes, no score; no action: they objected to profiling)
    assert doc["segments"]["attributes"] is None and doc["segments"]["persona"] is None
    assert doc["scores"] == {"scores": [], "next_best_action": None}
    assert doc["sessions"] == {"sessions": [], "sign_in_links": [], "sign_in_codes": [], "receipts": []}
    # ... and who read the data, by app and purpose, with the fields given
    marketing = gw.callers["marketing"].name
    reads = [r for r in doc["reads"]["entries"] if r["app"] == marketing]
    assert reads and reads[0]["purpose"] == "marketing_email" and reads[0]["action"] == "read"
    assert {"email", "firstName"} <= set(reads[0]["fields_given"])
    assert {"app": marketing, "purpose": "marketing_email", "action": "read", "count": 1} in (
        doc["reads"]["by_app_and_purpose"])
    assert [r["id"] for r in doc["requests"]] == [case["id"]]
    assert "processing" not in doc


def test_access_adds_how_the_data_is_processed_and_only_the_person_receives_it(gw: Gateway) -> None:
    # given: a completed access case
    cid, values = add_person(gw)
    case = opened(gw, cid, "access")
    doc = _document(gw, executed(gw, case["id"]))
    # then: the person's document holds the processing information of an access request
    assert doc["profile"]["email"] == values["email"]
    assert {p["purpose"] for p in doc["processing"]} >= {"marketing_email", "support"}
    # when: the officer, then support, try to fetch the document through the API
    officer = gw.post(EXPORT, variables={"id": case["id"]}, **OFFICER)
    support = gw.post(EXPORT, variables={"id": case["id"]}, app="support", purpose="support").json()
    # then: neither may read it: it belongs to the data subject (no role holds read_export)
    assert codes(officer.json()) == ["POLICY_DENIED"]
    assert values["email"] not in officer.text
    assert codes(support) == ["POLICY_DENIED"]
    # and: the refused fetch is audited without the document
    entry = gw.audit_entry(officer.headers["X-Request-Id"])
    assert entry.decision == "deny" and values["email"] not in audit_text(entry)


def test_rectify_changes_fields_and_records_who_and_when_without_values(gw: Gateway) -> None:
    # given: a customer and a rectification request
    cid, values = add_person(gw)
    case = opened(gw, cid, "rectify")
    new_email = "corrected." + values["email"]
    # when: the officer corrects the email and the city
    result = executed(gw, case["id"], fields=[{"name": "email", "value": new_email},
                                              {"name": "city", "value": "Newtown"}])
    # then: stored (sealed, found by the new address), the case records the field names
    assert json.loads(result["case"]["outcome"]) == {"fields": ["city", "email"]}
    with gw.engine.connect() as conn:
        identity = read_identity(conn, gw.services.vault, cid)
        history = conn.execute(select(rights_rectifications.c.field, rights_rectifications.c.changed_by)
                               .order_by(rights_rectifications.c.id)).all()
    assert identity is not None and identity["email"] == new_email
    assert ("email", gw.callers["compliance_officer"].name) in [tuple(h) for h in history]
    # and: the audit names the fields, never the old or new values
    entries = [r for r in audit_rows(gw) if r.detail.get("case") == result["case"]["id"]]
    completed = next(r for r in entries if r.action == "rights.completed")
    assert completed.detail["outcome"] == {"fields": ["city", "email"]}
    for row in entries:
        text = audit_text(row)
        assert new_email not in text and values["email"] not in text and "Newtown" not in text


def test_rectify_with_bad_values_writes_nothing(gw: Gateway) -> None:
    # given: a rectification case
    cid, values = add_person(gw)
    case = opened(gw, cid, "rectify")
    # when: an unknown field, a malformed email, nothing at all
    results = [
        execute(gw, case["id"], fields=[{"name": "loyaltyTier", "value": "platinum"}]),
        execute(gw, case["id"], fields=[{"name": "email", "value": "not-an-address"}]),
        execute(gw, case["id"], fields=[]),
    ]
    # then: INVALID_INPUT each time, the value never echoed, the case still open
    assert [r["code"] for r in results] == ["INVALID_INPUT"] * 3
    assert all("not-an-address" not in r["message"] for r in results)
    again = gw.post("query($id: ID!) { rightsCase(id: $id) { status steps { step } } }",
                    variables={"id": case["id"]}, **OFFICER).json()["data"]["rightsCase"]
    assert again == {"status": "open", "steps": [{"step": "opened"}]}
    with gw.engine.connect() as conn:
        assert read_identity(conn, gw.services.vault, cid)["email"] == values["email"]  # type: ignore[index]


def test_restrict_keeps_the_data_and_stops_its_use(gw: Gateway) -> None:
    # given: a customer marketing may read (consent given)
    cid, values = add_person(gw)
    gw.consent(cid, "marketing_email")
    assert _read_as_marketing(gw, cid)["data"]["customer"]["email"] == values["email"]
    case = opened(gw, cid, "restrict")
    # when: the restriction is carried out
    result = executed(gw, case["id"])
    # then: a signed receipt, marketing gets RESTRICTED, the data is still held
    assert json.loads(result["receipt"]["payload"])["kind"] == "restriction"
    after = _read_as_marketing(gw, cid)
    assert after["data"]["customer"]["email"] is None
    assert set(codes(after)) == {"RESTRICTED"}
    with gw.engine.connect() as conn:
        assert read_identity(conn, gw.services.vault, cid)["email"] == values["email"]  # type: ignore[index]
    # and: compliance audit (restriction-exempt) still sees the export
    export = opened(gw, cid, "export")
    assert _document(gw, executed(gw, export["id"]))["profile"]["email"] == values["email"]


def test_object_to_direct_marketing(gw: Gateway) -> None:
    # given: a customer with a marketing consent
    cid, _ = add_person(gw)
    gw.consent(cid, "marketing_email")
    case = opened(gw, cid, "object")
    # when: without a scope, then with one
    missing = execute(gw, case["id"])
    result = executed(gw, case["id"], objectionScope="direct_marketing")
    # then: the scope is required; the objection stops marketing reads
    assert (missing["code"], missing["field"]) == ("INVALID_INPUT", "objectionScope")
    assert json.loads(result["case"]["outcome"])["objection"] == "direct_marketing"
    after = _read_as_marketing(gw, cid)
    assert set(codes(after)) == {"OBJECTED"}


def test_erase_removes_the_person_keeps_proof_and_refuses_twice(gw: Gateway) -> None:
    # given: a customer with consents and a source record, two erasure requests
    cid, values = add_person(gw)
    add_source(gw, cid)
    gw.consent(cid, "marketing_email")
    gw.consent(cid, "marketing_email", "withdraw")
    first = opened(gw, cid, "erase", note=f"asked by {values['email']}")
    second = opened(gw, cid, "erase")
    export = opened(gw, cid, "export")
    # when: the officer carries out the first, then the same again, then the second
    result = executed(gw, first["id"])
    again = execute(gw, first["id"])
    other = execute(gw, second["id"])
    late_export = execute(gw, export["id"])
    # then: completed; the case lost its customer, not its audit pseudonym; the note, sealed
    # under the destroyed key, reads as null (it read in the clear before)
    assert first["note"] == f"asked by {values['email']}"
    case = result["case"]
    assert case["status"] == "completed" and case["customerId"] is None
    assert case["note"] is None
    outcome = json.loads(case["outcome"])
    assert outcome["deleted"]["customers"] == 1 and outcome["deleted"]["keys"] == 1
    assert outcome["deleted"]["ledger_proofs_kept"] == 2
    # and: twice is a clear code, never a crash
    assert again["code"] == "CASE_CLOSED"
    assert (other["code"], late_export["code"]) == ("ALREADY_ERASED", "ALREADY_ERASED")
    # and: the marketing id now finds nobody
    assert codes(_read_as_marketing(gw, cid)) == ["NOT_FOUND"]
    # and: the consent proof is kept under the tombstone, the ledger rows are gone
    with gw.engine.connect() as conn:
        proofs = conn.execute(select(rights_ledger_proofs).where(
            rights_ledger_proofs.c.tombstone == outcome["tombstone"])).all()
        left = conn.execute(select(func.count()).select_from(consent_events)
                            .where(consent_events.c.customer_id == cid)).scalar_one()
        erasure = conn.execute(select(rights_erasures).where(
            rights_erasures.c.tombstone == outcome["tombstone"])).one()
    assert sorted(p.action for p in proofs) == ["grant", "withdraw"] and left == 0
    assert erasure.subject_ref == gw.audit_ref(cid)
    # and: the audit entries about the person stay, under the pseudonym
    assert any(r.subjects == [{"ref": gw.audit_ref(cid), "code": "ALLOWED"}]
               for r in audit_rows(gw, "rights.completed"))
