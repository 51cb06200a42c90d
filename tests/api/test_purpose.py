"""The declared purpose: required for personal data, known, and never echoed or stored raw."""

from __future__ import annotations

from tests.api.support import add_person, errors_by_path, unique
from tests.harness import Gateway

CUSTOMERS = "{ customers(first: 3) { nodes { id firstName email } } }"
CUSTOMER = "query($id: ID!) { customer(id: $id) { id firstName } }"
TYPENAME = "{ __typename }"


def test_personal_read_without_purpose_is_purpose_required(gw: Gateway) -> None:
    # given
    query = CUSTOMERS

    # when
    response = gw.post(query, purpose=None)

    # then
    body = response.json()
    assert response.status_code == 200
    assert body["data"] is None
    assert errors_by_path(body) == {("customers",): "PURPOSE_REQUIRED"}


def test_an_officer_reading_without_purpose_is_told_to_send_compliance_audit(gw: Gateway) -> None:
    # when: the compliance officer, and the marketing app as the control
    officer = gw.post(CUSTOMERS, app="compliance_officer", purpose=None).json()
    marketing = gw.post(CUSTOMERS, app="marketing", purpose=None).json()

    # then: each is told the purposes of its own role, and only those
    [error] = officer["errors"]
    assert error["extensions"]["code"] == "PURPOSE_REQUIRED"
    assert error["message"].endswith("; send X-Purpose: compliance_audit")
    [other] = marketing["errors"]
    assert "X-Purpose: marketing_email" in other["message"]
    assert "compliance_audit" not in other["message"]


def test_read_by_id_without_purpose_is_purpose_required(gw: Gateway) -> None:
    # given
    cid, _ = add_person(gw)
    gw.consent(cid, "marketing_email")

    # when
    response = gw.post(CUSTOMER, purpose=None, variables={"id": gw.pseudonym(cid)})

    # then
    body = response.json()
    assert body["data"] == {"customer": None}
    assert errors_by_path(body) == {("customer",): "PURPOSE_REQUIRED"}


def test_empty_purpose_header_is_purpose_required(gw: Gateway) -> None:
    # given
    query = CUSTOMERS

    # when
    response = gw.post(query, purpose="")

    # then
    assert errors_by_path(response.json()) == {("customers",): "PURPOSE_REQUIRED"}


def test_unknown_purpose_is_purpose_unknown(gw: Gateway) -> None:
    # given
    purpose = unique("world-domination")

    # when
    response = gw.post(CUSTOMERS, purpose=purpose)

    # then
    body = response.json()
    assert response.status_code == 200
    assert body["data"] is None
    assert errors_by_path(body) == {("customers",): "PURPOSE_UNKNOWN"}


def test_unknown_purpose_is_not_echoed(gw: Gateway) -> None:
    # given
    purpose = unique("secret-purpose")

    # when
    response = gw.post(CUSTOMERS, purpose=purpose)

    # then
    assert purpose not in response.text
    assert purpose not in str(response.headers)


def test_unknown_purpose_is_not_stored_in_the_audit(gw: Gateway) -> None:
    # given
    purpose = unique("secret-purpose")

    # when
    response = gw.post(CUSTOMERS, purpose=purpose)

    # then
    entry = gw.audit_entry(response.headers["X-Request-Id"])
    assert entry.purpose is None
    assert purpose not in str(entry._mapping)


def test_long_unknown_purpose_is_refused_not_failed(gw: Gateway) -> None:
    # given: longer than the audit's purpose column; storing it would fail the request
    purpose = "x" * 200

    # when
    response = gw.post(CUSTOMERS, purpose=purpose)

    # then
    assert response.status_code == 200
    assert errors_by_path(response.json()) == {("customers",): "PURPOSE_UNKNOWN"}
    assert gw.audit_entry(response.headers["X-Request-Id"]).purpose is None


def test_purpose_names_are_case_sensitive(gw: Gateway) -> None:
    # given
    purpose = "MARKETING_EMAIL"

    # when
    response = gw.post(CUSTOMERS, purpose=purpose)

    # then
    assert errors_by_path(response.json()) == {("customers",): "PURPOSE_UNKNOWN"}


def test_query_without_personal_data_needs_no_purpose(gw: Gateway) -> None:
    # given
    query = TYPENAME

    # when
    response = gw.post(query, purpose=None)

    # then
    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}
