"""The portal in a real browser (headless chromium, no JavaScript): sign in with a link (whose
token leaves the address bar at once) or an SMS code, see the profile, withdraw a consent and
see the next marketing read withhold the field, download the export (JSON and PDF) and a
receipt, ask for erasure, change language, use it by keyboard, send Sec-GPC."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from pypdf import PdfReader
from sqlalchemy import select

from gateway.consent.receipts import verify_receipt
from gateway.consent.tables import consent_events
from gateway.portal.summary_pdf import pdf_font
from tests.api.support import add_person
from tests.portal.live import Live

QUERY = "query($id: ID!) { customer(id: $id) { email firstName } }"


@pytest.fixture
def context(chromium_browser: Browser) -> Iterator[BrowserContext]:
    """A fresh browser profile with JavaScript off: every form must work without it."""
    ctx = chromium_browser.new_context(java_script_enabled=False, accept_downloads=True,
                                       viewport={"width": 1280, "height": 900}, locale="en-GB")
    yield ctx
    ctx.close()


def sign_in(page: Page, live: Live, email: str, customer_id: int) -> None:
    """Ask for a link on the sign-in page, open it from the outbox, press Sign in."""
    page.goto(f"{live.url}/portal/")
    page.get_by_label("Email address").fill(email)
    page.get_by_role("button", name="Send me a sign-in link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")
    link = live.link_for(live.gw.audit_ref(customer_id))
    page.goto(link)
    # the token is gone from the address bar (and so from the history) before the button
    expect(page).to_have_url(f"{live.url}/portal/auth")
    assert link.rsplit("/", 1)[-1] not in page.content()
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{live.url}/portal/profile")


def test_sign_in_see_the_profile_withdraw_and_the_next_marketing_read_withholds(
        live: Live, context: BrowserContext, tmp_path: Path) -> None:
    # given: a customer who consented to marketing email; marketing reads their email
    gw = live.gw
    cid, values = add_person(gw)
    gw.consent(cid, "marketing_email")
    variables = {"id": gw.pseudonym(cid)}
    before = gw.post(QUERY, variables=variables).json()
    assert before["data"]["customer"]["email"] == values["email"]
    page = context.new_page()
    # when: they sign in with a link and look at their profile
    sign_in(page, live, values["email"], cid)
    # then: they see their own values, each with the systems that hold it
    expect(page.get_by_role("heading", name="Who you are")).to_be_visible()
    row = page.get_by_role("row", name="First name")
    expect(row).to_contain_text(values["first_name"])
    expect(page.get_by_role("row", name="Email address")).to_contain_text(values["email"])
    # when: they withdraw the marketing email consent with one click
    page.get_by_role("link", name="My choices").click()
    card = page.get_by_role("article", name="Offers by email")
    expect(card).to_contain_text("You agreed")
    card.get_by_role("button", name="Withdraw consent").click()
    # then: it is saved, with a signed receipt to download that verifies
    expect(page.get_by_role("heading", name="Your choice is saved")).to_be_visible()
    expect(page.get_by_role("article", name="Offers by email")).to_contain_text("You withdrew")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download your signed receipt").click()
    jws = Path(download.value.path()).read_text().strip()
    claims = verify_receipt(jws, gw.client.get("/.well-known/jwks.json").json())
    assert (claims["purpose"], claims["action"], claims["source_channel"]) == (
        "marketing_email", "withdraw", "portal")
    # and: the next GraphQL read by the marketing app withholds the email
    after = gw.post(QUERY, variables=variables).json()
    assert after["data"]["customer"]["email"] is None
    codes = {tuple(e["path"]): e["extensions"]["code"] for e in after["errors"]}
    assert codes[("customer", "email")] == "CONSENT_REQUIRED"


def test_sign_in_with_an_sms_code(live: Live, context: BrowserContext) -> None:
    # given: a customer with a mobile number
    cid, values = add_person(live.gw)
    page = context.new_page()
    # when: they choose the code on the sign-in page and ask for one by number
    page.goto(f"{live.url}/portal/login")
    page.get_by_role("link", name="Sign in with a code by SMS instead").click()
    page.get_by_label("Mobile phone number").fill(values["phone"])
    page.get_by_role("button", name="Send me a code").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Enter your code")
    code = live.code_for(live.gw.audit_ref(cid))
    # and: type a wrong code first, then the right one
    page.get_by_label("Code from the SMS").fill(f"{(int(code) + 1) % 10**6:06d}")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("This code does not work")
    page.get_by_label("Code from the SMS").fill(code)
    page.get_by_role("button", name="Sign in").click()
    # then: signed in, on their profile; the number never was in a URL
    expect(page).to_have_url(f"{live.url}/portal/profile")
    expect(page.get_by_role("row", name="Email address")).to_contain_text(values["email"])


def test_a_gpc_browser_is_opted_out_of_sale_and_sharing(live: Live, chromium_browser: Browser) -> None:
    # given: a customer who agreed to advertising audiences, in a browser sending Sec-GPC: 1
    cid, values = add_person(live.gw)
    live.gw.consent(cid, "ads_audience")
    ctx = chromium_browser.new_context(java_script_enabled=False,
                                       extra_http_headers={"Sec-GPC": "1"})
    page = ctx.new_page()
    # when: they sign in and look at their choices
    sign_in(page, live, values["email"], cid)
    expect(page.get_by_role("region", name="Global Privacy Control")).to_contain_text(
        "We have just recorded this opt-out")
    page.get_by_role("link", name="My choices").click()
    ctx.close()
    # then: the ledger holds the withdrawal with source gpc
    with live.gw.engine.connect() as conn:
        events = conn.execute(select(consent_events.c.action, consent_events.c.source_channel)
                              .where(consent_events.c.customer_id == cid,
                                     consent_events.c.purpose == "ads_audience")
                              .order_by(consent_events.c.id)).all()
    assert [tuple(e) for e in events][-1] == ("withdraw", "gpc")


def test_download_the_export_and_ask_for_erasure(live: Live, context: BrowserContext) -> None:
    # given: a signed-in customer
    cid, values = add_person(live.gw)
    page = context.new_page()
    sign_in(page, live, values["email"], cid)
    page.get_by_role("link", name="My rights").click()
    # when: they download their data
    with page.expect_download() as download:
        page.get_by_role("button", name="Download my data (JSON)").click()
    document = json.loads(Path(download.value.path()).read_text())
    # then: it is their whole export document
    assert document["format"] == "consent-gateway/subject-export/v1"
    assert document["profile"]["email"] == values["email"]
    assert {"sources", "orders", "consents", "reads", "requests", "sessions"} <= set(document)
    # and: the readable PDF summary too, when the font is installed
    if pdf_font(None) is not None:
        with page.expect_download() as download:
            page.get_by_role("button", name="Download a readable summary (PDF)").click()
        pdf = Path(download.value.path()).read_bytes()
        text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
        assert "Your data" in text and values["email"] in " ".join(text.split())
    # when: they ask for erasure, first without confirming, then confirming
    page.get_by_role("link", name="Ask for erasure").click()
    page.get_by_role("button", name="Ask for erasure").click()  # the browser's own check stops it
    expect(page).to_have_url(f"{live.url}/portal/erase")
    page.get_by_label("I understand and want my data deleted").check()
    page.get_by_role("button", name="Ask for erasure").click()
    # then: the request is open, with its due date, and listed among their requests
    expect(page.get_by_role("heading", level=1)).to_have_text("Your request")
    expect(page.locator("dl.facts")).to_contain_text("Erasure")
    expect(page.locator("dl.facts")).to_contain_text("Answer due by")
    page.get_by_role("link", name="Back to your rights").click()
    expect(page.get_by_role("region", name="Your requests").last).to_contain_text("Erasure")
    expect(page.get_by_role("region", name="Your requests").last).to_contain_text("Download of your data")


def test_change_language(live: Live, context: BrowserContext) -> None:
    # given: a signed-in customer on their profile, in English
    cid, values = add_person(live.gw)
    page = context.new_page()
    sign_in(page, live, values["email"], cid)
    # when: they choose Russian
    page.get_by_label("Language").select_option("ru")
    page.get_by_role("button", name="Change").click()
    # then: the same page speaks Russian, and so do the next ones
    expect(page).to_have_url(f"{live.url}/portal/profile")
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    expect(page.get_by_role("heading", level=1)).to_have_text("Мой профиль")
    page.get_by_role("link", name="Мои согласия").click()
    expect(page.get_by_role("heading", name="Предложения по электронной почте")).to_be_visible()


def test_keyboard_only(live: Live, context: BrowserContext) -> None:
    # given: a signed-in customer with an active consent
    cid, values = add_person(live.gw)
    live.gw.consent(cid, "marketing_sms")
    page = context.new_page()
    sign_in(page, live, values["email"], cid)
    page.goto(f"{live.url}/portal/consents")
    # when: the first Tab reaches the skip link, Enter follows it
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text("Skip to the content")
    page.keyboard.press("Enter")
    # and: tabbing on reaches the SMS card's withdraw button, Enter presses it
    button = page.get_by_role("article", name="Offers by text message").get_by_role(
        "button", name="Withdraw consent")
    for _ in range(40):
        page.keyboard.press("Tab")
        if button.evaluate("b => b === document.activeElement"):
            break
    page.keyboard.press("Enter")
    # then: the choice is saved
    expect(page.get_by_role("heading", name="Your choice is saved")).to_be_visible()
    expect(page.get_by_role("article", name="Offers by text message")).to_contain_text("You withdrew")
