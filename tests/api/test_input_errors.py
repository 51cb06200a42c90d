"""Bad scalar values say what is expected; officers and apps are told which purpose to send."""

from __future__ import annotations

import pytest

from tests.api.support import codes
from tests.harness import Gateway

EVENTS_FROM = "query($f: DateTime) { auditEvents(filter: {from: $f}, first: 1) { nodes { operation } } }"
EVENTS_FROM_LITERAL = '{{ auditEvents(filter: {{from: "{v}"}}, first: 1) {{ nodes {{ operation }} }} }}'
OFFICER = {"app": "compliance_officer", "purpose": "compliance_audit"}


@pytest.mark.parametrize("value", ["yest", "2025-13-45T00:00:00Z", "2025-01-31", "", "12:00"])
def test_a_bad_date_time_variable_says_what_is_expected(gw: Gateway, value: str) -> None:
    # when
    response = gw.post(EVENTS_FROM, variables={"f": value}, **OFFICER)

    # then
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "BAD_REQUEST"}
    assert error["message"] == (
        "Variable '$f' has an invalid value: expected an ISO 8601 date-time, "
        "e.g. 2025-01-31T09:30:00Z.")


@pytest.mark.parametrize("value", ["yest", "31/01/2025"])
def test_a_bad_date_time_literal_says_what_is_expected_and_echoes_nothing(
    gw: Gateway, value: str
) -> None:
    # when
    response = gw.post(EVENTS_FROM_LITERAL.format(v=value), **OFFICER)

    # then
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "BAD_REQUEST"}
    assert "expected an ISO 8601 date-time" in error["message"]
    assert value not in error["message"]
    assert "invalid literal" not in response.text and "int()" not in response.text


def test_a_good_date_time_is_accepted(gw: Gateway) -> None:
    # when: the control of the tests above
    response = gw.post(EVENTS_FROM, variables={"f": "2025-01-31T09:30:00Z"}, **OFFICER)

    # then
    assert "errors" not in response.json()


@pytest.mark.parametrize("purpose", [None, "analytics"])
def test_an_officer_without_the_audit_purpose_is_told_to_send_it(
    gw: Gateway, purpose: str | None
) -> None:
    # when
    response = gw.post(EVENTS_FROM, variables={"f": None}, app="compliance_officer",
                       purpose=purpose)

    # then
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "POLICY_DENIED"
    assert "send X-Purpose: compliance_audit" in error["message"]


def test_an_app_that_may_never_read_the_audit_log_gets_no_hint(gw: Gateway) -> None:
    # when
    response = gw.post(EVENTS_FROM, variables={"f": None}, app="marketing", purpose=None)

    # then
    assert codes(response.json()) == ["POLICY_DENIED"]
    assert "X-Purpose" not in response.json()["errors"][0]["message"]
