"""The GraphQL HTTP endpoint: authenticate, execute, audit, answer.

Strawberry's own ASGI view runs resolvers on the event loop; ours are synchronous (SQLAlchemy
Core on one connection per request), so the whole request runs in one worker thread: the
reads, the audit entry and the commit share a connection and a transaction, and the answer
leaves only once the entry is written.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.to_thread
import orjson
from starlette.requests import Request
from starlette.responses import Response

from gateway.api.context import RequestContext, Services
from gateway.api.errors import format_error
from gateway.api.schema import GatewaySchema
from gateway.audit.service import write_entry
from gateway.policy.codes import Code

logger = logging.getLogger("gateway.http")

GRAPHQL_RESPONSE = "application/graphql-response+json"


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]


def _error(status: int, code: Code, message: str, **headers: str) -> Answer:
    return Answer(status, {"errors": [{"message": message, "extensions": {"code": code.value}}]}, headers)


def _parse(body: bytes) -> tuple[str, dict[str, Any] | None, str | None] | Answer:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return _error(400, Code.BAD_REQUEST, "the body must be JSON: {\"query\": ..., \"variables\": {...}}")
    if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
        return _error(400, Code.BAD_REQUEST, "the body must be a JSON object with a `query` string")
    variables = payload.get("variables")
    operation = payload.get("operationName")
    if variables is not None and not isinstance(variables, dict):
        return _error(400, Code.BAD_REQUEST, "`variables` must be a JSON object")
    if operation is not None and not isinstance(operation, str):
        return _error(400, Code.BAD_REQUEST, "`operationName` must be a string")
    return payload["query"], variables, operation


class GraphQLEndpoint:
    """POST /graphql."""

    def __init__(self, services: Services, schema: GatewaySchema) -> None:
        self.services = services
        self.schema = schema
        self._limiter = anyio.CapacityLimiter(services.settings.threads_per_worker)

    async def handle(self, request: Request) -> Response:
        accept = request.headers.get("accept", "")
        media = GRAPHQL_RESPONSE if GRAPHQL_RESPONSE in accept else "application/json"
        answer = await self._answer(request)
        return Response(
            orjson.dumps(answer.body), status_code=answer.status, media_type=media,
            headers=answer.headers,
        )

    async def _answer(self, request: Request) -> Answer:
        if request.method != "POST":
            return _error(405, Code.BAD_REQUEST, "send GraphQL requests with POST", Allow="POST")
        limit = self.services.settings.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return _error(413, Code.REQUEST_TOO_LARGE, f"the request body is limited to {limit} bytes")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                return _error(413, Code.REQUEST_TOO_LARGE, f"the request body is limited to {limit} bytes")
        headers = {k: request.headers.get(k) for k in ("authorization", "x-purpose", "accept")}
        # A few requests at a time per worker: more threads on one core only stretch each
        # request's lifetime (and the garbage collector's work); scale with workers instead.
        return await anyio.to_thread.run_sync(
            self._handle, body, headers, limiter=self._limiter
        )

    def _handle(self, body: bytes, headers: dict[str, str | None]) -> Answer:
        caller = self.services.authenticator.authenticate(headers["authorization"])
        if caller is None:
            return _error(
                401, Code.UNAUTHENTICATED, "send a valid app key: Authorization: Bearer <key>",
                **{"WWW-Authenticate": "Bearer"},
            )
        parsed = _parse(body)
        if isinstance(parsed, Answer):
            return parsed
        query, variables, operation = parsed
        request_id = str(uuid.uuid4())
        with self.services.engine.connect() as conn:
            ctx = RequestContext(self.services, conn, caller, headers["x-purpose"], request_id)
            result = self.schema.execute_sync(
                query, variable_values=variables, context_value=ctx, operation_name=operation
            )
            errors = ctx.withheld.errors() + [format_error(e) for e in result.errors or ()]
            ctx.audit.errors = dict(Counter(e["extensions"]["code"] for e in errors))
            if errors and any(e["extensions"]["code"] == Code.INTERNAL for e in errors):
                conn.rollback()  # an unexpected failure keeps none of a mutation's writes
            try:
                services = self.services
                write_entry(conn, ctx.audit, services.pseudonyms.for_audit(), services.signer,
                            services.settings)
                conn.commit()
            except Exception:
                conn.rollback()
                logger.exception("audit entry could not be written; request %s refused", request_id)
                return _error(
                    503, Code.AUDIT_UNAVAILABLE,
                    "the request could not be audited, so it was not answered; retry later",
                    **{"X-Request-Id": request_id},
                )
        out: dict[str, Any] = {}
        if errors:
            out["errors"] = errors
        executed = result.data is not None or any("path" in e for e in errors)
        if executed:
            out["data"] = result.data
        status = 200 if executed or GRAPHQL_RESPONSE not in (headers["accept"] or "") else 400
        return Answer(status, out, {"X-Request-Id": request_id})

