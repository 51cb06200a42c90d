"""Every portal page in a real browser: axe-core finds no serious or critical violation, at
360 px and 1280 px wide, in English and Russian; a screenshot of each is saved under
var/screenshots/; no request leaves for another origin and the CSP blocks nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from tests.api.support import add_person
from tests.portal.live import Live, axe_script, screenshot_dir

WIDTHS = (360, 1280)


def _pages(live: Live, page: Page) -> Iterator[tuple[str, str]]:
    """Walk every page a person meets, from the sign-in page to an erasure request."""
    gw = live.gw
    cid, values = add_person(gw)
    gw.consent(cid, "marketing_email")
    gw.consent(cid, "marketing_sms", version=1)
    base = live.url
    page.goto(f"{base}/portal/code")
    yield "code", page.url
    page.get_by_label("Mobile phone number").fill(values["phone"])
    page.get_by_role("button", name="Send me a code").click()
    yield "code-sent", page.url
    page.goto(f"{base}/portal/login")
    yield "login", page.url
    page.get_by_label("Email address").fill(values["email"])
    page.get_by_role("button", name="Send me a sign-in link").click()
    yield "login-sent", page.url
    page.goto(live.link_for(gw.audit_ref(cid)))
    yield "sign-in", page.url
    page.get_by_role("button", name="Sign in").click()
    for name in ("profile", "consents", "activity", "held", "rights", "erase"):
        page.goto(f"{base}/portal/{name}")
        yield name, page.url
    page.get_by_label("I understand and want my data deleted").check()
    page.get_by_role("button", name="Ask for erasure").click()
    yield "request", page.url
    page.goto(f"{base}/portal/requests/not-a-request")
    yield "not-found", page.url


def _serious(page: Page, script: str) -> list[dict[str, Any]]:
    page.add_script_tag(content=script)
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"] if v["impact"] in ("serious", "critical")
    ]


@pytest.fixture
def axe_context(chromium_browser: Browser) -> Iterator[BrowserContext]:
    """A context that may inject axe despite the page's CSP (for the checks only)."""
    ctx = chromium_browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 900})
    yield ctx
    ctx.close()


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_every_page_passes_axe_at_both_widths_and_is_captured(
        live: Live, axe_context: BrowserContext, lang: str) -> None:
    # given: axe-core, and a person going through every page
    script = axe_script().read_text(encoding="utf-8")
    page = axe_context.new_page()
    found: dict[str, list[dict[str, Any]]] = {}
    shots = screenshot_dir()
    for name, url in _pages(live, page):
        if lang == "ru":
            if name in ("login-sent", "code-sent"):  # answers to a POST: checked in English only
                continue
            axe_context.add_cookies([{"name": "cgw_lang", "value": "ru", "url": live.url}])
            page.goto(url)
        for width in WIDTHS if lang == "en" else (360,):  # Russian: where long words break
            # when: checking and capturing the page at each width
            page.set_viewport_size({"width": width, "height": 900})
            page.screenshot(path=str(shots / f"{name}-{lang}-{width}.png"), full_page=True)
            violations = _serious(page, script)
            if violations:
                found[f"{name}@{width}"] = violations
            # and: nothing is wider than the screen at 360 px (no sideways scrolling of the page)
            if width == 360:
                overflow = page.evaluate("document.documentElement.scrollWidth")
                assert overflow <= 360, (name, overflow)
        if lang == "ru":  # back to English, where the walk goes on by English labels
            axe_context.clear_cookies(name="cgw_lang")
            page.goto(url)
    # then: no serious or critical violation anywhere
    assert found == {}


def test_no_third_party_request_and_nothing_blocked_by_the_csp(live: Live, chromium_browser: Browser) -> None:
    # given: a context that enforces the page's CSP and records every request and message
    ctx = chromium_browser.new_context()
    page = ctx.new_page()
    requests: list[str] = []
    problems: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    # when: walking every page
    visited = [name for name, _ in _pages(live, page)]
    ctx.close()
    # then: every request went to the portal's own origin, none was refused by the CSP
    assert len(visited) == 13
    assert requests and all(u.startswith(live.url + "/") for u in requests), [
        u for u in requests if not u.startswith(live.url)]
    assert not [p for p in problems if "Content Security Policy" in p], problems
