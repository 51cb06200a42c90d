"""Identity resolution through HTTP: ingestion, sources with provenance, merge, split, revert."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from gateway.consent.tables import consent_state
from gateway.linkage.tables import linkage_cases
from tests.harness import Gateway

INGEST = """mutation($source: String!, $records: [SourceRecordInput!]!, $mode: String! = "skip") {
  ingestSourceRecords(source: $source, records: $records, mode: $mode) {
    __typename
    ... on IngestSuccess { received newRecords newPersons linkedToExisting unchanged
                           rejected { row field reason } }
    ... on MutationError { code field message }
  }
}"""
SOURCES = """query($id: ID!) { customerSources(customerId: $id) {
  id source linkMethod matchWeight
  identity { name value code chosen rule } contact { name value code chosen rule }
  location { name value chosen }
} }"""
CASE_FIELDS = """__typename ... on LinkageCaseSuccess { case { id kind state survivorId otherId moved conflicts } }
                 ... on MutationError { code field message }"""
MERGE = "mutation($a: ID!, $b: ID!) { mergeCustomers(survivorId: $a, mergedId: $b) { CASE } }"
SPLIT = "mutation($c: ID!, $r: [ID!]!) { splitCustomer(customerId: $c, sourceRecordIds: $r) { CASE } }"
REVERT = "mutation($id: ID!) { revertLinkageCase(caseId: $id) { CASE } }"
MERGE, SPLIT, REVERT = (q.replace("CASE", CASE_FIELDS) for q in (MERGE, SPLIT, REVERT))
CUSTOMER = "query($id: ID!) { customer(id: $id) { id firstName } }"
LINKAGE = {"app": "linkage", "purpose": "identity_resolution"}


def _record(key: str, **fields: str) -> dict[str, Any]:
    return {"sourceKey": key, "fields": [{"name": k, "value": v} for k, v in fields.items()]}


def _ingest(gw: Gateway, source: str, records: list[dict[str, Any]], **kw: Any) -> dict[str, Any]:
    answer = gw.post(INGEST, variables={"source": source, "records": records}, **{**LINKAGE, **kw}).json()
    return dict(answer["data"]["ingestSourceRecords"])


def _steward(gw: Gateway) -> dict[str, str]:
    if "data_steward" not in gw.keys:
        gw.add_app("data_steward")
    return {"app": "data_steward", "purpose": "identity_resolution"}


def _customer_of(gw: Gateway, email: str) -> int:
    from gateway.profile.identity import find_customer_by

    with gw.engine.connect() as conn:
        found = find_customer_by(conn, gw.services.vault, "email", email)
    assert found is not None
    return found


def test_a_source_system_ingests_through_graphql_and_others_may_not(fresh_gateway: Gateway) -> None:
    # given
    gw = fresh_gateway
    records = [_record("c-1", first_name="Olga", last_name="Smirnova", birth_date="1990-01-02",
                       email="olga.s@example.org"),
               _record("c-2", first_name="Bad", email="nope")]
    # when
    first = _ingest(gw, "crm", records)
    again = _ingest(gw, "crm", records)
    denied = _ingest(gw, "crm", records, app="marketing", purpose="marketing_email")
    unknown = _ingest(gw, "crm", [_record("c-3", favourite_colour="red")])
    # then
    assert first["__typename"] == "IngestSuccess" and first["newPersons"] == 1
    assert first["rejected"] == [{"row": 2, "field": "email", "reason":
                                  "email is not an address like name@example.com"}]
    assert again["unchanged"] == 1 and again["newRecords"] == 0
    assert denied == {"__typename": "MutationError", "code": "POLICY_DENIED", "field": None,
                      "message": "this app may not write source_record for this purpose"}
    assert unknown["code"] == "INVALID_INPUT" and unknown["field"] == "records.fields.name"


def test_sources_show_each_record_with_the_chosen_values_under_policy(fresh_gateway: Gateway) -> None:
    # given: two sources know Olga; the newer one has her new surname
    gw = fresh_gateway
    _ingest(gw, "crm", [_record("c-1", first_name="Olga", last_name="Smirnova", birth_date="1990-01-02",
                                email="olga.s@example.org", city="Kazan")])
    _ingest(gw, "loyalty", [_record("L-1", first_name="Olga", last_name="Petrova", birth_date="1990-01-02",
                                    email="olga.s@example.org", loyalty_card="6301 0000 0000 0001")])
    cid = _customer_of(gw, "olga.s@example.org")
    # when
    support = gw.post(SOURCES, variables={"id": gw.pseudonym(cid, "support")}, app="support",
                      purpose="support").json()
    marketing = gw.post(SOURCES, variables={"id": gw.pseudonym(cid)}).json()
    # then: support sees names, the email masked (no reveal for support), the chosen surname marked
    records = {r["source"]: r for r in support["data"]["customerSources"]}
    assert set(records) == {"crm", "loyalty"}
    surname = {r: next(a for a in records[r]["identity"] if a["name"] == "last_name") for r in records}
    assert surname["loyalty"] == {"name": "last_name", "value": "Petrova", "code": "ALLOWED",
                                  "chosen": True, "rule": "most_recent"}
    assert surname["crm"]["chosen"] is False and surname["crm"]["value"] == "Smirnova"
    email = next(a for a in records["crm"]["contact"] if a["name"] == "email")
    assert email["value"] == "o***@example.org"
    assert records["loyalty"]["linkMethod"] == "probabilistic" and records["loyalty"]["matchWeight"] > 0
    # ... and marketing may not look at source records at all
    assert marketing["errors"][0]["extensions"]["code"] == "POLICY_DENIED"


def test_merge_keeps_the_stricter_consent_answers_merged_and_reverts(fresh_gateway: Gateway) -> None:
    # given: two customers of one person; one granted email marketing, the other withdrew it
    gw = fresh_gateway
    steward = _steward(gw)
    _ingest(gw, "crm", [_record("c-1", first_name="Ivan", last_name="Orlov", email="ivan@example.org")])
    _ingest(gw, "web", [_record("w-1", first_name="Ivan", last_name="Smith", email="orlov@example.net")])
    a, b = _customer_of(gw, "ivan@example.org"), _customer_of(gw, "orlov@example.net")
    assert a != b
    gw.consent(a, "marketing_email", "grant")
    gw.consent(b, "marketing_email", "withdraw")
    old_b = gw.pseudonym(b)
    # when
    merged = gw.post(MERGE, variables={"a": gw.pseudonym(a, "data_steward"),
                                       "b": gw.pseudonym(b, "data_steward")}, **steward).json()
    # then: the withdrawal wins, the conflict is visible, B's old id answers MERGED
    case = merged["data"]["mergeCustomers"]["case"]
    assert case["conflicts"] == ["consent:marketing_email"] and case["kind"] == "merge"
    with gw.engine.connect() as conn:
        state = conn.execute(select(consent_state.c.action).where(
            consent_state.c.customer_id == a, consent_state.c.purpose == "marketing_email")).scalar_one()
    assert state == "withdraw"
    answer = gw.post(CUSTOMER, variables={"id": old_b}).json()
    error = answer["errors"][0]["extensions"]
    assert error["code"] == "MERGED" and error["survivor"] == gw.pseudonym(a)
    # when: the steward reverts the merge
    reverted = gw.post(REVERT, variables={"id": case["id"]}, **steward).json()
    # then: B is back under the same id, each person with their own choices again
    assert reverted["data"]["revertLinkageCase"]["case"]["state"] == "reverted"
    back = gw.post(CUSTOMER, variables={"id": gw.pseudonym(b, "support")}, app="support",
                   purpose="support").json()
    assert back["data"]["customer"]["id"] == gw.pseudonym(b, "support")
    with gw.engine.connect() as conn:
        states = dict(conn.execute(select(consent_state.c.customer_id, consent_state.c.action).where(
            consent_state.c.purpose == "marketing_email", consent_state.c.customer_id.in_([a, b]))).all())
        case_row = conn.execute(select(linkage_cases).where(linkage_cases.c.id == int(case["id"]))).one()
    assert states == {a: "grant", b: "withdraw"}
    assert case_row.state == "reverted" and case_row.actor == gw.callers["data_steward"].name


def test_split_moves_a_record_to_a_new_person_and_support_may_not(fresh_gateway: Gateway) -> None:
    # given: one customer holding a record that is not theirs
    gw = fresh_gateway
    steward = _steward(gw)
    _ingest(gw, "crm", [_record("c-1", first_name="Mia", last_name="Lang", email="mia@example.org")])
    _ingest(gw, "email", [_record("e-1", first_name="Mia", email="mia@example.org")])
    cid = _customer_of(gw, "mia@example.org")
    seen = gw.post(SOURCES, variables={"id": gw.pseudonym(cid, "data_steward")}, **steward).json()
    email_record = next(r["id"] for r in seen["data"]["customerSources"] if r["source"] == "email")
    variables = {"c": gw.pseudonym(cid, "data_steward"), "r": [email_record]}
    # when
    refused = gw.post(SPLIT, variables={**variables, "c": gw.pseudonym(cid, "support")}, app="support",
                      purpose="support").json()
    split = gw.post(SPLIT, variables=variables, **steward).json()
    # then
    assert refused["data"]["splitCustomer"]["code"] == "POLICY_DENIED"
    case = split["data"]["splitCustomer"]["case"]
    assert case["kind"] == "split" and case["survivorId"] == gw.pseudonym(cid, "data_steward")
    assert case["otherId"] != case["survivorId"]
    left = gw.post(SOURCES, variables={"id": gw.pseudonym(cid, "data_steward")}, **steward).json()
    assert [r["source"] for r in left["data"]["customerSources"]] == ["crm"]
