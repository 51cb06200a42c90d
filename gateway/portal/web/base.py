"""The machinery every portal page shares: who is asking, in which language, with which
CSRF token; one transaction per request with its audit entry; answers with safe cookies.

Handlers read the HTTP request on the event loop (`Incoming`), then do their database work
on a worker thread inside one transaction (`Visit`), the way the GraphQL endpoint does.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jinja2
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from gateway.errors import ServiceError
from gateway.portal.context import Portal
from gateway.portal.gpc import apply_gpc
from gateway.portal.links import LinkDispatcher
from gateway.portal.ratelimit import SignInLimits
from gateway.portal.tokens import Session, find_session
from gateway.portal.web.csrf import Csrf, new_pre_session
from gateway.portal.web.i18n import Translator, negotiate
from gateway.rights.subjects import Person, find_by_id

SESSION_COOKIE = "cgw_portal"
SECURE_SESSION_COOKIE = "__Host-cgw_portal"  # only over TLS: Secure, Path=/, no Domain
PRE_COOKIE = "cgw_pre"
LANG_COOKIE = "cgw_lang"
# A sign-in link's token, on its way from the link's URL to the sign-in button's POST.
LINK_COOKIE = "cgw_link"
LINK_COOKIE_PATH = "/portal/auth"
MAX_FORM_FIELD = 320
ERROR_KEYS = {400: "error.bad", 403: "error.forbidden", 404: "error.not_found",
              429: "error.too_many"}


@dataclass(frozen=True)
class Incoming:
    """What a handler needs from the HTTP request, read before any database work."""

    path: str
    secure: bool
    session_token: str | None
    pre_token: str | None
    link_token: str | None
    language: str
    gpc: bool
    client_ip: str
    form: dict[str, str]


async def incoming(request: Request) -> Incoming:
    """Read cookies, headers and (for a POST) the urlencoded form, each field bounded."""
    form: dict[str, str] = {}
    if request.method == "POST":
        async with request.form(max_files=0, max_fields=20) as data:
            form = {k: str(v)[:MAX_FORM_FIELD] for k, v in data.items() if isinstance(v, str)}
    secure = request.url.scheme == "https"
    cookies = request.cookies
    return Incoming(
        path=request.url.path, secure=secure,
        session_token=cookies.get(SECURE_SESSION_COOKIE if secure else SESSION_COOKIE),
        pre_token=cookies.get(PRE_COOKIE),
        link_token=cookies.get(LINK_COOKIE),
        language=negotiate(cookies.get(LANG_COOKIE), request.headers.get("accept-language")),
        gpc=request.headers.get("sec-gpc", "").strip() == "1",
        client_ip=request.client.host if request.client else "",
        form=form,
    )


@dataclass
class Visit:
    """One request as the portal sees it: the person (if signed in), language, CSRF token."""

    incoming: Incoming
    t: Translator
    csrf_token: str
    session: Session | None = None
    person: Person | None = None
    new_pre: str | None = None  # a pre-session cookie to set
    gpc_applied: list[str] = field(default_factory=list)
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def customer_id(self) -> int:
        """The signed-in person's internal id (only for signed-in handlers)."""
        assert self.person is not None
        return self.person.id

    @property
    def evidence(self) -> str:
        """What a change records as its evidence: the portal session it was made in."""
        return f"portal-session:{self.session.id}" if self.session else "portal"


Work = Callable[[Connection, Visit], Any]


class Web:
    """The portal's shared parts: domain, templates, CSRF, rate limits, link dispatcher."""

    def __init__(self, portal: Portal, master: bytes, templates: jinja2.Environment) -> None:
        self.portal = portal
        self.templates = templates
        self.csrf = Csrf(master)
        self.limits = SignInLimits(portal.portal, portal.settings.rate_limit_storage,
                                   portal.settings.rate_limit_namespace)
        self.dispatcher = LinkDispatcher(portal)

    # --- responses ---------------------------------------------------------------------------

    def render(self, visit: Visit, template: str, status: int = 200, **context: Any) -> Response:
        """A page in the visitor's language."""
        values: dict[str, Any] = {
            "t": visit.t, "lang": visit.t.language, "csrf": visit.csrf_token, "visit": visit,
            "signed_in": visit.person is not None, "path": visit.incoming.path,
            "operator": self.portal.purposes.operator}
        values.update(context)
        body = self.templates.get_template(template).render(values)
        return self.finish(visit, HTMLResponse(body, status_code=status))

    def error(self, visit: Visit, status: int) -> Response:
        """An error page saying what to do next (never echoing input)."""
        # The language form goes back home: an error page never echoes the path it was asked.
        return self.render(visit, "error.html", status, title=visit.t("error.title"),
                           key=ERROR_KEYS.get(status, "error.bad"), path="/portal/")

    def redirect(self, visit: Visit, to: str) -> Response:
        """303 See Other to a portal path (after a POST, or to sign in)."""
        return self.finish(visit, RedirectResponse(to, status_code=303))

    def finish(self, visit: Visit, response: Response) -> Response:
        """Set the pre-session cookie when one was made."""
        if visit.new_pre is not None:
            self.set_cookie(response, visit, PRE_COOKIE, visit.new_pre, None)
        return response

    def set_cookie(self, response: Response, visit: Visit, name: str, value: str,
                   max_age: int | None, path: str = "/") -> None:
        """HttpOnly, SameSite=Strict, Path=/ (unless given), Secure when served over TLS."""
        response.set_cookie(name, value, max_age=max_age, path=path, httponly=True,
                            samesite="strict", secure=visit.incoming.secure)

    def session_cookie_name(self, visit: Visit) -> str:
        """The session cookie's name (`__Host-` prefixed over TLS)."""
        return SECURE_SESSION_COOKIE if visit.incoming.secure else SESSION_COOKIE

    # --- visits ------------------------------------------------------------------------------

    def _visit(self, conn: Connection, came: Incoming) -> Visit:
        session = find_session(conn, self.portal.portal, came.session_token)
        person = find_by_id(conn, session.customer_id) if session is not None else None
        if session is not None and person is not None:
            return Visit(came, Translator(came.language), self.csrf.token(f"s:{session.token_hash}"),
                         session, person)
        pre, new = came.pre_token, None
        if not pre or len(pre) > 64:
            pre = new = new_pre_session()
        return Visit(came, Translator(came.language), self.csrf.token(f"p:{pre}"), new_pre=new)

    def csrf_ok(self, visit: Visit) -> bool:
        """The form carries the token of this session (or of this pre-session cookie)."""
        came = visit.incoming
        anchor = (f"s:{visit.session.token_hash}" if visit.session is not None
                  else f"p:{came.pre_token}" if came.pre_token and visit.new_pre is None else None)
        return self.csrf.valid(anchor, came.form.get("csrf"))

    async def public(self, request: Request, work: Callable[[Connection, Visit], Response]) -> Response:
        """A page anyone may see (sign-in): no audit entry, no personal data."""
        came = await incoming(request)

        def run() -> Response:
            with self.portal.engine.begin() as conn:
                return work(conn, self._visit(conn, came))

        return await run_in_threadpool(run)

    async def signed_in(self, request: Request, operation: str,
                        work: Callable[[Connection, Visit], Response], *, change: bool = False,
                        fields: dict[str, str] | None = None) -> Response:
        """A page or form of a signed-in person: one transaction, its audit entry, GPC honoured.

        `change`: a POST; refused (403) without the session's CSRF token, and audited by the
        service that makes the change. Otherwise a read, audited here.
        """
        came = await incoming(request)

        def run() -> Response:
            with self.portal.engine.begin() as conn:
                visit = self._visit(conn, came)
                if visit.person is None:
                    return self.redirect(visit, "/portal/login")
                if change and not self.csrf_ok(visit):
                    return self.error(visit, 403)
                if came.gpc:
                    visit.gpc_applied = apply_gpc(conn, self.portal, visit.customer_id,
                                                  evidence=visit.evidence, language=visit.t.language)
                savepoint = conn.begin_nested()
                try:
                    response = work(conn, visit)
                except ServiceError as exc:
                    savepoint.rollback()
                    status = 404 if exc.code.value == "NOT_FOUND" else 400
                    return self.error(visit, status)
                savepoint.commit()
                if not change:
                    self.portal.record(conn, visit.customer_id, "read", f"portal {operation}",
                                       fields=fields, request_id=visit.request_id)
                return response

        return await run_in_threadpool(run)
