"""Signing in with a code by SMS: ask for it by phone number, then type it.

`POST /portal/code` answers the same page, at once, for any number (the lookup and the
sending happen on the dispatcher's thread, as for links): a form to type the code, with the
number the person typed in a hidden field (in the page body, never in a URL or a cookie).
`POST /portal/code/verify` checks the number and the code together; every failure (wrong
code, expired, used, too many tries, unknown number) gets the same answer. Rate limits per
number digest and per IP on asking, per IP on typing; the attempts per code are counted in
the database (gateway/portal/codes.py).
"""

from __future__ import annotations

import re

from sqlalchemy import Connection
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.errors import ServiceError
from gateway.portal.codes import redeem_code
from gateway.portal.web.auth import HOME, signed_in
from gateway.portal.web.base import Visit, Web
from gateway.profile.identity import find_customer_by

PHONE = re.compile(r"^\+?[0-9][0-9 ()\-]{5,24}$")


def routes(web: Web) -> list[Route]:
    """The code routes."""
    portal = web.portal

    def enter(visit: Visit, phone: str, status: int = 200, problem: str | None = None) -> Response:
        extra = {"problem": problem} if problem else {}
        return web.render(visit, "code_enter.html", status, title=visit.t("sms.enter_title"),
                          phone=phone, minutes=portal.portal.code_minutes, **extra)

    async def form(request: Request) -> Response:
        def work(conn: Connection, visit: Visit) -> Response:
            if visit.person is not None:
                return web.redirect(visit, HOME)
            return web.render(visit, "code.html", title=visit.t("sms.title"))
        return await web.public(request, work)

    async def ask(request: Request) -> Response:
        def work(conn: Connection, visit: Visit) -> Response:
            if not web.csrf_ok(visit):
                return web.error(visit, 403)
            phone = visit.incoming.form.get("phone", "").strip()
            if not PHONE.match(phone):
                return web.render(visit, "code.html", 400, title=visit.t("sms.title"),
                                  problem="sms.invalid_phone")
            digest = portal.vault.blind.digest("phone", phone) or "blank"
            if not web.limits.allow("code", digest, visit.incoming.client_ip):
                return web.error(visit, 429)
            web.dispatcher.submit(phone, visit.t.language, channel="sms")
            return enter(visit, phone)
        return await web.public(request, work)

    async def verify(request: Request) -> Response:
        def work(conn: Connection, visit: Visit) -> Response:
            if not web.csrf_ok(visit):
                return web.error(visit, 403)
            phone = visit.incoming.form.get("phone", "").strip()[:32]
            code = visit.incoming.form.get("code", "")[:16]
            if not web.limits.allow("verify", None, visit.incoming.client_ip):
                return web.error(visit, 429)
            try:
                customer_id = find_customer_by(conn, portal.vault, "phone", phone) if phone else None
            except ServiceError:  # a number several people share signs no one in
                customer_id = None
            if not redeem_code(conn, portal.portal, portal.code_key, customer_id, code):
                return enter(visit, phone, 400, "sms.wrong")
            assert customer_id is not None
            return signed_in(web, conn, visit, customer_id, "sms")
        return await web.public(request, work)

    return [
        Route("/code", form, methods=["GET"]),
        Route("/code", ask, methods=["POST"]),
        Route("/code/verify", verify, methods=["POST"]),
    ]
