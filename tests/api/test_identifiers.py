"""Identifiers leave raw only where the purpose reveals them; else pseudonymized or masked."""

from __future__ import annotations

import re

from tests.api.support import Json, add_person, unique
from tests.harness import Gateway

IDENTIFIERS = "query($id: ID!) { customer(id: $id) { email phone loyaltyCardNumber } }"
EMAIL_AND_PHONE = "query($id: ID!) { customer(id: $id) { email phone } }"
EMAIL = "query($id: ID!) { customer(id: $id) { email } }"
PHONE = "+447912345678"
EMAIL_PSEUDONYM = re.compile(r"^email_[0-9a-f]{32}$")
PHONE_PSEUDONYM = re.compile(r"^phone_[0-9a-f]{32}$")


def _masked_email(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local[0]}***@{domain}"


def _identifiers(gw: Gateway, cid: int, app: str, purpose: str) -> Json:
    response = gw.post(IDENTIFIERS, app=app, purpose=purpose,
                       variables={"id": gw.pseudonym(cid, app)})
    body = response.json()
    assert "errors" not in body, body
    customer: Json = body["data"]["customer"]
    return customer


def _analytics_email(gw: Gateway, cid: int, app: str) -> str:
    body = gw.post(EMAIL, app=app, purpose="analytics",
                   variables={"id": gw.pseudonym(cid, app)}).json()
    return str(body["data"]["customer"]["email"])


def test_marketing_email_reveals_email_and_masks_phone(gw: Gateway) -> None:
    # given
    cid, values = add_person(gw, phone=PHONE, loyalty_card="1234567890123456")
    gw.consent(cid, "marketing_email")

    # when
    seen = _identifiers(gw, cid, "marketing", "marketing_email")

    # then
    assert seen == {
        "email": values["email"],
        "phone": "+**********78",
        "loyaltyCardNumber": "************3456",
    }


def test_marketing_sms_reveals_phone_and_masks_email(gw: Gateway) -> None:
    # given
    cid, values = add_person(gw, phone=PHONE)
    gw.consent(cid, "marketing_sms")

    # when
    seen = _identifiers(gw, cid, "marketing", "marketing_sms")

    # then
    assert seen["phone"] == PHONE
    assert seen["email"] == _masked_email(values["email"])


def test_analytics_sees_keyed_pseudonyms(gw: Gateway) -> None:
    # given
    cid, values = add_person(gw)

    # when
    seen = gw.post(
        EMAIL_AND_PHONE, app="analytics",
        purpose="analytics", variables={"id": gw.pseudonym(cid, "analytics")},
    ).json()["data"]["customer"]

    # then
    assert EMAIL_PSEUDONYM.match(seen["email"])
    assert PHONE_PSEUDONYM.match(seen["phone"])
    assert values["email"] not in seen.values()
    assert values["phone"] not in seen.values()


def test_analytics_pseudonym_is_stable_for_one_app(gw: Gateway) -> None:
    # given
    cid, _ = add_person(gw)

    # when
    first = _analytics_email(gw, cid, "analytics")
    second = _analytics_email(gw, cid, "analytics")

    # then
    assert first == second


def test_analytics_pseudonym_differs_between_apps(gw: Gateway) -> None:
    # given
    other = unique("analytics-two").lower()
    gw.add_app("analytics", other)
    cid, _ = add_person(gw)

    # when
    first = _analytics_email(gw, cid, "analytics")
    second = _analytics_email(gw, cid, other)

    # then
    assert EMAIL_PSEUDONYM.match(first) and EMAIL_PSEUDONYM.match(second)
    assert first != second


def test_analytics_pseudonym_ignores_email_case(gw: Gateway) -> None:
    # given: an address written in capitals (one customer per address: the email is unique)
    email = f"{unique('case')}@people.example"
    upper, _ = add_person(gw, email=email.upper())
    pseudonyms = gw.services.pseudonyms.for_app(gw.callers["analytics"].app_id)

    # when
    seen = _analytics_email(gw, upper, "analytics")

    # then: the pseudonym of the address as typed in lower case
    assert seen == pseudonyms.identifier("email", email)


def test_support_sees_masked_email_and_phone(gw: Gateway) -> None:
    # given
    cid, values = add_person(gw, phone=PHONE)

    # when
    seen = gw.post(EMAIL_AND_PHONE, app="support",
                   purpose="support", variables={"id": gw.pseudonym(cid, "support")}).json()

    # then
    assert seen == {"data": {"customer": {"email": _masked_email(values["email"]),
                                          "phone": "+**********78"}}}


def test_call_center_sees_raw_phone_and_masked_email(gw: Gateway) -> None:
    # given
    cid, values = add_person(gw, phone=PHONE)

    # when
    seen = gw.post(EMAIL_AND_PHONE, app="call_center",
                   purpose="support", variables={"id": gw.pseudonym(cid, "call_center")}).json()

    # then
    assert seen == {"data": {"customer": {"email": _masked_email(values["email"]),
                                          "phone": PHONE}}}


def test_compliance_officer_sees_masked_identifiers(gw: Gateway) -> None:
    # given
    cid, values = add_person(gw, phone=PHONE)

    # when
    seen = _identifiers(gw, cid, "compliance_officer", "compliance_audit")

    # then
    assert seen["email"] == _masked_email(values["email"])
    assert seen["phone"] == "+**********78"
    assert seen["loyaltyCardNumber"] == "*" * 12 + values["loyalty_card"][-4:]


def test_linkage_sees_raw_identifiers(gw: Gateway) -> None:
    # given
    cid, values = add_person(gw, phone=PHONE)

    # when
    seen = _identifiers(gw, cid, "linkage", "identity_resolution")

    # then
    assert seen == {"email": values["email"], "phone": PHONE,
                    "loyaltyCardNumber": values["loyalty_card"]}


STREET = "query($id: ID!) { customer(id: $id) { street } }"
ADDRESS_PSEUDONYM = re.compile(r"^address_[0-9a-f]{32}$")


def _street(gw: Gateway, cid: int, app: str, purpose: str) -> object:
    body = gw.post(STREET, app=app, purpose=purpose, variables={"id": gw.pseudonym(cid, app)}).json()
    assert "errors" not in body, body
    return body["data"]["customer"]["street"]


def test_a_street_address_is_an_identifier_too(gw: Gateway) -> None:
    # given
    cid, values = add_person(gw)

    # when
    for_service = _street(gw, cid, "support", "service")
    for_support = _street(gw, cid, "support", "support")
    for_analytics = _street(gw, cid, "analytics", "analytics")

    # then: in the clear only where the purpose needs it (delivering orders)
    assert for_service == values["street"]
    assert for_support == "***"
    assert isinstance(for_analytics, str) and ADDRESS_PSEUDONYM.match(for_analytics)
