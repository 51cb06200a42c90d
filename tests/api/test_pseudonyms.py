"""Ids are pseudonyms made for each app: stable for it, meaningless to every other."""

from __future__ import annotations

import pytest

from tests.api.support import Json, add_person, errors_by_path, unique
from tests.harness import Gateway

CUSTOMER = "query($id: ID!) { customer(id: $id) { id city } }"
IN_CITY = "query($city: String!) { customers(filter: {city: $city}) { nodes { id city } } }"


def _ids_in_city(gw: Gateway, city: str, app: str, purpose: str) -> list[str]:
    body = gw.post(IN_CITY, app=app, purpose=purpose, variables={"city": city}).json()
    return [node["id"] for node in body["data"]["customers"]["nodes"]]


def _assert_not_found(body: Json) -> None:
    assert body["data"] == {"customer": None}
    assert errors_by_path(body) == {("customer",): "NOT_FOUND"}


def test_same_customer_has_different_ids_for_two_apps(gw: Gateway) -> None:
    # given
    cid, values = add_person(gw)
    gw.consent(cid, "marketing_email")

    # when
    [for_marketing] = _ids_in_city(gw, values["city"], "marketing", "marketing_email")
    [for_analytics] = _ids_in_city(gw, values["city"], "analytics", "analytics")

    # then
    assert for_marketing == gw.pseudonym(cid, "marketing")
    assert for_analytics == gw.pseudonym(cid, "analytics")
    assert for_marketing != for_analytics
    assert str(cid) not in (for_marketing, for_analytics)


def test_two_apps_of_the_same_role_get_different_ids(gw: Gateway) -> None:
    # given
    other = unique("marketing-two").lower()
    gw.add_app("marketing", other)
    cid, values = add_person(gw)
    gw.consent(cid, "marketing_email")

    # when
    [first] = _ids_in_city(gw, values["city"], "marketing", "marketing_email")
    [second] = _ids_in_city(gw, values["city"], other, "marketing_email")

    # then
    assert first != second


def test_id_is_stable_across_requests(gw: Gateway) -> None:
    # given
    cid, values = add_person(gw)
    gw.consent(cid, "marketing_email")

    # when
    first = _ids_in_city(gw, values["city"], "marketing", "marketing_email")
    second = _ids_in_city(gw, values["city"], "marketing", "marketing_email")

    # then
    assert first == second == [gw.pseudonym(cid)]


def test_id_is_stable_across_purposes_of_one_app(gw: Gateway) -> None:
    # given
    cid, values = add_person(gw)
    gw.consent(cid, "marketing_email")
    gw.consent(cid, "marketing_sms")

    # when
    by_email = _ids_in_city(gw, values["city"], "marketing", "marketing_email")
    by_sms = _ids_in_city(gw, values["city"], "marketing", "marketing_sms")

    # then
    assert by_email == by_sms


def test_own_id_finds_the_customer(gw: Gateway) -> None:
    # given
    cid, values = add_person(gw)
    gw.consent(cid, "marketing_email")

    # when
    body = gw.post(CUSTOMER, variables={"id": gw.pseudonym(cid, "marketing")}).json()

    # then
    assert body == {"data": {"customer": {"id": gw.pseudonym(cid), "city": values["city"]}}}


def test_id_made_for_another_app_is_not_found(gw: Gateway) -> None:
    # given
    cid, _ = add_person(gw)
    gw.consent(cid, "marketing_email")
    analytics_id = gw.pseudonym(cid, "analytics")

    # when
    body = gw.post(CUSTOMER, app="marketing", variables={"id": analytics_id}).json()

    # then
    _assert_not_found(body)


def test_id_made_for_another_app_of_the_same_role_is_not_found(gw: Gateway) -> None:
    # given
    other = unique("marketing-three").lower()
    gw.add_app("marketing", other)
    cid, _ = add_person(gw)
    gw.consent(cid, "marketing_email")

    # when
    body = gw.post(CUSTOMER, app=other, variables={"id": gw.pseudonym(cid, "marketing")}).json()

    # then
    _assert_not_found(body)


@pytest.mark.parametrize(
    "token",
    ["garbage", "", "c_", "c_AAAA", "c_" + "A" * 43, "c_!!!!", "1", "c_1"],
    ids=["word", "empty", "prefix-only", "short", "forged", "not-base64", "internal-id",
         "prefixed-internal-id"],
)
def test_garbage_id_is_not_found(gw: Gateway, token: str) -> None:
    # given
    query = CUSTOMER

    # when
    body = gw.post(query, variables={"id": token}).json()

    # then
    _assert_not_found(body)


def test_internal_id_is_not_accepted(gw: Gateway) -> None:
    # given
    cid, _ = add_person(gw)
    gw.consent(cid, "marketing_email")

    # when
    body = gw.post(CUSTOMER, variables={"id": str(cid)}).json()

    # then
    _assert_not_found(body)


def test_valid_pseudonym_of_a_missing_customer_is_not_found(gw: Gateway) -> None:
    # given
    token = gw.pseudonym(2_000_000_000)

    # when
    body = gw.post(CUSTOMER, variables={"id": token}).json()

    # then
    _assert_not_found(body)


def test_not_found_does_not_echo_the_id(gw: Gateway) -> None:
    # given
    cid, _ = add_person(gw)
    foreign = gw.pseudonym(cid, "analytics")

    # when
    response = gw.post(CUSTOMER, variables={"id": foreign})

    # then
    [error] = response.json()["errors"]
    assert error["message"] == "no customer with this id"
    assert foreign not in response.text
    assert foreign[2:] not in response.text


def test_not_found_answers_alike_for_foreign_and_garbage_ids(gw: Gateway) -> None:
    # given
    cid, _ = add_person(gw)
    gw.consent(cid, "marketing_email")

    # when
    foreign = gw.post(CUSTOMER, variables={"id": gw.pseudonym(cid, "analytics")}).json()
    garbage = gw.post(CUSTOMER, variables={"id": "c_" + "B" * 43}).json()

    # then: nothing tells a real customer of another app from noise
    assert foreign == garbage
