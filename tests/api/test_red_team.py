"""Issue 9's classes of leak, tried as an attacker would with ordinary app keys.

Each test is the attack through real HTTP, and a control showing the same request can
succeed (or the same check can fail) where the rule does not stop it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from gateway.consent.tables import consent_events, preference_events
from gateway.store.types import utcnow
from tests.api.support import add_person, codes, errors_by_path, unique
from tests.consent.http import (
    CALL_EVIDENCE,
    RECORD_CONSENT,
    RECORD_OBJECTION,
    RESTRICT,
    SET_CHANNEL,
)
from tests.harness import Gateway

Json = dict[str, Any]
PROFILE = "query($id: ID!) { customer(id: $id) { id email city lastOrderAt rfmRecency rfmFrequency } }"
LIST = ("query($city: String!, $after: String) { customers(filter: {city: $city}, first: 100, "
        "after: $after) { totalCount nodes { id } pageInfo { endCursor hasNextPage } } }")
PLAIN_LIST = "{ customers(first: 100) { totalCount nodes { id } } }"


def _events(gw: Gateway) -> tuple[int, int]:
    with gw.engine.connect() as conn:
        return (int(conn.execute(select(func.count()).select_from(consent_events)).scalar_one()),
                int(conn.execute(select(func.count()).select_from(preference_events)).scalar_one()))


def _mutation(gw: Gateway, query: str, name: str, cid: int, app: str, declared: str,
              **fields: Any) -> Json:
    given = {"customerId": gw.pseudonym(cid, app), **fields}
    body = gw.post(query, app=app, purpose=declared, variables={"input": given}).json()
    assert "errors" not in body, body
    result: Json = body["data"][name]
    return result


# --- 1. writes on the customer's behalf ------------------------------------------------------


def test_marketing_cannot_relax_a_customers_protection(gw: Gateway) -> None:
    # given: a consenting customer who restricted processing and objected to direct marketing
    cid, values = add_person(gw)
    gw.consent(cid, "marketing_email")
    gw.preference(cid, "restriction", "processing", "on")
    gw.preference(cid, "objection", "direct_marketing", "on")
    gw.preference(cid, "channel", "sms", "opt_out")
    before = _events(gw)
    attacker = {"app": "marketing", "declared": "marketing_email", "sourceChannel": "web_form",
                "evidence": "the customer clicked"}

    # when: the marketing app lifts the restriction and the objection, opts the customer back
    # into sms, and grants a consent, each on the customer's behalf
    lifted = _mutation(gw, RESTRICT, "restrictProcessing", cid, restricted=False, **attacker)
    unobjected = _mutation(gw, RECORD_OBJECTION, "recordObjection", cid, scope="direct_marketing",
                           objected=False, **attacker)
    opted_in = _mutation(gw, SET_CHANNEL, "setChannelPreference", cid, channel="sms", optedIn=True,
                         **attacker)
    granted = _mutation(gw, RECORD_CONSENT, "recordConsent", cid, purpose="marketing_email",
                        noticeVersion=2, action="grant", **attacker)

    # then: every attempt is refused by policy and nothing was written
    assert [r["code"] for r in (lifted, unobjected, opted_in, granted)] == ["POLICY_DENIED"] * 4
    assert _events(gw) == before
    # and: the fields the restriction withheld are still withheld
    body = gw.post(PROFILE, variables={"id": gw.pseudonym(cid)}).json()
    assert body["data"]["customer"]["email"] is None
    assert values["email"] not in str(body)
    assert errors_by_path(body)[("customer", "email")] == "RESTRICTED"


def test_stricter_choices_stay_open_and_staff_relax_only_with_evidence(gw: Gateway) -> None:
    # given: a customer with a consent (the control: the same app may make things stricter)
    cid, _ = add_person(gw)
    gw.consent(cid, "marketing_email")
    marketing = {"app": "marketing", "declared": "marketing_email", "sourceChannel": "web_form"}
    call = {"app": "call_center", "declared": "support", "sourceChannel": "call_center"}

    # when: marketing records an unsubscribe; the call center lifts it without, then with, evidence
    opted_out = _mutation(gw, SET_CHANNEL, "setChannelPreference", cid, channel="email",
                          optedIn=False, **marketing)
    no_evidence = _mutation(gw, SET_CHANNEL, "setChannelPreference", cid, channel="email",
                            optedIn=True, **call)
    with_evidence = _mutation(gw, SET_CHANNEL, "setChannelPreference", cid, channel="email",
                              optedIn=True, evidence=CALL_EVIDENCE, **call)

    # then
    assert opted_out["__typename"] == "SetChannelPreferenceSuccess"
    assert (no_evidence["code"], no_evidence["field"]) == ("INVALID_INPUT", "evidence")
    assert with_evidence["__typename"] == "SetChannelPreferenceSuccess"


# --- 2. derived values against their inputs --------------------------------------------------


def test_a_derived_value_is_no_more_readable_than_its_input(gw: Gateway) -> None:
    # given: a customer who consented to sms and email, with a last order 9 days ago
    cid, _ = add_person(gw, last_order_at=utcnow() - timedelta(days=9), rfm_recency=9)
    gw.consent(cid, "marketing_sms")
    gw.consent(cid, "marketing_email")

    # when: marketing reads the last order's date and the recency, under sms and under email
    sms = gw.post(PROFILE, purpose="marketing_sms", variables={"id": gw.pseudonym(cid)}).json()
    email = gw.post(PROFILE, purpose="marketing_email", variables={"id": gw.pseudonym(cid)}).json()

    # then: under sms the date is denied and so is the recency that reproduces it
    assert errors_by_path(sms)[("customer", "lastOrderAt")] == "POLICY_DENIED"
    assert errors_by_path(sms)[("customer", "rfmRecency")] == "POLICY_DENIED"
    assert sms["data"]["customer"]["rfmRecency"] is None
    # and: the coarse score (a band by its written rule) stays readable
    assert sms["data"]["customer"]["rfmFrequency"] is not None
    # and (the control): under email, where orders may be read, both are given
    assert email["data"]["customer"]["rfmRecency"] == 9
    assert email["data"]["customer"]["lastOrderAt"] is not None


def test_an_objection_to_profiling_withholds_derived_values_at_once(gw: Gateway) -> None:
    # given: a customer consenting to email, with derived values held
    cid, _ = add_person(gw, rfm_recency=4)
    gw.consent(cid, "marketing_email")
    before = gw.post(PROFILE, variables={"id": gw.pseudonym(cid)}).json()
    assert before["data"]["customer"]["rfmFrequency"] is not None  # the control

    # when: the customer objects to profiling (no job has run since)
    gw.preference(cid, "objection", "profiling", "on")
    after = gw.post(PROFILE, variables={"id": gw.pseudonym(cid)}).json()

    # then: the next read withholds every derived value, and only those
    errors = errors_by_path(after)
    assert errors[("customer", "rfmFrequency")] == "OBJECTED"
    assert errors[("customer", "rfmRecency")] == "OBJECTED"
    assert after["data"]["customer"]["email"] is not None
    # and: a search on a derived value does not find the customer either
    found = gw.post("query($c: String!) { customers(filter: {city: $c, rfmSegment: \"loyal\"}) "
                    "{ totalCount } }", variables={"c": before["data"]["customer"]["city"]}).json()
    control = gw.post("query($c: String!) { customers(filter: {city: $c}) { totalCount } }",
                      variables={"c": before["data"]["customer"]["city"]}).json()
    assert found["data"]["customers"]["totalCount"] == control["data"]["customers"]["totalCount"] - 1


# --- 3. metadata of consent against a denied field -------------------------------------------

HISTORY = "query($id: ID!) { consentHistory(customerId: $id) { noticeDigest noticeTextSha256 } }"


def _history(gw: Gateway, cid: int, purpose: str) -> Json:
    body: Json = gw.post(HISTORY, purpose=purpose, variables={"id": gw.pseudonym(cid)}).json()
    return body


def test_consent_history_does_not_reveal_the_language_the_app_may_not_read(gw: Gateway) -> None:
    # given: a Russian and an English customer with the same grant to marketing_email
    ru, _ = add_person(gw, language="ru", jurisdiction="152-fz")
    en, _ = add_person(gw, language="en")
    for cid in (ru, en):
        gw.consent(cid, "marketing_email")
    with gw.engine.begin() as conn:  # the ledger stores the hash of the text each was shown
        for cid, lang in ((ru, "ru"), (en, "en")):
            conn.execute(consent_events.update().where(consent_events.c.customer_id == cid)
                         .values(notice_text_sha256=lang * 32))

    # when: marketing reads both histories under ads_audience (language not readable there)
    ads = [_history(gw, cid, "ads_audience") for cid in (ru, en)]
    # and under marketing_email (the control: both consented, language readable)
    email = [_history(gw, cid, "marketing_email") for cid in (ru, en)]

    # then: under ads_audience the text hashes are withheld and the digests identical
    for body in ads:
        [event] = body["data"]["consentHistory"]
        assert event["noticeTextSha256"] is None
        assert set(errors_by_path(body).values()) == {"POLICY_DENIED"}
    assert ads[0]["data"] == ads[1]["data"]
    # and: under marketing_email the hashes are shown, and they tell the two apart
    assert [b["data"]["consentHistory"][0]["noticeTextSha256"] for b in email] == ["ru" * 32, "en" * 32]


def test_consent_history_of_a_non_consenting_customer_hides_the_text_hash(gw: Gateway) -> None:
    # given: a customer who withdrew from marketing_email (their language is withheld there)
    cid, _ = add_person(gw, language="ru")
    gw.consent(cid, "marketing_email")
    gw.consent(cid, "marketing_email", "withdraw")
    with gw.engine.begin() as conn:
        conn.execute(consent_events.update().where(consent_events.c.customer_id == cid)
                     .values(notice_text_sha256="ru" * 32))

    # when
    body = _history(gw, cid, "marketing_email")

    # then: both events are listed, their text hashes withheld for the customer's choice
    events = body["data"]["consentHistory"]
    assert len(events) == 2 and all(e["noticeTextSha256"] is None for e in events)
    assert all(e["noticeDigest"] for e in events)
    assert set(errors_by_path(body).values()) == {"CONSENT_REQUIRED"}


# --- 4. the default order and counters --------------------------------------------------------


def _listing(gw: Gateway, app: str, city: str) -> list[int]:
    """The internal ids behind app `app`'s listing of `city`, in the order it received them."""
    names = gw.services.pseudonyms.for_app(gw.callers[app].app_id)
    body = gw.post(LIST, app=app, variables={"city": city}).json()
    return [names.resolve_customer(n["id"]) for n in body["data"]["customers"]["nodes"]]


def test_two_apps_comparing_listings_cannot_join_their_pseudonyms(gw: Gateway) -> None:
    # given: two marketing apps, and 40 consenting customers in one city
    other = unique("marketing-rival").lower()
    gw.add_app("marketing", other)
    city = unique("Joinville")
    for _ in range(40):
        cid, _ = add_person(gw, city=city)
        gw.consent(cid, "marketing_email")

    # when: both list the city (same query, same purpose), twice for the control
    mine, theirs, mine_again = (_listing(gw, "marketing", city), _listing(gw, other, city),
                                _listing(gw, "marketing", city))

    # then: the same 40 people, but row i of one list is (almost never) row i of the other
    assert sorted(mine) == sorted(theirs) and len(mine) == 40
    same_row = sum(a == b for a, b in zip(mine, theirs, strict=True))
    assert same_row <= 5, f"{same_row} of 40 rows line up between two apps"
    # and: neither is the internal-id order every app shared before
    assert mine != sorted(mine) and theirs != sorted(theirs)
    # and (the control): one app's own order is stable, so its paging works
    assert mine == mine_again


def test_receipts_name_no_ledger_counter(gw: Gateway) -> None:
    # given
    cid, _ = add_person(gw)
    # when
    given = {"customerId": gw.pseudonym(cid, "call_center"), "purpose": "marketing_email",
             "noticeVersion": 2, "action": "grant", "sourceChannel": "call_center",
             "evidence": CALL_EVIDENCE}
    body = gw.post(RECORD_CONSENT, app="call_center", purpose="support",
                   variables={"input": given}).json()
    result = body["data"]["recordConsent"]
    # then: the receipt has no counter of events (nor anything that grows with them)
    payload = result["receipt"]["payload"]
    assert "event_id" not in payload and "seq" not in payload


# --- 5. listing people the purpose may not process --------------------------------------------


def test_a_list_holds_only_the_people_the_purpose_may_process(gw: Gateway) -> None:
    # given: in one city, a consenting, a non-consenting, an objecting and a restricted customer
    city = unique("Minimalton")
    ok, _ = add_person(gw, city=city)
    gw.consent(ok, "marketing_email")
    never, _ = add_person(gw, city=city)
    objecting, _ = add_person(gw, city=city)
    gw.consent(objecting, "marketing_email")
    gw.preference(objecting, "objection", "direct_marketing", "on")
    restricted, _ = add_person(gw, city=city)
    gw.consent(restricted, "marketing_email")
    gw.preference(restricted, "restriction", "processing", "on")

    # when: marketing lists the city under marketing_email; support under service
    marketing = _listing(gw, "marketing", city)
    count = gw.post(LIST, variables={"city": city}).json()["data"]["customers"]["totalCount"]
    support = gw.post(LIST, app="support", purpose="service", variables={"city": city}).json()

    # then: marketing sees only the consenting customer, and counts only them
    assert marketing == [ok] and count == 1
    # and (the control): a contract purpose processes all but the restricted one
    assert support["data"]["customers"]["totalCount"] == 3
    assert never not in marketing


def test_subject_reasons_reach_only_callers_that_may_know_preferences(gw: Gateway) -> None:
    # given: a restricted customer
    cid, _ = add_person(gw)
    gw.preference(cid, "restriction", "processing", "on")
    query = "query($id: ID!) { customer(id: $id) { firstName } }"

    # when: support reads them under service (no preferences there) and under support
    service = gw.post(query, app="support", purpose="service",
                      variables={"id": gw.pseudonym(cid, "support")}).json()
    support = gw.post(query, app="support", purpose="support",
                      variables={"id": gw.pseudonym(cid, "support")}).json()

    # then: the first is told only that it is withheld; the control is told why
    assert codes(service) == ["WITHHELD"]
    assert codes(support) == ["RESTRICTED"]
    # and: the audit keeps the real reason for the officer either way
    with gw.engine.connect() as conn:
        from gateway.audit.tables import audit_events

        row = conn.execute(select(audit_events.c.subjects).order_by(audit_events.c.seq.desc())
                           .limit(2)).all()
    assert {s["code"] for r in row for s in r.subjects} == {"RESTRICTED"}


def test_a_consents_expiry_does_not_reveal_the_jurisdiction_where_location_is_denied(gw: Gateway) -> None:
    # given: a 152-FZ customer whose grants expire with the notice's term, consenting to push
    cid, _ = add_person(gw, jurisdiction="152-fz", language="ru")
    gw.consent(cid, "marketing_push", expires_at=utcnow() + timedelta(days=365))
    gw.consent(cid, "marketing_email", expires_at=utcnow() + timedelta(days=1095))
    query = "query($id: ID!) { customer(id: $id) { consents { purpose expiresAt } } }"

    # when: marketing reads the consents under push (no location) and under email (location)
    push = gw.post(query, purpose="marketing_push", variables={"id": gw.pseudonym(cid)}).json()
    email = gw.post(query, purpose="marketing_email", variables={"id": gw.pseudonym(cid)}).json()

    # then: under push every expiry is withheld, with the policy's code at its path
    assert all(c["expiresAt"] is None for c in push["data"]["customer"]["consents"])
    assert set(errors_by_path(push).values()) == {"POLICY_DENIED"}
    assert all(path[-1] == "expiresAt" for path in errors_by_path(push))
    # and (the control): under email, where location may be read, the expiries are given
    assert all(c["expiresAt"] for c in email["data"]["customer"]["consents"])
    assert "errors" not in email
