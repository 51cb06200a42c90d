"""Nested lists (orders, interactions, consents, sources) follow the same rules as fields."""

from __future__ import annotations

from tests.api.support import add_interaction, add_person, add_source, errors_by_path, unique
from tests.harness import Gateway

NESTED = (
    "query($id: ID!) { customer(id: $id) { id "
    "orders { number status total currency } "
    "interactions { kind channel campaign } "
    "consents { purpose status noticeVersion } "
    "sources { source linkMethod linkConfidence } } }"
)
CONSENTS = "query($id: ID!) { customer(id: $id) { consents { purpose status } } }"
SOURCES_IN_CITY = (
    "query($city: String!) { customers(filter: {city: $city}) "
    "{ nodes { city sources { source } orders { number } } } }"
)
ORDERS = "query($id: ID!) { customer(id: $id) { firstName orders { number } } }"
MARKETING_PURPOSES = {
    "marketing_email", "marketing_sms", "marketing_push", "ads_audience", "profiling",
}


def test_lists_appear_for_an_allowed_customer(gw: Gateway) -> None:
    # given
    cid, _ = add_person(gw)
    gw.consent(cid, "marketing_email")
    campaign = unique("spring")
    add_interaction(gw, cid, campaign=campaign)
    add_source(gw, cid, source="loyalty")

    # when
    body = gw.post(NESTED, variables={"id": gw.pseudonym(cid)}).json()

    # then
    assert "errors" not in body
    customer = body["data"]["customer"]
    [order] = customer["orders"]
    assert (order["status"], order["total"], order["currency"]) == ("delivered", "49.99", "GBP")
    assert customer["interactions"] == [{"kind": "email_open", "channel": "email",
                                         "campaign": campaign}]
    assert customer["consents"] == [{"purpose": "marketing_email", "status": "granted",
                                     "noticeVersion": 2}]
    assert customer["sources"] == [{"source": "loyalty", "linkMethod": "deterministic",
                                    "linkConfidence": 1.0}]


def test_lists_are_empty_not_null_when_there_is_nothing(gw: Gateway) -> None:
    # given: no interactions, no sources
    cid, _ = add_person(gw)
    gw.consent(cid, "marketing_email")

    # when
    body = gw.post(NESTED, variables={"id": gw.pseudonym(cid)}).json()

    # then
    customer = body["data"]["customer"]
    assert customer["interactions"] == []
    assert customer["sources"] == []


def test_consents_show_the_status_of_each_own_purpose(gw: Gateway) -> None:
    # given
    cid, _ = add_person(gw)
    gw.consent(cid, "marketing_email")
    gw.consent(cid, "marketing_sms", version=1)
    gw.consent(cid, "marketing_push", "grant")
    gw.consent(cid, "marketing_push", "withdraw")
    gw.consent(cid, "ads_audience", "deny")

    # when
    body = gw.post(CONSENTS, variables={"id": gw.pseudonym(cid)}).json()

    # then
    assert sorted(body["data"]["customer"]["consents"], key=lambda c: c["purpose"]) == [
        {"purpose": "ads_audience", "status": "denied"},
        {"purpose": "marketing_email", "status": "granted"},
        {"purpose": "marketing_push", "status": "withdrawn"},
        {"purpose": "marketing_sms", "status": "superseded"},
    ]


def test_consents_list_only_the_roles_own_purposes(gw: Gateway) -> None:
    # given: ledger entries for purposes marketing has no rules for
    cid, _ = add_person(gw)
    gw.consent(cid, "marketing_email")
    gw.consent(cid, "ads_audience")
    for foreign in ("analytics", "support", "compliance_audit", "identity_resolution"):
        gw.consent(cid, foreign)

    # when
    body = gw.post(CONSENTS, variables={"id": gw.pseudonym(cid)}).json()

    # then
    purposes = {c["purpose"] for c in body["data"]["customer"]["consents"]}
    assert purposes == {"marketing_email", "ads_audience"}
    assert purposes <= MARKETING_PURPOSES


def test_support_does_not_see_marketing_consents(gw: Gateway) -> None:
    # given
    cid, _ = add_person(gw)
    gw.consent(cid, "marketing_email")
    gw.consent(cid, "marketing_sms")

    # when
    body = gw.post(CONSENTS, app="support", purpose="support",
                   variables={"id": gw.pseudonym(cid, "support")}).json()

    # then
    assert body == {"data": {"customer": {"consents": []}}}


def test_policy_denied_list_is_null_with_error_at_its_path(gw: Gateway) -> None:
    # given: sources are identity data, which analytics may not use
    _, values = add_person(gw)

    # when
    body = gw.post(SOURCES_IN_CITY, app="analytics", purpose="analytics",
                   variables={"city": values["city"]}).json()

    # then
    [node] = body["data"]["customers"]["nodes"]
    assert node["sources"] is None
    assert node["city"] == values["city"]
    assert len(node["orders"]) == 1
    assert errors_by_path(body) == {("customers", "nodes", 0, "sources"): "POLICY_DENIED"}


def test_list_outside_the_purpose_is_policy_denied(gw: Gateway) -> None:
    # given: orders (transactions) are not part of the sms purpose
    cid, values = add_person(gw)
    gw.consent(cid, "marketing_sms")

    # when
    body = gw.post(ORDERS, purpose="marketing_sms", variables={"id": gw.pseudonym(cid)}).json()

    # then
    assert body["data"]["customer"] == {"firstName": values["first_name"], "orders": None}
    assert errors_by_path(body) == {("customer", "orders"): "POLICY_DENIED"}


def test_list_of_non_consenting_customer_is_null_with_error(gw: Gateway) -> None:
    # given
    cid, _ = add_person(gw)

    # when
    body = gw.post(ORDERS, variables={"id": gw.pseudonym(cid)}).json()

    # then
    assert body["data"]["customer"] == {"firstName": None, "orders": None}
    assert errors_by_path(body) == {("customer", "firstName"): "CONSENT_REQUIRED",
                                    ("customer", "orders"): "CONSENT_REQUIRED"}


def test_list_of_restricted_customer_is_null_with_error(gw: Gateway) -> None:
    # given
    cid, _ = add_person(gw)
    gw.consent(cid, "marketing_email")
    gw.preference(cid, "restriction", "processing", "on")

    # when
    body = gw.post(ORDERS, variables={"id": gw.pseudonym(cid)}).json()

    # then
    assert body["data"]["customer"] == {"firstName": None, "orders": None}
    assert errors_by_path(body)[("customer", "orders")] == "RESTRICTED"


def test_sources_never_expose_source_ids(gw: Gateway) -> None:
    # given
    cid, _ = add_person(gw)
    gw.consent(cid, "marketing_email")
    source_id = add_source(gw, cid)

    # when
    response = gw.post(NESTED, variables={"id": gw.pseudonym(cid)})

    # then
    assert response.json()["data"]["customer"]["sources"]
    assert source_id not in response.text
