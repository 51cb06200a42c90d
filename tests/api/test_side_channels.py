"""No side channel: a field that may not be read cannot be searched, sorted or counted either."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.api.support import Json, add_person, codes, errors_by_path, secrets_of, unique
from tests.harness import Gateway

BY_EMAIL = (
    "query($email: String!) "
    "{ customers(filter: {email: $email}) { totalCount nodes { id } } }"
)
BY_PHONE = (
    "query($phone: String!) "
    "{ customers(filter: {phone: $phone}) { totalCount nodes { id } } }"
)
BY_CITY = (
    "query($city: String!) { customers(filter: {city: $city}) "
    "{ totalCount nodes { id firstName } } }"
)
SORTED = (
    "query($field: CustomerSortField!, $city: String) "
    "{ customers(filter: {city: $city}, orderBy: {field: $field}) { nodes { id } } }"
)
CUSTOMER = (
    "query($id: ID!) { customer(id: $id) { id firstName lastName email phone street city "
    "orders { number } consents { purpose status } } }"
)
FRAGMENTS = (
    "query($id: ID!) { customer(id: $id) { ...Names ... on Customer { email phone } } } "
    "fragment Names on Customer { firstName lastName }"
)
LIST_ALL_FIELDS = (
    "query($city: String!) { customers(filter: {city: $city}) "
    "{ nodes { id firstName lastName email phone } } }"
)


def _assert_refused(body: Json, field: str) -> None:
    assert body["data"] is None
    [error] = body["errors"]
    assert error["path"] == ["customers"]
    assert error["extensions"] == {"code": "POLICY_DENIED", "field": field}


def test_analytics_cannot_filter_by_email(gw: Gateway) -> None:
    # given: an address that exists
    _, values = add_person(gw)

    # when
    response = gw.post(BY_EMAIL, app="analytics", purpose="analytics",
                       variables={"email": values["email"]})

    # then
    _assert_refused(response.json(), "email")


def test_refused_filter_answers_alike_for_known_and_unknown_values(gw: Gateway) -> None:
    # given
    _, values = add_person(gw)

    # when
    known = gw.post(BY_EMAIL, app="analytics", purpose="analytics",
                    variables={"email": values["email"]}).json()
    unknown = gw.post(BY_EMAIL, app="analytics", purpose="analytics",
                      variables={"email": f"{unique('nobody')}@people.example"}).json()

    # then
    assert known == unknown


def test_support_cannot_filter_by_masked_email(gw: Gateway) -> None:
    # given: support may read email, but only masked
    _cid, values = add_person(gw)

    # when
    response = gw.post(BY_EMAIL, app="support", purpose="support",
                       variables={"email": values["email"]})

    # then
    _assert_refused(response.json(), "email")


def test_support_cannot_filter_by_masked_phone(gw: Gateway) -> None:
    # given
    _, values = add_person(gw)

    # when
    response = gw.post(BY_PHONE, app="support", purpose="support",
                       variables={"phone": values["phone"]})

    # then
    _assert_refused(response.json(), "phone")


def test_call_center_may_filter_by_revealed_phone(gw: Gateway) -> None:
    # given: call_center sees the phone in the clear for support
    cid, values = add_person(gw)

    # when
    response = gw.post(BY_PHONE, app="call_center", purpose="support",
                       variables={"phone": values["phone"]})

    # then
    body = response.json()
    assert "errors" not in body
    assert body["data"]["customers"] == {"totalCount": 1,
                                         "nodes": [{"id": gw.pseudonym(cid, "call_center")}]}


def test_marketing_sms_cannot_filter_by_email(gw: Gateway) -> None:
    # given: the sms purpose reveals the phone only
    cid, values = add_person(gw)
    gw.consent(cid, "marketing_sms")

    # when
    response = gw.post(BY_EMAIL, app="marketing", purpose="marketing_sms",
                       variables={"email": values["email"]})

    # then
    _assert_refused(response.json(), "email")


def test_names_are_not_offered_as_a_sort_order(gw: Gateway) -> None:
    # given: names are stored encrypted, so no sort by them exists, for anyone
    field = "LAST_NAME"

    # when
    response = gw.post(SORTED, purpose="service", variables={"field": field})

    # then: refused before execution, with a code, and nothing about any customer
    body = response.json()
    assert "data" not in body or body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_REQUEST"]


def test_marketing_sms_cannot_sort_by_total_spent(gw: Gateway) -> None:
    # given: transactions are not part of the sms purpose
    field = "TOTAL_SPENT"

    # when
    response = gw.post(SORTED, app="marketing", purpose="marketing_sms", variables={"field": field})

    # then
    _assert_refused(response.json(), "totalSpent")


def test_count_of_a_search_counts_only_allowed_customers(gw: Gateway) -> None:
    # given: one city, three customers, only one of whom allows marketing email
    granted, values = add_person(gw)
    add_person(gw, city=values["city"])  # never consented
    restricted, _ = add_person(gw, city=values["city"])
    gw.consent(granted, "marketing_email")
    gw.consent(restricted, "marketing_email")
    gw.preference(restricted, "restriction", "processing", "on")

    # when
    response = gw.post(BY_CITY, variables={"city": values["city"]})

    # then
    body = response.json()
    assert "errors" not in body
    assert body["data"]["customers"] == {
        "totalCount": 1,
        "nodes": [{"id": gw.pseudonym(granted), "firstName": values["first_name"]}],
    }


def test_filter_on_allowed_field_hides_non_consenting_customer(gw: Gateway) -> None:
    # given
    _, values = add_person(gw)

    # when
    response = gw.post(BY_CITY, variables={"city": values["city"]})

    # then
    assert response.json() == {"data": {"customers": {"totalCount": 0, "nodes": []}}}


def test_filter_on_allowed_field_hides_objecting_customer(gw: Gateway) -> None:
    # given
    cid, values = add_person(gw)
    gw.consent(cid, "marketing_email")
    gw.preference(cid, "objection", "direct_marketing", "on")

    # when
    response = gw.post(BY_CITY, variables={"city": values["city"]})

    # then
    assert response.json() == {"data": {"customers": {"totalCount": 0, "nodes": []}}}


def test_revealed_email_filter_hides_non_consenting_customer(gw: Gateway) -> None:
    # given: marketing_email may search by email, but this customer did not consent
    _, values = add_person(gw)

    # when
    response = gw.post(BY_EMAIL, variables={"email": values["email"]})

    # then
    assert response.json() == {"data": {"customers": {"totalCount": 0, "nodes": []}}}


def test_revealed_email_filter_finds_consenting_customer(gw: Gateway) -> None:
    # given
    cid, values = add_person(gw)
    gw.consent(cid, "marketing_email")

    # when: the address as a person might type it
    response = gw.post(BY_EMAIL, variables={"email": f"  {values['email'].upper()} "})

    # then
    assert response.json() == {"data": {"customers": {"totalCount": 1,
                                                      "nodes": [{"id": gw.pseudonym(cid)}]}}}


def test_sorted_listing_hides_non_consenting_customers(gw: Gateway) -> None:
    # given
    granted, values = add_person(gw)
    add_person(gw, city=values["city"])
    gw.consent(granted, "marketing_email")

    # when
    response = gw.post(SORTED, variables={"field": "CUSTOMER_SINCE", "city": values["city"]})

    # then
    assert response.json() == {"data": {"customers": {"nodes": [{"id": gw.pseudonym(granted)}]}}}


def _not_consented(gw: Gateway, cid: int) -> None:
    gw.consent(cid, "marketing_email", "deny")


def _objected(gw: Gateway, cid: int) -> None:
    gw.consent(cid, "marketing_email")
    gw.preference(cid, "objection", "direct_marketing", "on")


def _restricted(gw: Gateway, cid: int) -> None:
    gw.consent(cid, "marketing_email")
    gw.preference(cid, "restriction", "processing", "on")


@pytest.mark.parametrize(
    ("arrange", "code"),
    [(_not_consented, "CONSENT_REQUIRED"), (_objected, "OBJECTED"), (_restricted, "RESTRICTED")],
    ids=["consent", "objection", "restriction"],
)
def test_denied_reads_never_carry_personal_values(
    gw: Gateway, arrange: Callable[[Gateway, int], None], code: str
) -> None:
    # given
    cid, values = add_person(gw)
    arrange(gw, cid)

    # when
    response = gw.post(CUSTOMER, variables={"id": gw.pseudonym(cid)})

    # then
    assert set(codes(response.json())) == {code}
    for secret in secrets_of(values):
        assert secret not in response.text


def test_policy_denied_fields_never_carry_personal_values(gw: Gateway) -> None:
    # given: analytics may not read names, and sees email and phone only as pseudonyms
    _, values = add_person(gw)

    # when
    response = gw.post(LIST_ALL_FIELDS, app="analytics", purpose="analytics",
                       variables={"city": values["city"]})

    # then
    body = response.json()
    assert set(errors_by_path(body).values()) == {"POLICY_DENIED"}
    for key in ("first_name", "last_name", "email", "phone"):
        assert values[key] not in response.text


def test_refused_search_never_carries_personal_values(gw: Gateway) -> None:
    # given
    _, values = add_person(gw)

    # when
    response = gw.post(BY_EMAIL, app="analytics", purpose="analytics",
                       variables={"email": values["email"]})

    # then: not even the searched value comes back
    for secret in secrets_of(values):
        assert secret not in response.text


def test_fragments_do_not_bypass_withholding(gw: Gateway) -> None:
    # given
    cid, values = add_person(gw)

    # when
    response = gw.post(FRAGMENTS, variables={"id": gw.pseudonym(cid)})

    # then
    body = response.json()
    assert body["data"] == {"customer": dict.fromkeys(("firstName", "lastName", "email", "phone"))}
    assert set(errors_by_path(body)) == {("customer", name)
                                         for name in ("firstName", "lastName", "email", "phone")}
    for secret in secrets_of(values):
        assert secret not in response.text
