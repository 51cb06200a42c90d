"""What the signed-in person sees and changes, over real HTTP: profile with sources,
consents with notices, every change through the consent service with a receipt, GPC,
rights, audit entries (actor type `subject`, pseudonymous), languages, headers."""

from __future__ import annotations

import json
import re

from sqlalchemy import select

from gateway.audit.tables import audit_events
from gateway.consent.receipts import verify_receipt
from gateway.consent.tables import consent_events, consent_state
from gateway.portal.web.headers import CSP
from tests.api.support import add_person, add_source, audit_text, secrets_of
from tests.harness import Gateway
from tests.portal.support import browser, post_form, sign_in

EMAIL_READ = "query($id: ID!) { customer(id: $id) { email } }"


def test_the_profile_shows_each_value_by_category_with_its_sources(gw: Gateway) -> None:
    # given: a customer whose CRM record holds their email
    cid, values = add_person(gw)
    add_source(gw, cid, source="crm")
    client = sign_in(gw, values["email"])
    # when
    page = client.get("/portal/profile")
    # then: who / what / where / why, their values in the clear
    assert page.status_code == 200
    for heading in ("Who you are", "What you did", "Where you are", "What you like and how we see you"):
        assert f">{heading}</h2>" in page.text
    for secret in secrets_of(values):
        assert secret in page.text
    assert values["city"] in page.text


def test_withdrawing_in_the_portal_withholds_the_next_marketing_read(gw: Gateway) -> None:
    # given: a consenting customer whom marketing can read
    cid, values = add_person(gw)
    gw.consent(cid, "marketing_email")
    variables = {"id": gw.pseudonym(cid)}
    assert gw.post(EMAIL_READ, variables=variables).json()["data"]["customer"]["email"] == values["email"]
    client = sign_in(gw, values["email"])
    # when: withdrawing with one click
    answer = post_form(client, "/portal/consents", "/portal/consents",
                       {"purpose": "marketing_email", "action": "withdraw"})
    # then: the ledger has a portal withdrawal, and marketing's next read withholds the field
    assert answer.status_code == 303
    with gw.engine.connect() as conn:
        row = conn.execute(select(consent_state.c.action, consent_events.c.source_channel)
                           .join(consent_events, consent_events.c.id == consent_state.c.event_id)
                           .where(consent_state.c.customer_id == cid,
                                  consent_state.c.purpose == "marketing_email")).one()
    assert tuple(row) == ("withdraw", "portal")
    body = gw.post(EMAIL_READ, variables=variables).json()
    assert body["data"]["customer"]["email"] is None
    assert body["errors"][0]["extensions"]["code"] == "CONSENT_REQUIRED"
    # and: granting again with one click lets it through again
    post_form(client, "/portal/consents", "/portal/consents", {"purpose": "marketing_email", "action": "grant"})
    assert gw.post(EMAIL_READ, variables=variables).json()["data"]["customer"]["email"] == values["email"]


def test_every_change_gives_a_signed_receipt_of_ones_own(gw: Gateway) -> None:
    # given: a signed-in customer
    cid, values = add_person(gw)
    client = sign_in(gw, values["email"])
    jwks = gw.client.get("/.well-known/jwks.json").json()
    changes = [("/portal/consents", {"purpose": "ads_audience", "action": "grant"}),
               ("/portal/channels", {"channel": "email", "value": "opt_in", "cap_count": "2", "cap_days": "7"}),
               ("/portal/objections", {"scope": "direct_marketing", "value": "on"}),
               ("/portal/restriction", {"value": "on"}),
               ("/portal/restriction", {"value": "off"})]
    for action, data in changes:
        # when: making the change
        answer = post_form(client, "/portal/consents", action, data)
        # then: a receipt to download, signed, naming the person by their audit reference
        receipt_id = re.search(r"receipt=(rcpt_[0-9a-f]+)", answer.headers["location"]).group(1)  # type: ignore[union-attr]
        page = client.get(answer.headers["location"])
        assert f'/portal/receipts/{receipt_id}"' in page.text
        download = client.get(f"/portal/receipts/{receipt_id}")
        assert download.headers["content-disposition"] == f'attachment; filename="{receipt_id}.jws"'
        claims = verify_receipt(download.text, jwks)
        assert claims["customer"] == gw.audit_ref(cid) and claims["source_channel"] == "portal"
    assert "at most 2 per 7 days" in client.get("/portal/consents").text


def test_the_consents_page_shows_notice_version_what_changed_and_expiry(gw: Gateway) -> None:
    # given: a grant of marketing_sms v1 (v2 is a material change) and an expiring email grant
    from datetime import timedelta

    from gateway.store.types import utcnow

    cid, values = add_person(gw)
    gw.consent(cid, "marketing_sms", version=1)
    gw.consent(cid, "marketing_email", expires_at=utcnow() + timedelta(days=30))
    client = sign_in(gw, values["email"])
    # when
    page = client.get("/portal/consents").text
    # then: the superseded SMS consent says what changed, the email one its expiry and text
    assert "The text changed; we need to ask you again" in page
    assert "What changed since you agreed" in page and "including from our partners" in page
    assert "Valid until" in page
    assert "We would like to send you offers and news by email. You can unsubscribe at any time." in page
    assert "Notice version 2 of" in page


def test_a_gpc_signal_opts_out_of_sale_and_sharing_once_and_is_shown(gw: Gateway) -> None:
    # given: a customer who granted ads_audience through a web form, and one who never said
    cid, values = add_person(gw)
    gw.consent(cid, "ads_audience")
    client = sign_in(gw, values["email"])
    # when: they visit with Sec-GPC: 1, twice
    first = client.get("/portal/profile", headers={"Sec-GPC": "1"})
    second = client.get("/portal/consents", headers={"Sec-GPC": "1"})
    # then: one withdrawal recorded with source gpc, shown on the page
    with gw.engine.connect() as conn:
        events = conn.execute(select(consent_events.c.action, consent_events.c.source_channel)
                              .where(consent_events.c.customer_id == cid,
                                     consent_events.c.purpose == "ads_audience")
                              .order_by(consent_events.c.id)).all()
    assert [tuple(e) for e in events] == [("grant", "api"), ("withdraw", "gpc")]
    assert "Global Privacy Control" in first.text and "We have just recorded this opt-out" in first.text
    assert "by your browser&#39;s privacy signal" in second.text
    # and: a later grant made in the portal itself is the person's explicit choice: kept
    post_form(client, "/portal/consents", "/portal/consents", {"purpose": "ads_audience", "action": "grant"})
    client.get("/portal/profile", headers={"Sec-GPC": "1"})
    with gw.engine.connect() as conn:
        state = conn.execute(select(consent_state.c.action).where(
            consent_state.c.customer_id == cid, consent_state.c.purpose == "ads_audience")).scalar_one()
    assert state == "grant"
    # and: a person never asked gets a denial recorded; a visit without the header changes nothing
    other_id, other_values = add_person(gw)
    other = sign_in(gw, other_values["email"])
    other.get("/portal/profile")
    other.get("/portal/profile", headers={"Sec-GPC": "1"})
    with gw.engine.connect() as conn:
        actions = conn.execute(select(consent_events.c.action, consent_events.c.source_channel)
                               .where(consent_events.c.customer_id == other_id)).all()
    assert [tuple(a) for a in actions] == [("deny", "gpc")]


def test_portal_requests_are_audited_as_the_subject_without_personal_data(gw: Gateway) -> None:
    # given: a signed-in customer who reads and changes
    cid, values = add_person(gw)
    client = sign_in(gw, values["email"])
    client.get("/portal/profile")
    post_form(client, "/portal/consents", "/portal/consents", {"purpose": "marketing_push", "action": "grant"})
    # when: reading the audit entries naming them
    ref = gw.audit_ref(cid)
    with gw.engine.connect() as conn:
        rows = [r for r in conn.execute(select(audit_events).where(audit_events.c.actor == "portal"))
                if any(s["ref"] == ref for s in r.subjects)]
    # then: link, sign-in, reads and the change, each as the subject under self_service
    actions = [r.action for r in rows]
    assert {"portal.link", "portal.signin", "read", "consent.record"} <= set(actions)
    assert all(r.actor_type == "subject" and r.purpose == "self_service" for r in rows)
    for row in rows:
        for secret in secrets_of(values):
            assert secret not in audit_text(row)


def test_the_export_and_the_erasure_request(gw: Gateway) -> None:
    # given: a signed-in customer
    _, values = add_person(gw)
    client = sign_in(gw, values["email"])
    # when: downloading the export
    export = post_form(client, "/portal/rights", "/portal/export", {})
    # then: their whole document, as an attachment, opened as a completed export case
    document = json.loads(export.text)
    assert export.headers["content-disposition"].startswith("attachment;")
    assert document["profile"]["email"] == values["email"]
    assert [r["kind"] for r in document["requests"]] == ["export"]
    # when: asking for erasure without confirming, then confirming
    refused = post_form(client, "/portal/erase", "/portal/erase", {})
    opened = post_form(client, "/portal/erase", "/portal/erase", {"confirm": "yes"})
    again = post_form(client, "/portal/rights", "/portal/erase", {"confirm": "yes"})
    # then: nothing without confirmation; one open case with its due date, asked once
    assert refused.status_code == 400 and "Tick the box" in refused.text
    assert opened.status_code == 303 and again.headers["location"] == opened.headers["location"]
    page = client.get(opened.headers["location"]).text
    assert "Erasure" in page and "Answer due by" in page and "received" in page
    rights = client.get("/portal/rights").text
    assert "Download of your data" in rights and "done" in rights and "Erasure" in rights


def test_what_we_hold_renders_every_section_of_the_export(gw: Gateway) -> None:
    # given: a signed-in customer, and the registered sections
    from gateway.rights.sections import sections

    _, values = add_person(gw)
    client = sign_in(gw, values["email"])
    # when
    page = client.get("/portal/held").text
    # then: one part per section, so sections added later appear without portal changes
    for section in sections():
        assert f'id="s-{section.name}"' in page
    assert values["email"] in page


def test_pages_speak_russian_on_request_and_by_the_browser(gw: Gateway) -> None:
    # given: a signed-in customer
    _, values = add_person(gw)
    client = sign_in(gw, values["email"])
    # when: the browser prefers Russian; then the person chooses English
    russian = client.get("/portal/consents", headers={"Accept-Language": "ru-RU,ru;q=0.9"})
    chosen = post_form(client, "/portal/profile", "/portal/language", {"lang": "en", "next": "/portal/held"})
    english = client.get("/portal/consents", headers={"Accept-Language": "ru-RU,ru;q=0.9"})
    # then
    assert '<html lang="ru">' in russian.text and "Мои согласия" in russian.text
    assert chosen.headers["location"] == "/portal/held"
    assert '<html lang="en">' in english.text


def test_language_form_never_redirects_off_the_portal(gw: Gateway) -> None:
    # given: a visitor on the sign-in page
    client = browser(gw)
    for target in ("https://evil.example/", "//evil.example/x", "/graphql", "/portal/x?y=1"):
        # when
        answer = post_form(client, "/portal/login", "/portal/language", {"lang": "ru", "next": target})
        # then
        assert answer.headers["location"] == "/portal/profile"


def test_every_page_has_a_strict_csp_and_no_personal_data_in_urls(gw: Gateway) -> None:
    # given: a signed-in customer
    _, values = add_person(gw)
    client = sign_in(gw, values["email"])
    assert browser(gw).get("/portal/login").headers["content-security-policy"] == CSP
    for path in ("/portal/profile", "/portal/consents", "/portal/activity",
                 "/portal/held", "/portal/rights", "/portal/erase"):
        # when
        page = client.get(path)
        # then: strict headers, and no link or form target carries a personal value
        assert page.headers["content-security-policy"] == CSP
        assert page.headers["cache-control"] == "no-store"
        assert page.headers["referrer-policy"] == "no-referrer"
        assert "<script" not in page.text and "style=" not in page.text
        targets = re.findall(r'(?:href|action|src)="([^"]*)"', page.text)
        assert targets and all(t.startswith(("/portal/", "#")) for t in targets), targets
        for secret in secrets_of(values):
            assert all(secret not in t for t in targets)


def test_who_used_my_data_lists_the_apps_reads_in_plain_words(gw: Gateway) -> None:
    # given: a customer the marketing app read twice, and another customer it read once
    cid, values = add_person(gw)
    gw.consent(cid, "marketing_email")
    other_id, _ = add_person(gw)
    for _ in range(2):
        gw.post(EMAIL_READ, variables={"id": gw.pseudonym(cid)})
    gw.post(EMAIL_READ, variables={"id": gw.pseudonym(other_id)})
    client = sign_in(gw, values["email"])
    client.get("/portal/profile")
    # when
    page = client.get("/portal/activity").text
    # then: the app, the purpose in words, the fields given; their own visits only counted
    app = gw.callers["marketing"].name
    assert page.count(f"{app} read your data for: Offers by email.") == 2
    assert "Given: email address" in page
    assert "You visited this portal 1 times" in page
