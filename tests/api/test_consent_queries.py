"""Queries of the preference center: purposes, notices, a customer's consent history."""

from __future__ import annotations

import hashlib

from tests.api.support import add_person, codes
from tests.consent.http import record_consent
from tests.harness import Gateway

HISTORY = (
    "query($id: ID!) { consentHistory(customerId: $id) "
    "{ purpose action noticeVersion sourceChannel } }"
)


def test_purposes_list_bases_and_notices(gw: Gateway) -> None:
    # when
    body = gw.post("{ purposes { name basis retentionDays notices { version material languages } } }").json()

    # then
    found = {p["name"]: p for p in body["data"]["purposes"]}
    assert found["marketing_sms"]["basis"] == "consent"
    assert found["marketing_sms"]["notices"][1] == {"version": 2, "material": True, "languages": ["en", "ru"]}
    assert found["support"]["notices"] == []


def test_notice_gives_the_current_text_and_its_hash(gw: Gateway) -> None:
    # when
    body = gw.post('{ notice(purpose: "marketing_email", language: "ru") { version language text textSha256 } }').json()

    # then
    notice = body["data"]["notice"]
    assert (notice["version"], notice["language"]) == (2, "ru")
    assert notice["textSha256"] == hashlib.sha256(notice["text"].encode()).hexdigest()


def test_history_lists_every_event_of_the_callers_own_purposes(gw: Gateway) -> None:
    # given: a grant and a withdrawal of marketing_email, a grant of marketing_sms
    cid, _ = add_person(gw)
    record_consent(gw, cid, "grant")
    record_consent(gw, cid, "withdraw")
    record_consent(gw, cid, "grant", purpose="marketing_sms")

    # when: marketing reads; support (no marketing purposes) reads
    marketing = gw.post(HISTORY, variables={"id": gw.pseudonym(cid)}).json()
    support = gw.post(HISTORY, app="support", purpose="support",
                      variables={"id": gw.pseudonym(cid, "support")}).json()

    # then: both events are kept, newest first; support sees none of marketing's purposes
    events = [(e["purpose"], e["action"]) for e in marketing["data"]["consentHistory"]]
    assert sorted(events) == [("marketing_email", "grant"), ("marketing_email", "withdraw"),
                              ("marketing_sms", "grant")]
    assert support["data"]["consentHistory"] == []


def test_history_needs_a_policy_rule(gw: Gateway) -> None:
    # given
    cid, _ = add_person(gw)

    # when
    body = gw.post(HISTORY, app="analytics", purpose="analytics",
                   variables={"id": gw.pseudonym(cid, "analytics")}).json()

    # then
    assert codes(body) == ["POLICY_DENIED"]
