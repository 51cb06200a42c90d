"""The forms that change the person's choices, and the download of their receipts.

Each is a POST with the session's CSRF token; each goes through the consent service
(source channel `portal`) and answers 303 to the consents page naming the new receipt.
Nothing here takes a customer id: the customer is always the session's.
"""

from __future__ import annotations

from sqlalchemy import Connection
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.errors import ServiceError
from gateway.policy.codes import Code
from gateway.portal import choices
from gateway.portal.web.base import Visit, Web

BACK = "/portal/consents"


def _int(value: str | None, field: str) -> int | None:
    if value is None or value.strip() == "":
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise ServiceError(Code.INVALID_INPUT, "a whole number", field) from exc


def _done(web: Web, visit: Visit, receipt_id: str) -> Response:
    return web.redirect(visit, f"{BACK}?receipt={receipt_id}#saved")


def routes(web: Web) -> list[Route]:
    """The change forms and the receipt download."""
    portal = web.portal

    async def consent(request: Request) -> Response:
        def work(conn: Connection, visit: Visit) -> Response:
            form = visit.incoming.form
            receipt = choices.change_consent(
                conn, portal, visit.customer_id, form.get("purpose", ""), form.get("action", ""),
                language=visit.t.language, evidence=visit.evidence)
            return _done(web, visit, receipt.id)
        return await web.signed_in(request, "consent", work, change=True)

    async def channel(request: Request) -> Response:
        def work(conn: Connection, visit: Visit) -> Response:
            form = visit.incoming.form
            opted_in = form.get("value") == "opt_in"
            count, days = _int(form.get("cap_count"), "cap_count"), _int(form.get("cap_days"), "cap_days")
            cap = (count, days) if opted_in and count is not None and days is not None else None
            receipt = choices.set_channel(conn, portal, visit.customer_id, form.get("channel", ""),
                                          opted_in, cap, evidence=visit.evidence)
            return _done(web, visit, receipt.id)
        return await web.signed_in(request, "channel", work, change=True)

    async def objection(request: Request) -> Response:
        def work(conn: Connection, visit: Visit) -> Response:
            form = visit.incoming.form
            receipt = choices.set_objection(conn, portal, visit.customer_id, form.get("scope", ""),
                                            form.get("value") == "on", evidence=visit.evidence)
            return _done(web, visit, receipt.id)
        return await web.signed_in(request, "objection", work, change=True)

    async def restriction(request: Request) -> Response:
        def work(conn: Connection, visit: Visit) -> Response:
            receipt = choices.set_restriction(conn, portal, visit.customer_id,
                                              visit.incoming.form.get("value") == "on",
                                              evidence=visit.evidence)
            return _done(web, visit, receipt.id)
        return await web.signed_in(request, "restriction", work, change=True)

    async def receipt(request: Request) -> Response:
        receipt_id = str(request.path_params["receipt_id"])[:64]

        def work(conn: Connection, visit: Visit) -> Response:
            jws = choices.receipt_jws(conn, visit.customer_id, receipt_id)
            if jws is None:
                raise ServiceError(Code.NOT_FOUND, "no such receipt", "receipt")
            return Response(jws + "\n", media_type="application/jose", headers={
                "Content-Disposition": f'attachment; filename="{receipt_id}.jws"'})
        return await web.signed_in(request, "receipt", work, fields={"preferences": "ALLOWED"})

    return [
        Route("/consents", consent, methods=["POST"]),
        Route("/channels", channel, methods=["POST"]),
        Route("/objections", objection, methods=["POST"]),
        Route("/restriction", restriction, methods=["POST"]),
        Route("/receipts/{receipt_id}", receipt, methods=["GET"]),
    ]
