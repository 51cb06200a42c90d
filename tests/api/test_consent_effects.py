"""Each choice recorded over HTTP changes what the very next profile read returns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.api.support import add_person, errors_by_path, secrets_of
from tests.consent.http import (
    PROFILE,
    RECORD_OBJECTION,
    RESTRICT,
    SET_CHANNEL,
    mutate,
    read_profile,
    record_consent,
)
from tests.harness import Gateway

CHANNELS = "query($id: ID!) { customer(id: $id) { channels { channel optedIn capCount capPeriodDays } } }"
BY_CITY = (
    "query($city: String!) { customers(filter: {city: $city}) { totalCount nodes { id firstName } } }"
)
SORTED = (
    "query($field: CustomerSortField!, $city: String) "
    "{ customers(filter: {city: $city}, orderBy: {field: $field}) { nodes { id } } }"
)
TWO = "query($a: ID!, $b: ID!) { a: customer(id: $a) { firstName } b: customer(id: $b) { email } }"


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

    # then: support still sees the choice (marketing_email no longer sees this customer)
    body = gw.post(CHANNELS, app="support", purpose="support",
                   variables={"id": gw.pseudonym(cid, "support")}).json()
    assert body["data"]["customer"]["channels"] == [
        {"channel": "email", "optedIn": False, "capCount": None, "capPeriodDays": None}]


def _opt(gw: Gateway, cid: int, channel: str, opted_in: bool) -> None:
    result = mutate(gw, SET_CHANNEL, "setChannelPreference", cid, channel=channel, optedIn=opted_in)
    assert result["__typename"] == "SetChannelPreferenceSuccess", result


def test_an_email_opt_out_withholds_marketing_email_and_opting_back_in_restores(gw: Gateway) -> None:
    # given: a customer who granted marketing emails and never stated a channel preference
    cid, values = add_person(gw)
    record_consent(gw, cid, "grant")
    assert read_profile(gw, cid)["data"]["customer"]["firstName"] == values["first_name"]

    # when: the customer opts out of email
    _opt(gw, cid, "email", False)

    # then: the very next marketing_email read withholds every field with the channel's code
    response = gw.post(PROFILE, variables={"id": gw.pseudonym(cid)})
    body = response.json()
    assert body["data"]["customer"] == {"firstName": None, "email": None, "consents": None}
    assert set(errors_by_path(body).values()) == {"CHANNEL_OPTED_OUT"}
    assert all(e["extensions"] == {"code": "CHANNEL_OPTED_OUT"} for e in body["errors"])
    for secret in secrets_of(values):
        assert secret not in response.text

    # when: the customer opts back in
    _opt(gw, cid, "email", True)

    # then: the next read sees the customer again
    body = read_profile(gw, cid)
    assert "errors" not in body
    assert body["data"]["customer"]["firstName"] == values["first_name"]


def test_an_sms_opt_out_leaves_marketing_email_open_and_closes_marketing_sms(gw: Gateway) -> None:
    # given: consents to marketing email and (the current notice of) marketing sms
    cid, values = add_person(gw)
    record_consent(gw, cid, "grant")
    record_consent(gw, cid, "grant", purpose="marketing_sms", notice_version=2)

    # when: the customer opts out of text messages only
    _opt(gw, cid, "sms", False)

    # then
    email = read_profile(gw, cid)
    assert "errors" not in email
    assert email["data"]["customer"]["firstName"] == values["first_name"]
    assert _withheld(read_profile(gw, cid, "marketing_sms")) == "CHANNEL_OPTED_OUT"


def test_without_consent_an_opt_out_still_reads_as_consent_required(gw: Gateway) -> None:
    # given: no consent, and an email opt-out
    cid, _ = add_person(gw)
    _opt(gw, cid, "email", False)

    # when
    body = read_profile(gw, cid)

    # then: the widest reason is given
    assert _withheld(body) == "CONSENT_REQUIRED"


def test_search_sort_and_count_under_marketing_email_leave_out_the_opted_out(gw: Gateway) -> None:
    # given: two customers of one city, both consented, one of them opted out of email
    kept, values = add_person(gw)
    opted_out, other = add_person(gw, city=values["city"])
    for cid in (kept, opted_out):
        record_consent(gw, cid, "grant")
    _opt(gw, opted_out, "email", False)

    # when: filtering, then sorting, by city
    found = gw.post(BY_CITY, variables={"city": values["city"]})
    ordered = gw.post(SORTED, variables={"field": "CUSTOMER_SINCE", "city": values["city"]})

    # then: neither the rows nor the count tell the opted-out customer is there
    assert found.json() == {"data": {"customers": {
        "totalCount": 1, "nodes": [{"id": gw.pseudonym(kept), "firstName": values["first_name"]}]}}}
    assert ordered.json() == {"data": {"customers": {"nodes": [{"id": gw.pseudonym(kept)}]}}}
    for secret in secrets_of(other):
        assert secret not in found.text

    # when: the customer opts back in
    _opt(gw, opted_out, "email", True)

    # then: the count includes them again
    again = gw.post(BY_CITY, variables={"city": values["city"]}).json()
    assert again["data"]["customers"]["totalCount"] == 2


def test_the_audit_entry_of_a_read_records_the_channel_code(gw: Gateway) -> None:
    # given: an opted-out customer and one who allows the read
    opted_out, _ = add_person(gw)
    allowed, _ = add_person(gw)
    for cid in (opted_out, allowed):
        record_consent(gw, cid, "grant")
    _opt(gw, opted_out, "email", False)

    # when
    response = gw.post(TWO, variables={"a": gw.pseudonym(opted_out), "b": gw.pseudonym(allowed)})

    # then: each subject with its reason, the withheld fields counted by code
    entry = gw.audit_entry(response.headers["X-Request-Id"])
    assert entry.subjects == [
        {"ref": gw.audit_ref(opted_out), "code": "CHANNEL_OPTED_OUT"},
        {"ref": gw.audit_ref(allowed), "code": "ALLOWED"},
    ]
    assert entry.detail["errors"] == {"CHANNEL_OPTED_OUT": 1}
    assert entry.decision == "partial"
