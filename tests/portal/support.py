"""Helpers of the portal tests: the portal inside a test gateway, signing people in, forms."""

from __future__ import annotations

import re
from typing import Any

import httpx2 as httpx
from starlette.routing import Mount
from starlette.testclient import TestClient

from gateway.portal.links import prepare_code, prepare_link
from gateway.portal.web.base import Web
from tests.harness import Gateway

CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')


def portal_web(gw: Gateway) -> Web:
    """The portal's shared parts inside `gw`'s app."""
    for route in gw.client.app.routes:  # type: ignore[attr-defined]
        if isinstance(route, Mount) and route.path == "/portal":
            web: Web = route.app.web  # type: ignore[attr-defined]
            return web
    raise AssertionError("the portal is not mounted")


def browser(gw: Gateway, **kwargs: Any) -> TestClient:
    """A client of its own (its own cookie jar), like one person's browser."""
    return TestClient(gw.client.app, follow_redirects=False, **kwargs)


def csrf_of(page: httpx.Response) -> str:
    """The CSRF token of the first form on `page`."""
    found = CSRF.search(page.text)
    assert found, page.text[:500]
    return found.group(1)


def link_for(gw: Gateway, email: str) -> str:
    """Issue a sign-in link for `email` the way the dispatcher does; its path."""
    web = portal_web(gw)
    with gw.engine.begin() as conn:
        message = prepare_link(conn, web.portal, email)
    assert message is not None
    return message.link.split("testserver", 1)[-1].replace(web.portal.portal.base_url, "")


def token_of(link: str) -> str:
    """The token at the end of a sign-in link."""
    return link.rsplit("/", 1)[-1]


def redeem(client: TestClient, token: str) -> httpx.Response:
    """Open the link (its token moves to a cookie, the browser to /portal/auth), press the button."""
    moved = client.get(f"/portal/auth/{token}")
    assert moved.status_code == 303 and moved.headers["location"] == "/portal/auth", moved.text
    page = client.get("/portal/auth")
    assert page.status_code == 200 and token not in page.text
    return client.post("/portal/auth", data={"csrf": csrf_of(page)})


def sign_in(gw: Gateway, email: str) -> TestClient:
    """A client signed in as the customer with `email`."""
    client = browser(gw)
    answer = redeem(client, token_of(link_for(gw, email)))
    assert answer.status_code == 303 and answer.headers["location"] == "/portal/profile", answer.text
    return client


def post_form(client: TestClient, page_path: str, action: str, data: dict[str, str]) -> httpx.Response:
    """Load `page_path`, take its CSRF token, POST `data` to `action`."""
    page = client.get(page_path)
    assert page.status_code == 200, page.text[:300]
    return client.post(action, data={"csrf": csrf_of(page), **data})


def code_for(gw: Gateway, phone: str) -> str:
    """Issue a sign-in code for `phone` the way the dispatcher does; its digits."""
    web = portal_web(gw)
    with gw.engine.begin() as conn:
        message = prepare_code(conn, web.portal, phone)
    assert message is not None and message.code is not None
    return message.code


def enter_code(client: TestClient, phone: str, code: str) -> httpx.Response:
    """Type `code` for `phone` (with the signed-out CSRF token of the code page); asking
    through the form would issue another code, which replaces the one given."""
    page = client.get("/portal/code")
    return client.post("/portal/code/verify",
                       data={"csrf": csrf_of(page), "phone": phone, "code": code})
