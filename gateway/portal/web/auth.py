"""Signing in and out, and choosing the language.

`POST /portal/login` answers the same page, at once, for any address: the lookup and the
sending happen afterwards on the link dispatcher's thread. Rate limits (per address digest
and per IP) refuse with 429 alike for known and unknown addresses.

The link (`GET /portal/auth/{token}`) consumes nothing, so mail scanners that fetch links
cannot use them up. It moves the token out of the URL at once: into an HttpOnly,
SameSite=Strict cookie scoped to `/portal/auth` and living as long as the link, then a 303
to `/portal/auth`, a page with a button; the button's POST redeems the token from the cookie
and starts the session. So the token is in one request line only (the link's own, which the
access log redacts, gateway/ops/logs.py), never in the address bar, the history, a Referer,
a form or a page; and all of it works without JavaScript (a token in the URL's fragment would
stay out of every request line, but only script could read it).
"""

from __future__ import annotations

from sqlalchemy import Connection
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.portal.tokens import end_session, redeem_link, start_session
from gateway.portal.web.base import LANG_COOKIE, LINK_COOKIE, LINK_COOKIE_PATH, Visit, Web
from gateway.portal.web.i18n import negotiate

MAX_EMAIL = 254
HOME = "/portal/profile"


def _safe_next(path: str | None) -> str:
    """A portal path to go back to (never another site, never a query string)."""
    if path and path.startswith("/portal/") and "//" not in path and "?" not in path and "\\" not in path:
        return path
    return HOME


def signed_in(web: Web, conn: Connection, visit: Visit, customer_id: int, channel: str) -> Response:
    """Start `customer_id`'s session (ending this browser's old one), audited; go home."""
    if visit.session is not None:  # signing in again ends the old session
        end_session(conn, visit.session)
    cookie, _session = start_session(conn, web.portal.portal, customer_id)
    web.portal.record(conn, customer_id, "portal.signin", "portal sign-in",
                      extra={"channel": channel}, request_id=visit.request_id)
    response = web.redirect(visit, HOME)
    web.set_cookie(response, visit, web.session_cookie_name(visit), cookie,
                   web.portal.portal.session_minutes * 60)
    return response


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
            if not web.limits.allow("link", digest, visit.incoming.client_ip):
                return web.error(visit, 429)
            web.dispatcher.submit(email, visit.t.language)
            return web.render(visit, "login_sent.html", title=visit.t("sent.title"),
                              minutes=web.portal.portal.link_minutes)
        return await web.public(request, work)

    async def link(request: Request) -> Response:
        token = str(request.path_params["token"])[:128]

        def work(conn: Connection, visit: Visit) -> Response:
            # Nothing is looked up here: a made-up token gets the same answer as a real one.
            response = web.redirect(visit, LINK_COOKIE_PATH)
            web.set_cookie(response, visit, LINK_COOKIE, token, web.portal.portal.link_minutes * 60,
                           path=LINK_COOKIE_PATH)
            return response
        return await web.public(request, work)

    async def auth_form(request: Request) -> Response:
        def work(conn: Connection, visit: Visit) -> Response:
            if not visit.incoming.link_token:
                return web.render(visit, "auth_failed.html", 400, title=visit.t("auth.failed_title"))
            return web.render(visit, "auth.html", title=visit.t("auth.title"))
        return await web.public(request, work)

    async def auth(request: Request) -> Response:
        def work(conn: Connection, visit: Visit) -> Response:
            if not web.csrf_ok(visit):
                return web.error(visit, 403)
            customer_id = redeem_link(conn, visit.incoming.link_token or "")
            if customer_id is None:
                response = web.render(visit, "auth_failed.html", 400,
                                      title=visit.t("auth.failed_title"))
                response.delete_cookie(LINK_COOKIE, path=LINK_COOKIE_PATH)
                return response
            response = signed_in(web, conn, visit, customer_id, "email")
            response.delete_cookie(LINK_COOKIE, path=LINK_COOKIE_PATH)
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
        Route("/auth/{token}", link, methods=["GET"]),
        Route("/auth", auth_form, methods=["GET"]),
        Route("/auth", auth, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/language", language, methods=["POST"]),
    ]
