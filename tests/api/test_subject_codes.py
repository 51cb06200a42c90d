"""The data subject's side: consent, objection and restriction, each with its own code."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.api.support import Json, add_person, errors_by_path
from tests.harness import Gateway

CUSTOMER = "query($id: ID!) { customer(id: $id) { id firstName email city } }"
WANTED = ("firstName", "email", "city")


def _read(gw: Gateway, cid: int, app: str = "marketing", purpose: str = "marketing_email") -> Json:
    response = gw.post(CUSTOMER, app=app, purpose=purpose, variables={"id": gw.pseudonym(cid, app)})
    assert response.status_code == 200
    body: Json = response.json()
    return body


def _assert_withheld(body: Json, code: str) -> None:
    customer = body["data"]["customer"]
    assert customer["id"]  # the customer is there; its data is not
    assert all(customer[name] is None for name in WANTED)
    assert errors_by_path(body) == {("customer", name): code for name in WANTED}
    assert all(e["extensions"] == {"code": code} for e in body["errors"])


def _assert_readable(body: Json, values: Json) -> None:
    assert "errors" not in body
    customer = body["data"]["customer"]
    assert customer["firstName"] == values["first_name"]
    assert customer["city"] == values["city"]


def test_no_consent_is_consent_required(gw: Gateway) -> None:
    # given
    cid, _ = add_person(gw)

    # when
    body = _read(gw, cid)

    # then
    _assert_withheld(body, "CONSENT_REQUIRED")


def test_granted_consent_allows(gw: Gateway) -> None:
    # given
    cid, values = add_person(gw)
    gw.consent(cid, "marketing_email")

    # when
    body = _read(gw, cid)

    # then
    _assert_readable(body, values)


def test_denied_consent_is_consent_required(gw: Gateway) -> None:
    # given
    cid, _ = add_person(gw)
    gw.consent(cid, "marketing_email", "deny")

    # when
    body = _read(gw, cid)

    # then
    _assert_withheld(body, "CONSENT_REQUIRED")


def test_withdrawn_consent_is_consent_required(gw: Gateway) -> None:
    # given
    cid, _ = add_person(gw)
    gw.consent(cid, "marketing_email", "grant")
    gw.consent(cid, "marketing_email", "withdraw")

    # when
    body = _read(gw, cid)

    # then
    _assert_withheld(body, "CONSENT_REQUIRED")


def test_expired_consent_is_consent_required(gw: Gateway) -> None:
    # given
    cid, _ = add_person(gw)
    gw.consent(cid, "marketing_email", expires_at=datetime.now(UTC) - timedelta(days=1))

    # when
    body = _read(gw, cid)

    # then
    _assert_withheld(body, "CONSENT_REQUIRED")


def test_consent_expiring_later_allows(gw: Gateway) -> None:
    # given
    cid, values = add_person(gw)
    gw.consent(cid, "marketing_email", expires_at=datetime.now(UTC) + timedelta(days=30))

    # when
    body = _read(gw, cid)

    # then
    _assert_readable(body, values)


def test_consent_to_superseded_material_notice_is_consent_required(gw: Gateway) -> None:
    # given: marketing_sms notice version 2 is a material change of version 1
    cid, _ = add_person(gw)
    gw.consent(cid, "marketing_sms", version=1)

    # when
    body = _read(gw, cid, purpose="marketing_sms")

    # then
    _assert_withheld(body, "CONSENT_REQUIRED")


def test_consent_to_current_material_notice_allows(gw: Gateway) -> None:
    # given
    cid, values = add_person(gw)
    gw.consent(cid, "marketing_sms", version=2)

    # when
    body = _read(gw, cid, purpose="marketing_sms")

    # then
    _assert_readable(body, values)


def test_consent_to_older_notice_without_material_change_allows(gw: Gateway) -> None:
    # given: marketing_email version 2 is not material, so a grant to version 1 holds
    cid, values = add_person(gw)
    gw.consent(cid, "marketing_email", version=1)

    # when
    body = _read(gw, cid)

    # then
    _assert_readable(body, values)


def test_consent_for_another_purpose_does_not_count(gw: Gateway) -> None:
    # given
    cid, _ = add_person(gw)
    gw.consent(cid, "marketing_sms")

    # when
    body = _read(gw, cid, purpose="marketing_email")

    # then
    _assert_withheld(body, "CONSENT_REQUIRED")


def test_direct_marketing_objection_is_objected(gw: Gateway) -> None:
    # given: consent alone would allow it
    cid, _ = add_person(gw)
    gw.consent(cid, "marketing_email")
    gw.preference(cid, "objection", "direct_marketing", "on")

    # when
    body = _read(gw, cid)

    # then
    _assert_withheld(body, "OBJECTED")


def test_objection_turned_off_allows_again(gw: Gateway) -> None:
    # given
    cid, values = add_person(gw)
    gw.consent(cid, "marketing_email")
    gw.preference(cid, "objection", "direct_marketing", "on")
    gw.preference(cid, "objection", "direct_marketing", "off")

    # when
    body = _read(gw, cid)

    # then
    _assert_readable(body, values)


def test_profiling_objection_is_objected_for_analytics(gw: Gateway) -> None:
    # given
    cid, _ = add_person(gw)
    gw.preference(cid, "objection", "profiling", "on")

    # when
    body = _read(gw, cid, app="analytics", purpose="analytics")

    # then: only fields analytics may use at all are asked for its code
    customer = body["data"]["customer"]
    assert customer["email"] is None and customer["city"] is None
    assert errors_by_path(body) == {
        ("customer", "firstName"): "POLICY_DENIED",
        ("customer", "email"): "OBJECTED",
        ("customer", "city"): "OBJECTED",
    }


def test_profiling_objection_does_not_stop_direct_marketing(gw: Gateway) -> None:
    # given
    cid, values = add_person(gw)
    gw.consent(cid, "marketing_email")
    gw.preference(cid, "objection", "profiling", "on")

    # when
    body = _read(gw, cid)

    # then
    _assert_readable(body, values)


def test_restriction_is_restricted(gw: Gateway) -> None:
    # given: consent alone would allow it
    cid, _ = add_person(gw)
    gw.consent(cid, "marketing_email")
    gw.preference(cid, "restriction", "processing", "on")

    # when
    body = _read(gw, cid)

    # then
    _assert_withheld(body, "RESTRICTED")


def test_restriction_stops_contract_purposes_too(gw: Gateway) -> None:
    # given
    cid, _ = add_person(gw)
    gw.preference(cid, "restriction", "processing", "on")

    # when
    body = _read(gw, cid, app="support", purpose="support")

    # then
    _assert_withheld(body, "RESTRICTED")


def test_restriction_comes_before_missing_consent(gw: Gateway) -> None:
    # given
    cid, _ = add_person(gw)
    gw.preference(cid, "restriction", "processing", "on")

    # when
    body = _read(gw, cid)

    # then
    _assert_withheld(body, "RESTRICTED")


def test_compliance_audit_still_reads_a_restricted_customer(gw: Gateway) -> None:
    # given: compliance_audit is restriction-exempt (Art. 18(2))
    cid, values = add_person(gw)
    gw.preference(cid, "restriction", "processing", "on")

    # when
    body = _read(gw, cid, app="compliance_officer", purpose="compliance_audit")

    # then
    assert "errors" not in body
    customer = body["data"]["customer"]
    assert customer["firstName"] == values["first_name"]
    assert customer["city"] == values["city"]
    assert customer["email"] not in (None, values["email"])  # masked, not revealed


def test_withdrawal_takes_effect_on_the_next_request(gw: Gateway) -> None:
    # given
    cid, values = add_person(gw)
    gw.consent(cid, "marketing_email")
    _assert_readable(_read(gw, cid), values)

    # when
    gw.consent(cid, "marketing_email", "withdraw")
    body = _read(gw, cid)

    # then
    _assert_withheld(body, "CONSENT_REQUIRED")


def test_regrant_after_withdrawal_allows_again(gw: Gateway) -> None:
    # given
    cid, values = add_person(gw)
    gw.consent(cid, "marketing_email")
    gw.consent(cid, "marketing_email", "withdraw")
    _assert_withheld(_read(gw, cid), "CONSENT_REQUIRED")

    # when
    gw.consent(cid, "marketing_email")
    body = _read(gw, cid)

    # then
    _assert_readable(body, values)


def test_codes_are_per_customer_in_a_list(gw: Gateway) -> None:
    # given: one city, three customers with different choices
    granted, values = add_person(gw)
    objected, _ = add_person(gw, city=values["city"])
    restricted, _ = add_person(gw, city=values["city"])
    for cid in (granted, objected, restricted):
        gw.consent(cid, "marketing_email")
    gw.preference(objected, "objection", "direct_marketing", "on")
    gw.preference(restricted, "restriction", "processing", "on")
    query = ("query($a: ID!, $b: ID!, $c: ID!) { a: customer(id: $a) { firstName } "
             "b: customer(id: $b) { firstName } c: customer(id: $c) { firstName } }")

    # when
    response = gw.post(query, variables={"a": gw.pseudonym(granted), "b": gw.pseudonym(objected),
                                         "c": gw.pseudonym(restricted)})

    # then
    body = response.json()
    assert body["data"] == {"a": {"firstName": values["first_name"]}, "b": {"firstName": None},
                            "c": {"firstName": None}}
    assert errors_by_path(body) == {("b", "firstName"): "OBJECTED",
                                    ("c", "firstName"): "RESTRICTED"}
