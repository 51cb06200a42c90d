"""Signing in and out, and choosing the language.

`POST /portal/login` answers the same page, at once, for any address: the lookup and the
sending happen afterwards on the link dispatcher's thread. Rate limits (per address digest
and per IP) refuse with 429 alike for known and unknown addresses. The link opens a page
with a button (`GET /portal/auth/{token}` consumes nothing, so mail scanners that fetch
links cannot use them up); the button's POST redeems the token and starts the session.
"""

from __future__ import annotations

from sqlalchemy import Connection
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.portal.tokens import end_session, redeem_link, start_session
from gateway.portal.web.base import LANG_COOKIE, Visit, Web
from gateway.portal.web.i18n import negotiate

MAX_EMAIL = 254
HOME = "/portal/profile"


def _safe_next(path: str | None) -> str:
    """A portal path to go back to (never another site, never a query string)."""
    if path and path.startswith("/portal/") and "//" not in path and "?" not in path and "\\" not in path:
        return path
    return HOME


def routes(web: Web) -> list[Route]:
    """The sign-in, sign-out and language routes."""

    async def index(request: Request) -> Response:
        def work(conn: Connection, visit: Visit) -> Response:
            return web.redirect(visit, HOME if visit.person else "/portal/login")
        return await web.public(request, work)

    async def login_form(request: Request) -> Response:
        def work(conn: Connection, visit: Visit) -> Response:
            if visit.person is not None:
                return web.redirect(visit, HOME)
            return web.render(visit, "login.html", title=visit.t("login.title"))
        return await web.public(request, work)

    async def login(request: Request) -> Response:
        def work(conn: Connection, visit: Visit) -> Response:
            if not web.csrf_ok(visit):
                return web.error(visit, 403)
            email = visit.incoming.form.get("email", "").strip()
            if not email or len(email) > MAX_EMAIL or "@" not in email:
                return web.render(visit, "login.html", 400, title=visit.t("login.title"),
                                  problem="login.invalid")
            digest = web.portal.vault.blind.digest("email", email) or "blank"
            if not web.limits.allow(digest, visit.incoming.client_ip):
                return web.error(visit, 429)
            web.dispatcher.submit(email, visit.t.language)
            return web.render(visit, "login_sent.html", title=visit.t("sent.title"),
                              minutes=web.portal.portal.link_minutes)
        return await web.public(request, work)

    async def auth_form(request: Request) -> Response:
        token = request.path_params["token"]

        def work(conn: Connection, visit: Visit) -> Response:
            return web.render(visit, "auth.html", title=visit.t("auth.title"), token=token[:128])
        return await web.public(request, work)

    async def auth(request: Request) -> Response:
        def work(conn: Connection, visit: Visit) -> Response:
            if not web.csrf_ok(visit):
                return web.error(visit, 403)
            customer_id = redeem_link(conn, visit.incoming.form.get("token", ""))
            if customer_id is None:
                return web.render(visit, "auth_failed.html", 400, title=visit.t("auth.failed_title"))
            if visit.session is not None:  # signing in again ends the old session
                end_session(conn, visit.session)
            cookie, _session = start_session(conn, web.portal.portal, customer_id)
            web.portal.record(conn, customer_id, "portal.signin", "portal sign-in",
                              extra={"channel": "email"}, request_id=visit.request_id)
            response = web.redirect(visit, HOME)
            web.set_cookie(response, visit, web.session_cookie_name(visit), cookie,
                           web.portal.portal.session_minutes * 60)
            return response
        return await web.public(request, work)

    async def logout(request: Request) -> Response:
        def work(conn: Connection, visit: Visit) -> Response:
            if visit.session is not None and web.csrf_ok(visit):
                end_session(conn, visit.session)
                web.portal.record(conn, visit.customer_id, "portal.signout", "portal sign-out",
                                  request_id=visit.request_id)
            elif visit.session is not None:
                return web.error(visit, 403)
            response = web.redirect(visit, "/portal/login")
            response.delete_cookie(web.session_cookie_name(visit), path="/")
            return response
        return await web.public(request, work)

    async def language(request: Request) -> Response:
        def work(conn: Connection, visit: Visit) -> Response:
            if not web.csrf_ok(visit):
                return web.error(visit, 403)
            chosen = negotiate(visit.incoming.form.get("lang"), None)
            response = web.redirect(visit, _safe_next(visit.incoming.form.get("next")))
            web.set_cookie(response, visit, LANG_COOKIE, chosen, 365 * 24 * 3600)
            return response
        return await web.public(request, work)

    return [
        Route("/", index, methods=["GET"]),
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/auth/{token}", auth_form, methods=["GET"]),
        Route("/auth", auth, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/language", language, methods=["POST"]),
    ]
