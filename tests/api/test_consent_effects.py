"""Each choice recorded over HTTP changes what the very next profile read returns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.api.support import add_person, errors_by_path
from tests.consent.http import (
    RECORD_OBJECTION,
    RESTRICT,
    SET_CHANNEL,
    mutate,
    read_profile,
    record_consent,
)
from tests.harness import Gateway

CHANNELS = "query($id: ID!) { customer(id: $id) { channels { channel optedIn capCount capPeriodDays } } }"


def _withheld(body: dict[str, object]) -> str | None:
    return errors_by_path(body).get(("customer", "firstName"))  # type: ignore[arg-type]


def test_grant_opens_the_profile_and_withdrawal_closes_it_on_the_next_request(gw: Gateway) -> None:
    # given: a customer who has not consented to marketing emails
    cid, values = add_person(gw)
    assert _withheld(read_profile(gw, cid)) == "CONSENT_REQUIRED"

    # when: the call center records a grant
    granted = record_consent(gw, cid, "grant")

    # then: the next marketing read sees the customer
    assert granted["__typename"] == "RecordConsentSuccess"
    body = read_profile(gw, cid)
    assert body["data"]["customer"]["firstName"] == values["first_name"]
    assert body["data"]["customer"]["consents"] == [{"purpose": "marketing_email", "status": "granted"}]

    # when: the customer withdraws
    withdrawn = record_consent(gw, cid, "withdraw")

    # then: the very next read is refused
    assert withdrawn["__typename"] == "RecordConsentSuccess"
    assert _withheld(read_profile(gw, cid)) == "CONSENT_REQUIRED"


def test_a_denial_keeps_the_profile_closed(gw: Gateway) -> None:
    # given
    cid, _ = add_person(gw)

    # when
    denied = record_consent(gw, cid, "deny")

    # then
    assert denied["__typename"] == "RecordConsentSuccess"
    assert _withheld(read_profile(gw, cid)) == "CONSENT_REQUIRED"


def test_an_expired_grant_counts_as_no_consent(gw: Gateway) -> None:
    # given: a grant given two days ago that expired yesterday
    cid, _ = add_person(gw)
    now = datetime.now(UTC)
    result = record_consent(
        gw, cid, "grant", occurredAt=(now - timedelta(days=2)).isoformat(),
        expiresAt=(now - timedelta(days=1)).isoformat(),
    )
    assert result["__typename"] == "RecordConsentSuccess"

    # when
    body = read_profile(gw, cid)

    # then
    assert _withheld(body) == "CONSENT_REQUIRED"


def test_a_grant_to_a_notice_superseded_by_a_material_change_needs_a_new_grant(gw: Gateway) -> None:
    # given: a grant to marketing_sms notice 1 (version 2 is a material change)
    cid, _ = add_person(gw)
    old = record_consent(gw, cid, "grant", purpose="marketing_sms", notice_version=1)
    assert old["__typename"] == "RecordConsentSuccess"
    assert _withheld(read_profile(gw, cid, "marketing_sms")) == "CONSENT_REQUIRED"

    # when: the customer agrees to the new text
    new = record_consent(gw, cid, "grant", purpose="marketing_sms", notice_version=2)

    # then
    assert new["__typename"] == "RecordConsentSuccess"
    assert _withheld(read_profile(gw, cid, "marketing_sms")) is None


def test_an_objection_to_direct_marketing_closes_the_profile_and_lifting_it_reopens(gw: Gateway) -> None:
    # given: a granted consent
    cid, _ = add_person(gw)
    record_consent(gw, cid, "grant")

    # when
    raised = mutate(gw, RECORD_OBJECTION, "recordObjection", cid, scope="direct_marketing", objected=True)

    # then
    assert raised["__typename"] == "RecordObjectionSuccess"
    assert _withheld(read_profile(gw, cid)) == "OBJECTED"

    # when
    mutate(gw, RECORD_OBJECTION, "recordObjection", cid, scope="direct_marketing", objected=False)

    # then
    assert _withheld(read_profile(gw, cid)) is None


def test_a_restriction_closes_the_profile(gw: Gateway) -> None:
    # given
    cid, _ = add_person(gw)
    record_consent(gw, cid, "grant")

    # when
    result = mutate(gw, RESTRICT, "restrictProcessing", cid, restricted=True)

    # then
    assert result["__typename"] == "RestrictProcessingSuccess"
    assert _withheld(read_profile(gw, cid)) == "RESTRICTED"


def test_a_channel_opt_out_shows_in_the_next_read(gw: Gateway) -> None:
    # given: opted in to email with a cap of 2 per 7 days
    cid, _ = add_person(gw)
    record_consent(gw, cid, "grant")
    opted_in = mutate(gw, SET_CHANNEL, "setChannelPreference", cid, channel="email", optedIn=True,
                      frequencyCap={"count": 2, "periodDays": 7})
    assert opted_in["__typename"] == "SetChannelPreferenceSuccess"
    first = gw.post(CHANNELS, variables={"id": gw.pseudonym(cid)}).json()
    assert first["data"]["customer"]["channels"] == [
        {"channel": "email", "optedIn": True, "capCount": 2, "capPeriodDays": 7}]

    # when
    mutate(gw, SET_CHANNEL, "setChannelPreference", cid, channel="email", optedIn=False)

    # then
    body = gw.post(CHANNELS, variables={"id": gw.pseudonym(cid)}).json()
    assert body["data"]["customer"]["channels"] == [
        {"channel": "email", "optedIn": False, "capCount": None, "capPeriodDays": None}]
