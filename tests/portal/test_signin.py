"""Signing in: one-time links (single use, short-lived, hashed, bound to one customer),
sessions with safe cookies, CSRF on every form, rate limits, and link requests that answer
the same, at once, for known and unknown addresses."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from gateway.portal.sender import Message
from gateway.portal.tables import portal_links, portal_sessions
from gateway.portal.tokens import token_hash
from gateway.store.types import utcnow
from tests.api.support import add_person
from tests.harness import Gateway
from tests.portal.support import (
    browser,
    csrf_of,
    link_for,
    portal_web,
    redeem,
    sign_in,
    token_of,
)


def test_a_link_signs_in_once_and_is_stored_only_hashed(gw: Gateway) -> None:
    # given: a customer and a link for them
    cid, values = add_person(gw)
    token = token_of(link_for(gw, values["email"]))
    # when: the link is used twice, from two browsers
    first, second = browser(gw), browser(gw)
    used = redeem(first, token)
    reused = redeem(second, token)
    # then: the first signs in, the second is refused and gets no session
    assert used.status_code == 303 and used.headers["location"] == "/portal/profile"
    assert first.get("/portal/profile").status_code == 200
    assert reused.status_code == 400 and "cgw_portal" not in reused.headers.get("set-cookie", "")
    assert second.get("/portal/profile").status_code == 303
    # and: the database holds the token's hash only, bound to the customer
    with gw.engine.connect() as conn:
        rows = conn.execute(select(portal_links).where(portal_links.c.customer_id == cid)).all()
    assert [r.token_hash for r in rows] == [token_hash(token)]
    assert token not in repr(rows)


def test_an_expired_link_is_refused(gw: Gateway) -> None:
    # given: a link whose time is up
    _, values = add_person(gw)
    token = token_of(link_for(gw, values["email"]))
    with gw.engine.begin() as conn:
        conn.execute(update(portal_links).where(portal_links.c.token_hash == token_hash(token))
                     .values(expires_at=utcnow() - timedelta(seconds=1)))
    client = browser(gw)
    # when
    answer = redeem(client, token)
    # then: refused, nothing signed in; a control link still works
    assert answer.status_code == 400 and "expired" in answer.text
    assert client.get("/portal/profile").status_code == 303
    assert redeem(browser(gw), token_of(link_for(gw, values["email"]))).status_code == 303


def test_a_made_up_token_is_refused(gw: Gateway) -> None:
    # given / when
    answer = redeem(browser(gw), "x" * 43)
    # then
    assert answer.status_code == 400


def test_the_session_cookie_is_httponly_strict_with_expiry_and_secure_over_tls(gw: Gateway) -> None:
    # given: a customer
    _, values = add_person(gw)
    for base, name, secure in (("http://testserver", "cgw_portal", False),
                               ("https://testserver", "__Host-cgw_portal", True)):
        client = browser(gw, base_url=base)
        # when: signing in
        answer = redeem(client, token_of(link_for(gw, values["email"])))
        # then: the cookie is HttpOnly, SameSite=Strict, has a Max-Age, Secure only over TLS
        cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith(name + "="))
        attributes = {a.strip().split("=")[0].lower() for a in cookie.split(";")[1:]}
        assert {"httponly", "max-age", "path"} <= attributes
        assert "samesite=strict" in cookie.lower()
        assert ("secure" in attributes) is secure


def test_signing_out_ends_the_session_at_once(gw: Gateway) -> None:
    # given: a signed-in person, and the cookie they had
    _, values = add_person(gw)
    client = sign_in(gw, values["email"])
    stolen = browser(gw)
    stolen.cookies.update(client.cookies)
    assert stolen.get("/portal/profile").status_code == 200
    # when: they sign out
    page = client.get("/portal/profile")
    out = client.post("/portal/logout", data={"csrf": csrf_of(page)})
    # then: the old cookie no longer works anywhere
    assert out.status_code == 303
    assert stolen.get("/portal/profile").status_code == 303


@pytest.mark.parametrize("column", ["expires_at", "last_seen_at"])
def test_an_expired_or_idle_session_signs_out(gw: Gateway, column: str) -> None:
    # given: a session past its end (absolute) or unused too long (idle)
    cid, values = add_person(gw)
    client = sign_in(gw, values["email"])
    with gw.engine.begin() as conn:
        conn.execute(update(portal_sessions).where(portal_sessions.c.customer_id == cid)
                     .values({column: utcnow() - timedelta(hours=9)}))
    # when / then: the next page asks to sign in again
    answer = client.get("/portal/profile")
    assert answer.status_code == 303 and answer.headers["location"] == "/portal/login"


def test_forms_without_their_csrf_token_are_refused(gw: Gateway) -> None:
    # given: a signed-in person with an active consent, and another person's valid token
    cid, values = add_person(gw)
    gw.consent(cid, "marketing_email")
    client = sign_in(gw, values["email"])
    _, other_values = add_person(gw)
    other = sign_in(gw, other_values["email"])
    foreign = csrf_of(other.get("/portal/consents"))
    form = {"purpose": "marketing_email", "action": "withdraw"}
    # when: posting without a token, with a wrong one, with another session's
    answers = [client.post("/portal/consents", data=form),
               client.post("/portal/consents", data={**form, "csrf": "0" * 64}),
               client.post("/portal/consents", data={**form, "csrf": foreign})]
    # then: each is refused and the consent is unchanged; the control with the token works
    assert [a.status_code for a in answers] == [403, 403, 403]
    assert "Withdraw consent" in client.get("/portal/consents").text
    page = client.get("/portal/consents")
    assert client.post("/portal/consents", data={**form, "csrf": csrf_of(page)}).status_code == 303


@pytest.mark.parametrize("path", ["/portal/login", "/portal/language", "/portal/auth"])
def test_signed_out_forms_need_their_csrf_token_too(gw: Gateway, path: str) -> None:
    # given: a browser that has seen the sign-in page (it holds a pre-session cookie)
    client = browser(gw)
    client.get("/portal/login")
    # when: posting without the token
    answer = client.post(path, data={"email": "a@example.org", "lang": "ru", "token": "x"})
    # then
    assert answer.status_code == 403


class _Blocking:
    """A sender that waits until released: shows the answer does not wait for the sending."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.sent: list[Message] = []

    def send(self, message: Message) -> None:
        self.release.wait(10)
        self.sent.append(message)


def test_link_requests_answer_the_same_at_once_for_known_and_unknown_addresses(gw: Gateway) -> None:
    # given: a known address, an unknown one, and a sender that blocks
    cid, values = add_person(gw)
    unknown = f"nobody.{cid}@nowhere.example"
    web = portal_web(gw)
    sender, before = _Blocking(), web.portal.sender
    object.__setattr__(web.portal, "sender", sender)
    try:
        client = browser(gw)
        page = client.get("/portal/login")
        token = csrf_of(page)
        # when: asking for a link for each (the send of the known one is still blocked)
        known = client.post("/portal/login", data={"csrf": token, "email": values["email"]})
        other = client.post("/portal/login", data={"csrf": token, "email": unknown})
        answered_while_blocked = not sender.sent
        sender.release.set()
        web.dispatcher.drain()
    finally:
        object.__setattr__(web.portal, "sender", before)
    # then: the same status, body and headers (but the date), given before any sending
    assert answered_while_blocked
    assert (known.status_code, known.text) == (other.status_code, other.text) and known.status_code == 200
    drop = {"date"}
    assert ({k: v for k, v in known.headers.items() if k not in drop}
            == {k: v for k, v in other.headers.items() if k not in drop})
    # and: only the known address got a link, which works
    assert [m.subject_ref for m in sender.sent] == [gw.audit_ref(cid)]
    assert redeem(browser(gw), token_of(sender.sent[0].link)).status_code == 303


def test_link_requests_are_rate_limited_per_address_alike_for_unknown_ones(gw: Gateway) -> None:
    # given: a known and an unknown address, each asked for from its own client address
    cid, values = add_person(gw)
    web = portal_web(gw)
    statuses: dict[str, list[int]] = {}
    for label, email, host in (("known", values["email"], "10.1.0.1"),
                               ("unknown", f"x{cid}@nowhere.example", "10.1.0.2")):
        client = browser(gw, client=(host, 5000))
        token = csrf_of(client.get("/portal/login"))
        # when: asking six times
        statuses[label] = [client.post("/portal/login", data={"csrf": token, "email": email}).status_code
                           for _ in range(6)]
    web.dispatcher.drain()
    # then: five answers, then 429, the same for both
    assert statuses["known"] == statuses["unknown"] == [200] * 5 + [429]


def test_link_requests_are_rate_limited_per_ip(gw: Gateway) -> None:
    # given: one client address asking for many different addresses
    client = browser(gw, client=("10.2.0.9", 5000))
    token = csrf_of(client.get("/portal/login"))
    # when
    statuses = [client.post("/portal/login", data={"csrf": token, "email": f"n{i}@ip.example"}).status_code
                for i in range(31)]
    portal_web(gw).dispatcher.drain()
    # then: 30 per window, then refused
    assert statuses[:30] == [200] * 30 and statuses[30] == 429
