"""Signing in with a code by SMS: single use, short-lived, stored as an HMAC, bound to one
customer, a few attempts, and the same answers for known and unknown numbers."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from gateway.portal.sender import Message
from gateway.portal.tables import portal_codes
from gateway.store.types import utcnow
from tests.api.support import add_person
from tests.harness import Gateway
from tests.portal.support import browser, code_for, csrf_of, enter_code, portal_web


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def test_a_code_signs_in_once_and_is_stored_only_as_an_hmac(gw: Gateway) -> None:
    # given: a customer and a code for them
    cid, values = add_person(gw)
    code = code_for(gw, values["phone"])
    # when: the code is typed twice, in two browsers
    first, second = browser(gw), browser(gw)
    used = enter_code(first, values["phone"], code)
    reused = enter_code(second, values["phone"], code)
    # then: the first signs in, the second is refused with no session
    assert used.status_code == 303 and used.headers["location"] == "/portal/profile"
    assert first.get("/portal/profile").status_code == 200
    assert reused.status_code == 400 and "cgw_portal" not in reused.headers.get("set-cookie", "")
    assert second.get("/portal/profile").status_code == 303
    # and: the row holds a 64-hex HMAC, not the digits, bound to the customer
    with gw.engine.connect() as conn:
        rows = conn.execute(select(portal_codes).where(portal_codes.c.customer_id == cid)).all()
    assert len(rows) == 1 and rows[0].used_at is not None and code not in repr(rows)


def test_a_code_is_bound_to_its_customer(gw: Gateway) -> None:
    # given: two customers, a code for the first
    _, ann = add_person(gw)
    _, bob = add_person(gw)
    code = code_for(gw, ann["phone"])
    # when: the code is typed with the other customer's number
    answer = enter_code(browser(gw), bob["phone"], code)
    # then: refused; the control (the right number) still signs in
    assert answer.status_code == 400
    assert enter_code(browser(gw), ann["phone"], code).status_code == 303


def test_an_expired_code_is_refused(gw: Gateway) -> None:
    # given: a code whose time is up
    cid, values = add_person(gw)
    code = code_for(gw, values["phone"])
    with gw.engine.begin() as conn:
        conn.execute(update(portal_codes).where(portal_codes.c.customer_id == cid)
                     .values(expires_at=utcnow() - timedelta(seconds=1)))
    # when / then: refused; a fresh code (control) works
    assert enter_code(browser(gw), values["phone"], code).status_code == 400
    assert enter_code(browser(gw), values["phone"], code_for(gw, values["phone"])).status_code == 303


def test_a_code_allows_five_attempts_then_not_even_the_right_digits(gw: Gateway) -> None:
    # given: a code, and five wrong tries
    cid, values = add_person(gw)
    code = code_for(gw, values["phone"])
    client = browser(gw)
    wrong = [enter_code(client, values["phone"], _wrong(code)).status_code for _ in range(5)]
    # when: the right code comes sixth
    right = enter_code(client, values["phone"], code)
    # then: refused like the others; the attempts are counted in the database
    assert wrong == [400] * 5 and right.status_code == 400
    with gw.engine.connect() as conn:
        assert conn.execute(select(portal_codes.c.attempts)
                            .where(portal_codes.c.customer_id == cid)).scalar_one() == 5


def test_a_new_code_replaces_the_earlier_one(gw: Gateway) -> None:
    # given: two codes asked for in a row
    _, values = add_person(gw)
    old = code_for(gw, values["phone"])
    new = code_for(gw, values["phone"])
    # when / then: the old one no longer works, the new one does
    if old != new:
        assert enter_code(browser(gw), values["phone"], old).status_code == 400
    assert enter_code(browser(gw), values["phone"], new).status_code == 303


class _Capture:
    def __init__(self) -> None:
        self.sent: list[Message] = []

    def send(self, message: Message) -> None:
        self.sent.append(message)


def test_known_and_unknown_numbers_get_the_same_answers(gw: Gateway) -> None:
    # given: a known number, an unknown one, a capturing sender
    cid, values = add_person(gw)
    unknown = "+4479" + f"{(cid * 7919) % 10**8:08d}"
    web = portal_web(gw)
    sender, before = _Capture(), web.portal.sender
    object.__setattr__(web.portal, "sender", sender)
    try:
        client = browser(gw)
        token = csrf_of(client.get("/portal/code"))
        # when: asking for a code for each, then typing a wrong code for each
        asked = [client.post("/portal/code", data={"csrf": token, "phone": p})
                 for p in (values["phone"], unknown)]
        web.dispatcher.drain()
        typed = [client.post("/portal/code/verify", data={"csrf": token, "phone": p, "code": "000000"
                             if sender.sent[0].code != "000000" else "111111"})
                 for p in (values["phone"], unknown)]
    finally:
        object.__setattr__(web.portal, "sender", before)
    # then: the same status and page (but the number each page carries back)
    for pair in (asked, typed):
        known_page, unknown_page = (r.text.replace(p, "NUMBER")
                                    for r, p in zip(pair, (values["phone"], unknown), strict=True))
        assert pair[0].status_code == pair[1].status_code and known_page == unknown_page
    assert [r.status_code for r in asked] == [200, 200] and [r.status_code for r in typed] == [400, 400]
    # and: only the known number got an SMS, and it names no number
    assert [m.subject_ref for m in sender.sent] == [gw.audit_ref(cid)]
    assert sender.sent[0].channel == "sms" and values["phone"] not in sender.sent[0].body
    # and: the code it carries, typed on the page the request answered, signs in
    assert sender.sent[0].code is not None
    signed = client.post("/portal/code/verify", data={
        "csrf": csrf_of(asked[0]), "phone": values["phone"], "code": sender.sent[0].code})
    assert signed.status_code == 303 and client.get("/portal/profile").status_code == 200


def test_code_requests_are_rate_limited_per_number_alike_for_unknown_ones(gw: Gateway) -> None:
    # given: a known and an unknown number, each asked for from its own client address
    cid, values = add_person(gw)
    statuses: dict[str, list[int]] = {}
    for label, phone, host in (("known", values["phone"], "10.3.0.1"),
                               ("unknown", "+4479" + f"{(cid * 104729) % 10**8:08d}", "10.3.0.2")):
        client = browser(gw, client=(host, 5000))
        token = csrf_of(client.get("/portal/code"))
        # when: asking six times
        statuses[label] = [client.post("/portal/code", data={"csrf": token, "phone": phone}).status_code
                           for _ in range(6)]
    portal_web(gw).dispatcher.drain()
    # then: five answers, then 429, the same for both
    assert statuses["known"] == statuses["unknown"] == [200] * 5 + [429]


def test_code_forms_need_their_csrf_token(gw: Gateway) -> None:
    # given: a customer with a live code, a browser that has seen the code page
    _, values = add_person(gw)
    code = code_for(gw, values["phone"])
    client = browser(gw)
    client.get("/portal/code")
    # when: posting both forms without the token
    asked = client.post("/portal/code", data={"phone": values["phone"]})
    typed = client.post("/portal/code/verify", data={"phone": values["phone"], "code": code})
    # then: refused, and the code was not spent (control: it still signs in)
    assert (asked.status_code, typed.status_code) == (403, 403)
    assert enter_code(browser(gw), values["phone"], code).status_code == 303
