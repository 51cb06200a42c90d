"""The audit: one entry per request, pseudonymous, and no answer without it."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from tests.api.support import Json, add_person, audit_count, audit_text, secrets_of, unique
from tests.harness import Gateway

BY_ID = "query($id: ID!) { customer(id: $id) { id firstName email city } }"
IN_CITY = (
    "query($city: String!) { customers(filter: {city: $city}) "
    "{ nodes { id firstName email city } } }"
)
ANALYTICS_IN_CITY = (
    "query($city: String!) { customers(filter: {city: $city}) { nodes { id firstName city } } }"
)
TWO_ROOTS = (
    "query($id: ID!, $city: String!) { one: customer(id: $id) { firstName } "
    "many: customers(filter: {city: $city}) { nodes { city } } }"
)
TWO_CUSTOMERS = (
    "query($a: ID!, $b: ID!) "
    "{ a: customer(id: $a) { firstName } b: customer(id: $b) { firstName } }"
)
EVERYTHING = (
    "query($id: ID!) { customer(id: $id) { id firstName lastName birthDate loyaltyCardNumber "
    "email phone street city postcode orders { number } consents { purpose } } }"
)
DIRECTIVES = (
    "query($id: ID!, $withEmail: Boolean!) { customer(id: $id) "
    "{ firstName @skip(if: true) email @include(if: $withEmail) city } }"
)
FRAGMENTS = (
    "query($id: ID!) { customer(id: $id) { ...Names ... on Customer { email } } } "
    "fragment Names on Customer { firstName lastName }"
)
BY_EMAIL = "query($email: String!) { customers(filter: {email: $email}) { nodes { id } } }"
SQLITE_NO_AUDIT = (
    "CREATE TRIGGER no_audit BEFORE INSERT ON audit_events "
    "BEGIN SELECT RAISE(ABORT, 'audit down'); END"
)
POSTGRES_NO_AUDIT = (
    (
        "CREATE FUNCTION no_audit() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'audit down'; END $$"
    ),
    (
        "CREATE TRIGGER no_audit BEFORE INSERT ON audit_events "
        "FOR EACH ROW EXECUTE FUNCTION no_audit()"
    ),
)


def _granted(gw: Gateway, **overrides: object) -> tuple[int, Json]:
    cid, values = add_person(gw, **overrides)
    gw.consent(cid, "marketing_email")
    return cid, values


def _break_audit(gw: Gateway) -> None:
    statements = (SQLITE_NO_AUDIT,) if gw.engine.dialect.name == "sqlite" else POSTGRES_NO_AUDIT
    with gw.engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))


def test_request_id_header_is_a_uuid(gw: Gateway) -> None:
    # given
    cid, _ = _granted(gw)

    # when
    response = gw.post(BY_ID, variables={"id": gw.pseudonym(cid)})

    # then
    assert str(uuid.UUID(response.headers["X-Request-Id"])) == response.headers["X-Request-Id"]


def test_each_request_writes_exactly_one_entry(gw: Gateway) -> None:
    # given
    cid, _ = _granted(gw)
    before = audit_count(gw)

    # when
    response = gw.post(BY_ID, variables={"id": gw.pseudonym(cid)})

    # then
    assert audit_count(gw) == before + 1
    assert audit_count(gw, response.headers["X-Request-Id"]) == 1


def test_two_root_fields_share_one_entry(gw: Gateway) -> None:
    # given
    cid, values = _granted(gw)
    before = audit_count(gw)

    # when
    response = gw.post(TWO_ROOTS, variables={"id": gw.pseudonym(cid), "city": values["city"]})

    # then
    assert "errors" not in response.json()
    assert audit_count(gw) == before + 1
    entry = gw.audit_entry(response.headers["X-Request-Id"])
    assert entry.operation == "customer,customers"
    assert entry.subjects == [{"ref": gw.audit_ref(cid), "code": "ALLOWED"}]


def test_requests_get_distinct_entries(gw: Gateway) -> None:
    # given
    cid, _ = _granted(gw)

    # when
    first = gw.post(BY_ID, variables={"id": gw.pseudonym(cid)})
    second = gw.post(BY_ID, variables={"id": gw.pseudonym(cid)})

    # then
    assert first.headers["X-Request-Id"] != second.headers["X-Request-Id"]
    assert gw.audit_entry(first.headers["X-Request-Id"]).id != gw.audit_entry(
        second.headers["X-Request-Id"]).id


def test_allowed_read_entry(gw: Gateway) -> None:
    # given
    cid, values = _granted(gw)

    # when
    response = gw.post(IN_CITY, variables={"city": values["city"]})

    # then
    entry = gw.audit_entry(response.headers["X-Request-Id"])
    assert entry.actor_type == "app"
    assert entry.actor == gw.callers["marketing"].name
    assert entry.role == "marketing"
    assert entry.purpose == "marketing_email"
    assert entry.action == "read"
    assert entry.operation == "customers"
    assert entry.subjects == [{"ref": gw.audit_ref(cid), "code": "ALLOWED"}]
    assert entry.detail["fields"] == {"firstName": "ALLOWED", "email": "ALLOWED", "city": "ALLOWED"}
    assert entry.detail["errors"] == {}
    assert entry.decision == "allow"


def test_partial_read_entry(gw: Gateway) -> None:
    # given: analytics may read the city but not the name
    cid, values = add_person(gw)

    # when
    response = gw.post(ANALYTICS_IN_CITY, app="analytics", purpose="analytics",
                       variables={"city": values["city"]})

    # then
    entry = gw.audit_entry(response.headers["X-Request-Id"])
    assert entry.actor == gw.callers["analytics"].name
    assert entry.role == "analytics"
    assert entry.purpose == "analytics"
    assert entry.operation == "customers"
    assert entry.subjects == [{"ref": gw.audit_ref(cid), "code": "ALLOWED"}]
    assert entry.detail["fields"] == {"firstName": "POLICY_DENIED", "city": "ALLOWED"}
    assert entry.detail["errors"] == {"POLICY_DENIED": 1}
    assert entry.decision == "partial"


def test_denied_read_entry(gw: Gateway) -> None:
    # given: no consent
    cid, _ = add_person(gw)

    # when
    response = gw.post(BY_ID, variables={"id": gw.pseudonym(cid)})

    # then
    entry = gw.audit_entry(response.headers["X-Request-Id"])
    assert entry.operation == "customer"
    assert entry.subjects == [{"ref": gw.audit_ref(cid), "code": "CONSENT_REQUIRED"}]
    assert entry.detail["fields"] == {"firstName": "ALLOWED", "email": "ALLOWED", "city": "ALLOWED"}
    assert entry.detail["errors"] == {"CONSENT_REQUIRED": 3}
    assert entry.decision == "deny"


def test_entry_names_each_subject_with_its_reason(gw: Gateway) -> None:
    # given
    allowed, _ = _granted(gw)
    restricted, _ = _granted(gw)
    gw.preference(restricted, "restriction", "processing", "on")

    # when
    response = gw.post(TWO_CUSTOMERS, variables={"a": gw.pseudonym(allowed),
                                                 "b": gw.pseudonym(restricted)})

    # then
    entry = gw.audit_entry(response.headers["X-Request-Id"])
    assert entry.subjects == [
        {"ref": gw.audit_ref(allowed), "code": "ALLOWED"},
        {"ref": gw.audit_ref(restricted), "code": "RESTRICTED"},
    ]
    assert entry.decision == "partial"


def test_subject_refs_are_audit_pseudonyms(gw: Gateway) -> None:
    # given
    cid, _ = _granted(gw)

    # when
    response = gw.post(BY_ID, variables={"id": gw.pseudonym(cid)})

    # then: neither the internal id nor the id the app was given
    [subject] = gw.audit_entry(response.headers["X-Request-Id"]).subjects
    assert subject["ref"] == gw.audit_ref(cid)
    assert subject["ref"] not in (str(cid), gw.pseudonym(cid, "marketing"))


def test_skipped_fields_are_not_audited_as_read(gw: Gateway) -> None:
    # given
    cid, values = _granted(gw)

    # when
    response = gw.post(DIRECTIVES, variables={"id": gw.pseudonym(cid), "withEmail": False})

    # then
    assert response.json() == {"data": {"customer": {"city": values["city"]}}}
    entry = gw.audit_entry(response.headers["X-Request-Id"])
    assert entry.detail["fields"] == {"city": "ALLOWED"}


def test_included_fields_are_audited_as_read(gw: Gateway) -> None:
    # given
    cid, values = _granted(gw)

    # when
    response = gw.post(DIRECTIVES, variables={"id": gw.pseudonym(cid), "withEmail": True})

    # then
    assert response.json() == {"data": {"customer": {"email": values["email"],
                                                     "city": values["city"]}}}
    entry = gw.audit_entry(response.headers["X-Request-Id"])
    assert entry.detail["fields"] == {"email": "ALLOWED", "city": "ALLOWED"}


def test_fields_selected_through_fragments_are_audited(gw: Gateway) -> None:
    # given
    cid, _ = _granted(gw)

    # when
    response = gw.post(FRAGMENTS, variables={"id": gw.pseudonym(cid)})

    # then
    entry = gw.audit_entry(response.headers["X-Request-Id"])
    assert entry.detail["fields"] == {"firstName": "ALLOWED", "lastName": "ALLOWED",
                                      "email": "ALLOWED"}


def test_refused_search_is_audited_as_denied(gw: Gateway) -> None:
    # given
    _, values = add_person(gw)

    # when
    response = gw.post(BY_EMAIL, app="analytics", purpose="analytics",
                       variables={"email": values["email"]})

    # then
    entry = gw.audit_entry(response.headers["X-Request-Id"])
    assert entry.subjects == []
    assert entry.detail["errors"] == {"POLICY_DENIED": 1}
    assert entry.decision == "deny"
    assert values["email"] not in audit_text(entry)


def test_entry_holds_no_personal_values(gw: Gateway) -> None:
    # given
    cid, values = _granted(gw)

    # when
    response = gw.post(EVERYTHING, variables={"id": gw.pseudonym(cid)})

    # then
    assert values["email"] in response.text  # the read itself did reveal it
    row = audit_text(gw.audit_entry(response.headers["X-Request-Id"]))
    for secret in (*secrets_of(values), values["loyalty_card"], values["city"]):
        assert secret not in row


def test_failing_audit_fails_the_read(fresh_gateway: Gateway) -> None:
    # given
    gw = fresh_gateway
    cid, values = _granted(gw, city=unique("Auditless"))
    _break_audit(gw)

    # when
    response = gw.post(BY_ID, variables={"id": gw.pseudonym(cid)})

    # then
    assert response.status_code == 503
    body = response.json()
    assert "data" not in body
    assert [e["extensions"]["code"] for e in body["errors"]] == ["AUDIT_UNAVAILABLE"]
    for secret in secrets_of(values):
        assert secret not in response.text
    assert audit_count(gw, response.headers["X-Request-Id"]) == 0


def test_failing_audit_fails_a_list_read(fresh_gateway: Gateway) -> None:
    # given
    gw = fresh_gateway
    _, values = _granted(gw)
    _break_audit(gw)

    # when
    response = gw.post(IN_CITY, variables={"city": values["city"]})

    # then
    assert response.status_code == 503
    assert response.json() == {"errors": [{
        "message": "the request could not be audited, so it was not answered; retry later",
        "extensions": {"code": "AUDIT_UNAVAILABLE"},
    }]}


REFUSED_SEARCH = '{ customers(filter: {email: "someone@example.org"}) { nodes { id } } }'


def test_a_refused_search_is_audited_under_its_operation(gw: Gateway) -> None:
    # given an analytics app, which may not search by email
    # when
    response = gw.post(REFUSED_SEARCH, app="analytics", purpose="analytics")
    # then
    entry = gw.audit_entry(response.headers["X-Request-Id"])
    assert entry.operation == "customers"
    assert entry.decision == "deny"
    assert entry.detail["errors"] == {"POLICY_DENIED": 1}
    assert "someone@example.org" not in str(tuple(entry))
