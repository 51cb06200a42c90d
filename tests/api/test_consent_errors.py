"""Bad input and refused callers get a MutationError with a stable code and change nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.api.support import add_person
from tests.consent.http import (
    CALL_EVIDENCE,
    RECORD_CONSENT,
    RECORD_OBJECTION,
    SET_CHANNEL,
    ledger_counts,
    mutate,
    record_consent,
)
from tests.harness import Gateway

_FUTURE = (datetime.now(UTC) + timedelta(days=3)).isoformat()

BAD_CONSENTS: list[tuple[str, dict[str, Any], str, str]] = [
    ("unknown purpose", {"purpose": "telepathy"}, "PURPOSE_UNKNOWN", "purpose"),
    ("not consent-based", {"purpose": "support"}, "INVALID_INPUT", "purpose"),
    ("missing notice version", {"notice_version": 9}, "NOT_FOUND", "noticeVersion"),
    ("unknown action", {"action": "maybe"}, "INVALID_INPUT", "action"),
    ("malformed date", {"occurredAt": "31/01/2026"}, "INVALID_INPUT", "occurredAt"),
    ("date without offset", {"occurredAt": "2026-01-31T12:00:00"}, "INVALID_INPUT", "occurredAt"),
    ("date in the future", {"occurredAt": _FUTURE}, "INVALID_INPUT", "occurredAt"),
    ("expiry before occurrence", {"expiresAt": "2020-01-01T00:00:00+00:00"}, "INVALID_INPUT",
     "expiresAt"),
    ("malformed expiry", {"expiresAt": "soon"}, "INVALID_INPUT", "expiresAt"),
    ("unknown source channel", {"source_channel": "pigeon"}, "INVALID_INPUT", "sourceChannel"),
    ("channel not of the role", {"source_channel": "web_form"}, "POLICY_DENIED", "sourceChannel"),
]


@pytest.mark.parametrize(("case", "change", "code", "field"), BAD_CONSENTS, ids=[c[0] for c in BAD_CONSENTS])
def test_bad_consent_input_gets_its_code_and_writes_nothing(
    gw: Gateway, case: str, change: dict[str, Any], code: str, field: str
) -> None:
    # given
    cid, _ = add_person(gw)
    before = ledger_counts(gw)
    given = dict(change)
    action = given.pop("action", "grant")
    # when
    result = record_consent(gw, cid, action, **given)
    # then
    assert (result["__typename"], result["code"], result["field"]) == ("MutationError", code, field)
    assert ledger_counts(gw) == before


def test_an_unknown_customer_is_not_found_and_nothing_is_written(gw: Gateway) -> None:
    # given: a pseudonym made for another app (not resolvable by the call center)
    cid, _ = add_person(gw)
    before = ledger_counts(gw)
    given = {"customerId": gw.pseudonym(cid, "marketing"), "purpose": "marketing_email",
             "noticeVersion": 2, "action": "grant", "sourceChannel": "call_center",
             "evidence": CALL_EVIDENCE}

    # when
    body = gw.post(RECORD_CONSENT, app="call_center", purpose="support",
                   variables={"input": given}).json()

    # then
    result = body["data"]["recordConsent"]
    assert (result["code"], result["field"]) == ("NOT_FOUND", "customerId")
    assert ledger_counts(gw) == before


def test_a_deleted_customer_is_not_found(fresh_gateway: Gateway) -> None:
    # given: a valid pseudonym whose customer row is gone
    gw = fresh_gateway
    token_owner = 10_000_000
    before = ledger_counts(gw)
    given = {"customerId": gw.pseudonym(token_owner, "call_center"), "purpose": "marketing_email",
             "noticeVersion": 2, "action": "grant", "sourceChannel": "call_center",
             "evidence": CALL_EVIDENCE}

    # when
    body = gw.post(RECORD_CONSENT, app="call_center", purpose="support",
                   variables={"input": given}).json()

    # then
    result = body["data"]["recordConsent"]
    assert (result["code"], result["field"]) == ("NOT_FOUND", "customerId")
    assert ledger_counts(gw) == before


def test_policy_decides_who_may_record(gw: Gateway) -> None:
    # given: analytics has no consent-write rule; marketing may refuse (withdraw) only for the
    # purpose it declares, and never grant
    cid, _ = add_person(gw)
    before = ledger_counts(gw)

    # when
    analytics = record_consent(gw, cid, app="analytics", declared="analytics", source_channel="api")
    marketing_grant = record_consent(gw, cid, app="marketing", declared="marketing_email",
                                     source_channel="web_form")
    marketing_other = record_consent(gw, cid, "withdraw", purpose="marketing_sms", app="marketing",
                                     declared="marketing_email", source_channel="web_form")
    marketing_own = record_consent(gw, cid, "withdraw", app="marketing", declared="marketing_email",
                                   source_channel="web_form")

    # then
    assert analytics["code"] == "POLICY_DENIED"
    assert marketing_grant["code"] == "POLICY_DENIED"
    assert (marketing_other["code"], marketing_other["field"]) == ("POLICY_DENIED", "purpose")
    assert marketing_own["__typename"] == "RecordConsentSuccess"
    assert ledger_counts(gw)[0] == before[0] + 1


def test_bad_preference_input_writes_nothing(gw: Gateway) -> None:
    # given
    cid, _ = add_person(gw)
    before = ledger_counts(gw)

    # when
    bad_channel = mutate(gw, SET_CHANNEL, "setChannelPreference", cid, channel="fax", optedIn=True)
    bad_cap = mutate(gw, SET_CHANNEL, "setChannelPreference", cid, channel="sms", optedIn=True,
                     frequencyCap={"count": 0, "periodDays": 7})
    bad_scope = mutate(gw, RECORD_OBJECTION, "recordObjection", cid, scope="everything", objected=True)

    # then
    assert (bad_channel["code"], bad_channel["field"]) == ("INVALID_INPUT", "channel")
    assert (bad_cap["code"], bad_cap["field"]) == ("INVALID_INPUT", "frequencyCap.count")
    assert (bad_scope["code"], bad_scope["field"]) == ("INVALID_INPUT", "scope")
    assert ledger_counts(gw) == before
