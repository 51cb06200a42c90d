"""The person's rights: take their data (JSON, a readable page, a PDF), ask for erasure, follow
their requests."""

from __future__ import annotations

from sqlalchemy import Connection
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.portal.requests import (
    export_document,
    my_case,
    my_cases,
    pending_erasure,
    request_erasure,
)
from gateway.portal.summary_pdf import pdf_font, summary_pdf
from gateway.portal.web.base import Visit, Web
from gateway.portal.web.pages import ALL
from gateway.rights.export import dumps
from gateway.rights.subjects import Person
from gateway.store.types import utcnow


def routes(web: Web) -> list[Route]:
    """The rights page, the export download, the erasure request and the request pages."""
    portal = web.portal
    font = pdf_font(portal.portal.pdf_font)

    def _person(visit: Visit) -> Person:
        assert visit.person is not None
        return visit.person

    async def rights(request: Request) -> Response:
        def work(conn: Connection, visit: Visit) -> Response:
            return web.render(visit, "rights.html", title=visit.t("nav.rights"),
                              cases=my_cases(conn, portal, _person(visit)), today=utcnow().date(),
                              pdf=font is not None)
        return await web.signed_in(request, "rights", work)

    async def download(request: Request) -> Response:
        def work(conn: Connection, visit: Visit) -> Response:
            case, document = export_document(conn, portal, _person(visit))
            name = f"my-data-{utcnow():%Y%m%d}.json"
            return Response(dumps(document, indent=True), media_type="application/json", headers={
                "Content-Disposition": f'attachment; filename="{name}"', "X-Case": case.ref})
        return await web.signed_in(request, "export", work, change=True, fields=ALL)

    async def download_pdf(request: Request) -> Response:
        def work(conn: Connection, visit: Visit) -> Response:
            if font is None:  # no Unicode font installed: the page offers no PDF either
                return web.error(visit, 404)
            case, document = export_document(conn, portal, _person(visit))
            name = f"my-data-{utcnow():%Y%m%d}.pdf"
            return Response(summary_pdf(document, visit.t, font), media_type="application/pdf",
                            headers={"Content-Disposition": f'attachment; filename="{name}"',
                                     "X-Case": case.ref})
        return await web.signed_in(request, "export", work, change=True, fields=ALL)

    async def erase_form(request: Request) -> Response:
        def work(conn: Connection, visit: Visit) -> Response:
            return web.render(visit, "erase.html", title=visit.t("erase.title"),
                              pending=pending_erasure(conn, portal, _person(visit)))
        return await web.signed_in(request, "erase", work)

    async def erase(request: Request) -> Response:
        def work(conn: Connection, visit: Visit) -> Response:
            if visit.incoming.form.get("confirm") != "yes":
                return web.render(visit, "erase.html", 400, title=visit.t("erase.title"),
                                  pending=None, problem="erase.confirm_needed")
            case = request_erasure(conn, portal, _person(visit))
            return web.redirect(visit, f"/portal/requests/{case.ref}")
        return await web.signed_in(request, "erase", work, change=True)

    async def case(request: Request) -> Response:
        ref = str(request.path_params["ref"])[:64]

        def work(conn: Connection, visit: Visit) -> Response:
            found, steps = my_case(conn, portal, _person(visit), ref)
            return web.render(visit, "request.html", title=visit.t("request.title"), case=found,
                              steps=steps, today=utcnow().date())
        return await web.signed_in(request, "request", work)

    return [
        Route("/rights", rights, methods=["GET"]),
        Route("/export", download, methods=["POST"]),
        Route("/export.pdf", download_pdf, methods=["POST"]),
        Route("/erase", erase_form, methods=["GET"]),
        Route("/erase", erase, methods=["POST"]),
        Route("/requests/{ref}", case, methods=["GET"]),
    ]
