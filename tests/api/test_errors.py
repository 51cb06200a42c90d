"""Bad requests get a stable code; unexpected failures are masked."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from gateway.consent.tables import consent_events
from gateway.profile import service as profile_service
from tests.api.support import Json, add_person, codes, errors_by_path, post_raw
from tests.harness import Gateway

TYPENAME = "{ __typename }"
IN_CITY = "query($city: String!) { customers(filter: {city: $city}) { nodes { id firstName } } }"
CUSTOMER = "query($id: ID!) { customer(id: $id) { id firstName } }"
PAGE = "query($first: Int) { customers(first: $first) { nodes { id } } }"
FILTERED = "query($filter: CustomerFilter) { customers(filter: $filter) { nodes { id } } }"
MISSPELLED_FIELD = "{ customers(first: 1) { nodes { id firstNam emial } } }"
UNKNOWN_ROOT = "{ customerz { id } }"


def _bad_request(body: Json) -> str:
    assert "data" not in body
    [error] = body["errors"]
    assert error["extensions"] == {"code": "BAD_REQUEST"}
    return str(error["message"])


def test_invalid_json_is_bad_request(gw: Gateway) -> None:
    # given
    content = b'{"query": "{ __typename }"'

    # when
    response = post_raw(gw, content)

    # then
    assert response.status_code == 400
    _bad_request(response.json())


@pytest.mark.parametrize(
    "content",
    [b"[]", b'"{ __typename }"', b"{}", b'{"query": 5}',
     b'{"query": "{ __typename }", "variables": []}',
     b'{"query": "{ __typename }", "operationName": 5}'],
    ids=["array", "string", "no-query", "query-not-string", "variables-not-object",
         "operation-not-string"],
)
def test_malformed_payload_is_bad_request(gw: Gateway, content: bytes) -> None:
    # given
    headers = {"Content-Type": "application/json"}

    # when
    response = post_raw(gw, content, headers=headers)

    # then
    assert response.status_code == 400
    _bad_request(response.json())


def test_get_is_method_not_allowed(gw: Gateway) -> None:
    # given
    headers = {"Authorization": f"Bearer {gw.keys['marketing']}"}

    # when
    response = gw.client.get("/graphql", params={"query": TYPENAME}, headers=headers)

    # then
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"
    _bad_request(response.json())


def test_syntax_error_is_bad_request(gw: Gateway) -> None:
    # given
    query = "{ customers(first: 1) { nodes { id }"

    # when
    response = gw.post(query)

    # then
    assert response.status_code == 200
    assert "Syntax Error" in _bad_request(response.json())


def test_unknown_field_has_no_suggestions(gw: Gateway) -> None:
    # given
    query = MISSPELLED_FIELD

    # when
    response = gw.post(query)

    # then
    body = response.json()
    assert "data" not in body
    assert codes(body) == ["BAD_REQUEST", "BAD_REQUEST"]
    assert "Did you mean" not in response.text
    assert "firstName" not in response.text
    assert "'email'" not in response.text


def test_unknown_root_field_has_no_suggestions(gw: Gateway) -> None:
    # given
    query = UNKNOWN_ROOT

    # when
    response = gw.post(query)

    # then
    message = _bad_request(response.json())
    assert "Did you mean" not in message
    assert "customers" not in message


def test_request_error_with_graphql_response_media_type_is_400(gw: Gateway) -> None:
    # given
    headers = {"Accept": "application/graphql-response+json"}

    # when
    response = gw.post(MISSPELLED_FIELD, headers=headers)

    # then
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("application/graphql-response+json")


def test_variable_of_wrong_type_is_bad_request_without_echo(gw: Gateway) -> None:
    # given: a customer's email sent where a number belongs
    _, values = add_person(gw)

    # when
    response = gw.post(PAGE, variables={"first": values["email"]})

    # then
    message = _bad_request(response.json())
    assert message == "Variable '$first' has an invalid value."
    assert values["email"] not in response.text


def test_missing_required_variable_is_bad_request(gw: Gateway) -> None:
    # given
    variables: dict[str, str] = {}

    # when
    response = gw.post(CUSTOMER, variables=variables)

    # then
    assert _bad_request(response.json()) == "Variable '$id' has an invalid value."


def test_unknown_filter_field_in_variables_is_bad_request(gw: Gateway) -> None:
    # given
    _, values = add_person(gw)

    # when
    response = gw.post(FILTERED, variables={"filter": {"lastName": values["last_name"]}})

    # then
    _bad_request(response.json())
    assert values["last_name"] not in response.text


@pytest.mark.parametrize("value", ["", "   ", "x" * 255])
def test_filter_value_out_of_bounds_is_invalid_input(gw: Gateway, value: str) -> None:
    # given
    variables = {"filter": {"city": value}}

    # when
    response = gw.post(FILTERED, variables=variables)

    # then
    body = response.json()
    assert body["data"] is None
    assert errors_by_path(body) == {("customers",): "INVALID_INPUT"}


def test_unexpected_exception_is_masked(gw: Gateway, monkeypatch: pytest.MonkeyPatch) -> None:
    # given
    def explode(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("secret detail")

    monkeypatch.setattr(profile_service, "list_customers", explode)

    # when
    response = gw.post(IN_CITY, variables={"city": "Anywhere"})

    # then
    assert response.status_code == 200
    body = response.json()
    assert "secret detail" not in response.text
    assert "RuntimeError" not in response.text
    assert body["errors"] == [{"message": "Unexpected error.", "path": ["customers"],
                               "extensions": {"code": "INTERNAL"}}]
    assert body["data"] is None


def test_unexpected_exception_is_audited_as_internal(
    gw: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given
    def explode(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("secret detail")

    monkeypatch.setattr(profile_service, "list_customers", explode)

    # when
    response = gw.post(IN_CITY, variables={"city": "Anywhere"})

    # then
    entry = gw.audit_entry(response.headers["X-Request-Id"])
    assert entry.detail["errors"] == {"INTERNAL": 1}
    assert entry.decision == "deny"
    assert "secret detail" not in str(entry._mapping)


UNKNOWN_ENUM_QUERY = "{ customers(orderBy: {field: LAST_ORDER_ATS}) { nodes { id } } }"


def test_validation_errors_never_suggest_names(gw: Gateway) -> None:
    # given a misspelt enum value, close to a real one
    # when
    response = gw.post(UNKNOWN_ENUM_QUERY)
    # then
    text = response.text
    assert "Did you mean" not in text
    assert "LAST_ORDER_AT\"" not in text and "LAST_ORDER_AT'" not in text


def test_several_operations_without_a_name_is_a_request_error(gw: Gateway) -> None:
    # given: a document with a query and a mutation (a withdrawal the call center may record)
    cid, _ = add_person(gw)
    gw.consent(cid, "marketing_email")
    token = gw.pseudonym(cid, "call_center")
    document = (
        "query A { purposes { name } } "
        "mutation B($id: ID!) { recordConsent(input: {customerId: $id, purpose: \"marketing_email\", "
        "noticeVersion: 2, action: \"withdraw\", sourceChannel: \"call_center\"}) { __typename } }"
    )
    sent = {"Authorization": f"Bearer {gw.keys['call_center']}", "X-Purpose": "support",
            "Accept": "application/graphql-response+json"}

    # when: it is sent without operationName, then naming the mutation
    unnamed = gw.client.post("/graphql", headers=sent, json={"query": document, "variables": {"id": token}})
    with gw.engine.connect() as conn:
        events_between = conn.execute(select(func.count()).select_from(consent_events).where(
            consent_events.c.customer_id == cid)).scalar_one()
    named = gw.client.post("/graphql", headers=sent, json={
        "query": document, "variables": {"id": token}, "operationName": "B"})

    # then: the first is refused as a request (400, no data) and nothing ran
    assert unnamed.status_code == 400
    assert "data" not in unnamed.json() and codes(unnamed.json()) == ["BAD_REQUEST"]
    assert events_between == 1
    # and (the control): naming the operation runs that one, and only that one
    assert named.json()["data"] == {"recordConsent": {"__typename": "RecordConsentSuccess"}}
