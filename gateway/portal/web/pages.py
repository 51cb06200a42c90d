"""The pages that show the person their data: profile, what we hold, who used it, consents."""

from __future__ import annotations

from sqlalchemy import Connection
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.consent.purposes import CATEGORIES
from gateway.policy.codes import Code
from gateway.portal.activity import activity
from gateway.portal.choices import receipts_of
from gateway.portal.gpc import gpc_events, gpc_purposes
from gateway.portal.views import consents, preferences, profile_groups
from gateway.portal.web.base import Visit, Web
from gateway.rights import export
from gateway.rights.sections import sections
from gateway.rights.subjects import read_profile

CHANNELS = ("email", "sms", "push", "phone", "post")
OBJECTIONS = ("profiling", "direct_marketing")
ALL = {c: Code.ALLOWED.value for c in sorted(CATEGORIES - {"special"})}


def _jurisdiction(visit: Visit) -> str:
    assert visit.person is not None
    return visit.person.jurisdiction


def routes(web: Web) -> list[Route]:
    """The signed-in reading pages."""
    portal = web.portal

    async def profile(request: Request) -> Response:
        def work(conn: Connection, visit: Visit) -> Response:
            groups = profile_groups(conn, portal, visit.customer_id)
            return web.render(visit, "profile.html", title=visit.t("nav.profile"), groups=groups)
        return await web.signed_in(request, "profile", work, fields=ALL)

    async def held(request: Request) -> Response:
        def work(conn: Connection, visit: Visit) -> Response:
            found = [(s.name, s.description, s.export(conn, portal.vault, visit.customer_id))
                     for s in sections()]
            profile = {k: v for k, v in read_profile(conn, portal.vault, visit.customer_id).items()
                       if k != "id"}
            return web.render(visit, "held.html", title=visit.t("nav.held"), profile=profile,
                              sections=found, processing=export._processing(portal.purposes))
        return await web.signed_in(request, "held", work, fields=ALL)

    async def used(request: Request) -> Response:
        def work(conn: Connection, visit: Visit) -> Response:
            assert visit.person is not None
            return web.render(visit, "activity.html", title=visit.t("nav.activity"),
                              activity=activity(conn, portal, visit.person))
        return await web.signed_in(request, "activity", work)

    async def consents_page(request: Request) -> Response:
        receipt = request.query_params.get("receipt", "")[:64]

        def work(conn: Connection, visit: Visit) -> Response:
            prefs = preferences(conn, visit.customer_id)
            return web.render(
                visit, "consents.html", title=visit.t("nav.consents"),
                consents=consents(conn, portal, visit.customer_id, _jurisdiction(visit), visit.t.language),
                channels=[(c, prefs.get(("channel", c))) for c in CHANNELS],
                objections=[(s, prefs.get(("objection", s))) for s in OBJECTIONS],
                restriction=prefs.get(("restriction", "processing")),
                receipts=receipts_of(conn, visit.customer_id), receipt=receipt,
                gpc=gpc_events(conn, visit.customer_id),
                gpc_purposes=[p.name for p in gpc_purposes(portal)],
            )
        return await web.signed_in(request, "consents", work, fields={"preferences": "ALLOWED"})

    return [
        Route("/profile", profile, methods=["GET"]),
        Route("/held", held, methods=["GET"]),
        Route("/activity", used, methods=["GET"]),
        Route("/consents", consents_page, methods=["GET"]),
    ]
