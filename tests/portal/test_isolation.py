"""One customer's session can neither read nor change another's data, on any route.

Routes never take a customer id (the customer is the session's); the two that take an id
of something (a receipt, a request) answer 404 for another customer's. Every form is also
tried with the other customer's ids slipped in as extra fields: they are ignored.
"""

from __future__ import annotations

from sqlalchemy import select
from starlette.routing import Mount, Route

from gateway.consent.tables import consent_state, preference_state
from gateway.portal.tables import portal_receipts
from gateway.rights.tables import rights_cases
from tests.api.support import add_person, secrets_of
from tests.harness import Gateway
from tests.portal.support import csrf_of, portal_web, post_form, sign_in

GET_PAGES = ["/portal/profile", "/portal/consents", "/portal/activity", "/portal/held",
             "/portal/rights", "/portal/erase"]
FORMS = {
    "/portal/consents": {"purpose": "marketing_sms", "action": "grant"},
    "/portal/channels": {"channel": "sms", "value": "opt_out"},
    "/portal/objections": {"scope": "profiling", "value": "on"},
    "/portal/restriction": {"value": "on"},
    "/portal/export": {},
    "/portal/export.pdf": {},
    "/portal/erase": {"confirm": "yes"},
}
BY_ID = ["/portal/receipts/{receipt_id}", "/portal/requests/{ref}"]
PUBLIC = ["/portal/", "/portal/login", "/portal/auth/{token}", "/portal/auth", "/portal/logout",
          "/portal/code", "/portal/code/verify",
          "/portal/language"]


def _state(gw: Gateway, cid: int) -> tuple[list[tuple[str, ...]], ...]:
    with gw.engine.connect() as conn:
        cs, ps, r = consent_state.c, preference_state.c, rights_cases.c
        return (
            sorted(tuple(map(str, row)) for row in conn.execute(
                select(cs.purpose, cs.action, cs.event_id).where(cs.customer_id == cid))),
            sorted(tuple(map(str, row)) for row in conn.execute(
                select(ps.kind, ps.key, ps.value, ps.event_id).where(ps.customer_id == cid))),
            sorted(tuple(map(str, row)) for row in conn.execute(
                select(r.ref, r.status).where(r.customer_id == cid))),
        )


def test_every_route_is_covered_here(gw: Gateway) -> None:
    # given: the portal's routes
    app = portal_web(gw)
    mount = next(r for r in gw.client.app.routes if isinstance(r, Mount) and r.path == "/portal")  # type: ignore[attr-defined]
    inner = mount.app.app  # type: ignore[attr-defined]
    paths = {f"/portal{r.path}" for r in inner.routes if isinstance(r, Route)}
    # then: each is a page, a form, an id route or a public route this module knows
    assert app is not None
    assert paths == set(GET_PAGES) | set(FORMS) | set(BY_ID) | set(PUBLIC)


def test_a_session_cannot_read_or_change_another_customers_data(gw: Gateway) -> None:
    # given: two customers; B has a receipt and a request of their own
    a_id, a_values = add_person(gw)
    b_id, b_values = add_person(gw)
    gw.consent(b_id, "marketing_email")
    b = sign_in(gw, b_values["email"])
    assert post_form(b, "/portal/consents", "/portal/consents",
                     {"purpose": "marketing_email", "action": "withdraw"}).status_code == 303
    b_case = post_form(b, "/portal/erase", "/portal/erase", {"confirm": "yes"})
    b_ref = b_case.headers["location"].rsplit("/", 1)[-1]
    with gw.engine.connect() as conn:
        b_receipt = conn.execute(select(portal_receipts.c.receipt_id)
                                 .where(portal_receipts.c.customer_id == b_id)).scalar_one()
    b_before = _state(gw, b_id)
    a = sign_in(gw, a_values["email"])
    b_ids = {"customer_id": str(b_id), "customerId": gw.pseudonym(b_id), "id": b_ref,
             "ref": b_ref, "receipt": b_receipt}
    # when: A reads every page (with B's ids in the query) ...
    pages = {p: a.get(p, params=b_ids) for p in GET_PAGES}
    # ... asks for B's receipt and request ...
    receipt = a.get(f"/portal/receipts/{b_receipt}")
    case = a.get(f"/portal/requests/{b_ref}")
    # ... and posts every form with B's ids slipped in
    posted = {p: post_form(a, "/portal/consents", p, {**data, **b_ids}) for p, data in FORMS.items()}
    # then: A saw only their own data, never B's
    for path, page in pages.items():
        assert page.status_code == 200, path
        for secret in secrets_of(b_values):
            assert secret not in page.text, (path, secret)
    assert str(b_values["first_name"]) not in a.get("/portal/held").text
    assert receipt.status_code == 404 and b_receipt not in receipt.text
    assert case.status_code == 404 and "erase" not in case.headers.get("content-disposition", "")
    # and: B's consents, preferences and requests are exactly as they were; A's changed
    assert all(answer.status_code in (200, 303) for answer in posted.values()), {
        p: a.status_code for p, a in posted.items()}
    assert _state(gw, b_id) == b_before
    a_consents, a_prefs, a_cases = _state(gw, a_id)
    assert ("marketing_sms", "grant") == a_consents[0][:2]
    assert {(k, key, v) for k, key, v, _ in a_prefs} == {
        ("channel", "sms", "opt_out"), ("objection", "profiling", "on"),
        ("restriction", "processing", "on")}
    assert len(a_cases) == 3  # A's own exports (JSON, PDF) and erasure request
    # and: A's export holds A, not B
    export = posted["/portal/export"]
    assert a_values["email"] in export.text and b_values["email"] not in export.text


def test_a_request_page_of_ones_own_opens(gw: Gateway) -> None:
    # given: a customer who asked for erasure (the control of the 404 above)
    _, values = add_person(gw)
    client = sign_in(gw, values["email"])
    answer = post_form(client, "/portal/erase", "/portal/erase", {"confirm": "yes"})
    # when
    page = client.get(answer.headers["location"])
    # then
    assert page.status_code == 200 and "Erasure" in page.text
    assert csrf_of(page)
