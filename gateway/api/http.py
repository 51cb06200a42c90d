"""The GraphQL HTTP endpoint: negotiate, authenticate, execute, audit, answer.

Strawberry's own ASGI view runs resolvers on the event loop; ours are synchronous (SQLAlchemy
Core on one connection per request), so the execution runs in one worker thread. A mutation's
changes and its audit entry share the request's connection and transaction. A query changes
nothing: its entry goes to the worker's group committer (`gateway.audit.group`), which commits
the entries of concurrent requests together; the request waits for its entry outside the
worker threads, and the answer leaves only once the entry is committed (an entry that cannot
be committed turns the answer into AUDIT_UNAVAILABLE).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import Counter
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from functools import lru_cache
from operator import itemgetter
from typing import Any

import anyio
import anyio.to_thread
import orjson
from graphql import GraphQLError, OperationDefinitionNode, parse
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types.graphql import OperationType

from gateway.api.context import RequestContext, Services
from gateway.api.errors import format_error
from gateway.api.limits import LIMIT_CODES
from gateway.api.mutation_plans import MutationPlans
from gateway.api.mutation_plans import run as run_mutation
from gateway.api.negotiation import (
    GRAPHQL_RESPONSE,
    JSON,
    Params,
    is_json_body,
    params_from_body,
    params_from_query_string,
    response_media,
)
from gateway.api.plans import PlanCache, Shape
from gateway.api.plans import run as run_plan
from gateway.api.schema import GatewaySchema
from gateway.audit.group import GroupCommitter
from gateway.audit.service import checkpoint_policy, prepare, write_entry
from gateway.auth.documents import DocumentRegistry, document_hash
from gateway.ops.metrics import AUDIT_APPEND_SECONDS, UNAVAILABLE, observe_pool
from gateway.ops.observe import RequestFacts, observe
from gateway.policy.codes import Code
from gateway.profile.order import stored_during

logger = logging.getLogger("gateway.http")
_EXTENSIONS, _CODE = itemgetter("extensions"), itemgetter("code")

QUERIES_ONLY = frozenset({OperationType.QUERY})


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Pending:
    """An answer that may leave once its audit entry (queued for the group commit) is durable."""

    answer: Answer
    entry: Future[int]
    started: float


@lru_cache(maxsize=1024)
def _operations(query: str, max_tokens: int) -> tuple[tuple[str | None, str], ...]:
    """(name, kind) of each operation `query` defines (none when it does not parse or is over
    the token limit: execution then says why, with its own code)."""
    try:
        document = parse(query, no_location=True, max_tokens=max_tokens)
    except GraphQLError:
        return ()
    return tuple((d.name.value if d.name else None, d.operation.value)
                 for d in document.definitions if isinstance(d, OperationDefinitionNode))


def _operation_count(query: str, max_tokens: int) -> int:
    """How many operations `query` defines."""
    return len(_operations(query, max_tokens))


def _changes_nothing(params: Params, max_tokens: int) -> bool:
    """True unless the operation that runs may write (a mutation, or one not found: nothing
    runs then, but the conservative path costs nothing)."""
    found = _operations(params.query, max_tokens)
    if not found:
        return True  # does not parse: nothing runs
    kinds = [kind for name, kind in found if params.operation is None or name == params.operation]
    return kinds == ["query"]


def _error(status: int, code: Code, message: str, **headers: str) -> Answer:
    return Answer(status, {"errors": [{"message": message, "extensions": {"code": code.value}}]}, headers)


def _request_errors(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Only the limits' errors (one per limit) when a limit refused the document.

    A hostile document (a thousand unknown directives, introspection with introspection
    off) would otherwise answer one error per offending node.
    """
    limits: dict[str, dict[str, Any]] = {}
    for error in errors:
        code = error["extensions"]["code"]
        if code in LIMIT_CODES and "path" not in error:
            limits.setdefault(code, error)
    return list(limits.values()) or errors


def _note(facts: RequestFacts, ctx: RequestContext) -> None:
    """What the request did, for its metrics and log line (names and codes only)."""
    audit = ctx.audit
    facts.operation = audit.operation or "none"
    facts.codes = dict(audit.errors)
    facts.subject_codes = dict(Counter(code for _, code in audit.subjects))
    facts.rows = len({internal for internal, code in audit.subjects if code == "ALLOWED"})


class GraphQLEndpoint:
    """POST /graphql (and GET for queries when `GATEWAY_HTTP_GET` is on)."""

    def __init__(self, services: Services, schema: GatewaySchema) -> None:
        self.services = services
        self.schema = schema
        self._limiter = anyio.CapacityLimiter(services.settings.threads_per_worker)
        self.documents = DocumentRegistry()
        self.plans = PlanCache(schema, services.settings)
        self.mutations = MutationPlans(schema, services.settings)
        settings = services.settings
        self.committer = GroupCommitter(services.engine, services.signer,
                                        checkpoint_policy(settings)) \
            if settings.audit_group_commit else None

    def close(self) -> None:
        """Commit the audit entries still pending (at shutdown)."""
        if self.committer is not None:
            self.committer.close()

    async def handle(self, request: Request) -> Response:
        started = time.perf_counter()
        facts = RequestFacts(str(uuid.uuid4()))
        media = response_media(request.headers.get("accept"))
        if media is None:
            answer = _error(406, Code.NOT_ACCEPTABLE,
                            f"accept {GRAPHQL_RESPONSE} or {JSON} (or send no Accept header)")
        else:
            answer = await self._answer(request, media == GRAPHQL_RESPONSE, facts)
        observe(facts, answer.status, time.perf_counter() - started)
        return Response(
            orjson.dumps(answer.body), status_code=answer.status, media_type=media or JSON,
            headers={"X-Request-Id": facts.request_id, **answer.headers},
            background=self._after(facts),
        )

    def _after(self, facts: RequestFacts) -> BackgroundTask | None:
        """After the answer left: charge the rows read to the app's quota, note the pool."""
        limiter = self.services.limiter
        if limiter is None or not facts.rows:
            observe_pool(self.services.engine)
            return None

        def charge() -> None:
            limiter.charge(facts.app_id, facts.role, facts.rows)
            observe_pool(self.services.engine)

        return BackgroundTask(charge)

    async def _answer(self, request: Request, graphql_response: bool, facts: RequestFacts) -> Answer:
        settings = self.services.settings
        if request.method == "GET" and settings.http_get:
            params: Params | str | None = params_from_query_string(request.url.query)
            body = b""
        elif request.method != "POST":
            allow = "GET, POST" if settings.http_get else "POST"
            return _error(405, Code.BAD_REQUEST, "send GraphQL requests with POST", Allow=allow)
        elif not is_json_body(request.headers.get("content-type")):
            # Nothing runs for another media type: a text/plain or form POST is what a
            # browser sends cross-site without a preflight.
            return _error(415, Code.UNSUPPORTED_MEDIA_TYPE,
                          "send the request as Content-Type: application/json (UTF-8)")
        else:
            params = None
            limit = settings.max_body_bytes
            declared = request.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > limit:
                return _error(413, Code.REQUEST_TOO_LARGE, f"the request body is limited to {limit} bytes")
            body = b""
            async for chunk in request.stream():
                body += chunk
                if len(body) > limit:
                    return _error(413, Code.REQUEST_TOO_LARGE,
                                  f"the request body is limited to {limit} bytes")
        headers = {k: request.headers.get(k) for k in ("authorization", "x-purpose")}
        # A few requests at a time per worker: more threads on one core only stretch each
        # request's lifetime (and the garbage collector's work); scale with workers instead.
        # A request waiting for its audit entry's group commit holds no thread.
        done = await anyio.to_thread.run_sync(
            self._execute, body, headers, params, graphql_response, facts,
            limiter=self._limiter,
        )
        if isinstance(done, Answer):
            return done
        try:
            await asyncio.wrap_future(done.entry)
        except Exception:  # noqa: BLE001 - whatever kept the entry from committing
            return _audit_failed(facts)
        AUDIT_APPEND_SECONDS.observe(time.perf_counter() - done.started)
        return done.answer

    def _resolve(self, conn: Connection, app_id: int, params: Params,
                 graphql_response: bool) -> Params | Answer:
        """The text of a persisted document request (registering it when the app sends its
        text with its hash: automatic persisted queries), or the answer refusing it."""
        sha256 = params.persisted
        if sha256 is None:
            return params
        if not params.query:
            text = self.documents.find(conn, app_id, sha256)
            if text is None:
                # Apollo's clients answer this code by sending the text with the hash.
                return _error(400 if graphql_response else 200, Code.PERSISTED_QUERY_NOT_FOUND,
                              "no document registered by this app under this sha256; send its "
                              "`query` with the hash to register it")
            return replace(params, query=text)
        if document_hash(params.query) != sha256:
            return _error(400, Code.BAD_REQUEST, "the sha256 does not match the document's text")
        self.documents.register(conn, app_id, params.query)  # committed with the audit entry
        return params

    def _shape(self, params: Params, ctx: RequestContext) -> Shape | None:
        """The compiled plan of a persisted document for this caller, or None."""
        if params.persisted is None:
            return None
        shape = self.plans.get(params.persisted, params.query, ctx.caller.role, ctx.audit.purpose)
        if shape is None or (params.operation is not None and params.operation != shape.operation):
            return None
        return shape

    def _planned(self, params: Params, ctx: RequestContext,
                 may_write: bool) -> tuple[dict[str, Any] | None, bool]:
        """The answer's data through a compiled plan (a persisted read's, or a mutation's
        when it may run: a POST that registered nothing), and whether a plan was tried."""
        settings = self.services.settings
        shape = self._shape(params, ctx)
        if shape is not None:
            return run_plan(shape, ctx, settings), True
        if not may_write or _changes_nothing(params, settings.max_tokens):
            return None, False
        plan = self.mutations.get(params.query, params.operation)
        if plan is None:
            return None, False
        return run_mutation(plan, ctx, params.variables), True

    def _handle(self, body: bytes, headers: dict[str, str | None],
                params: Params | str | None = None, graphql_response: bool = False,
                facts: RequestFacts | None = None) -> Answer:
        """A whole request, synchronously (the benchmarks call it as `_handle(body, headers)`)."""
        facts = facts or RequestFacts(str(uuid.uuid4()))
        done = self._execute(body, headers, params, graphql_response, facts)
        if isinstance(done, Answer):
            return done
        try:
            done.entry.result()
        except Exception:  # noqa: BLE001 - whatever kept the entry from committing
            return _audit_failed(facts)
        AUDIT_APPEND_SECONDS.observe(time.perf_counter() - done.started)
        return done.answer

    def _execute(self, body: bytes, headers: dict[str, str | None],
                 params: Params | str | None, graphql_response: bool,
                 facts: RequestFacts) -> Answer | _Pending:
        """The thread part of a request: an answer, or one waiting for its audit entry."""
        try:
            return self._authenticated(body, params, headers, graphql_response, facts)
        except DBAPIError:
            # The database is down or restarting: a clear answer, and the pool's pre-ping
            # replaces the broken connections once it is back. Nothing was answered unaudited.
            logger.warning("database unavailable; request %s refused", facts.request_id,
                           exc_info=True)
            UNAVAILABLE.labels("database").inc()
            return _error(503, Code.UNAVAILABLE,
                          "the gateway's database is unavailable; retry shortly", **{"Retry-After": "1"})

    def _authenticated(self, body: bytes, params: Params | str | None,
                       headers: dict[str, str | None], graphql_response: bool,
                       facts: RequestFacts) -> Answer | _Pending:
        caller = self.services.authenticator.authenticate(headers["authorization"])
        if caller is None:
            return _error(
                401, Code.UNAUTHENTICATED, "send a valid app key: Authorization: Bearer <key>",
                **{"WWW-Authenticate": "Bearer"},
            )
        facts.app, facts.role, facts.app_id = caller.name, caller.role, caller.app_id
        limiter = self.services.limiter
        refusal = limiter.admit(caller.app_id, caller.name, caller.role) if limiter else None
        if refusal is not None:
            facts.codes = {refusal.code.value: 1}
            return _error(429, refusal.code, refusal.message, **{"Retry-After": str(refusal.retry_after)})
        allowed = None
        if params is None:
            params = params_from_body(body)
        else:
            allowed = QUERIES_ONLY  # GET never changes anything
        if isinstance(params, str):
            return _error(400, Code.BAD_REQUEST, params)
        # Registering a persisted document (its text sent with its hash) writes: such a
        # request commits with its own entry, never through the reads' group commit.
        registers = params.persisted is not None and bool(params.query)
        with self.services.engine.connect() as conn:
            resolved = self._resolve(conn, caller.app_id, params, graphql_response)
            if isinstance(resolved, Answer):
                return resolved
            params = resolved
            if params.operation is None and _operation_count(
                    params.query, self.services.settings.max_tokens) > 1:
                # GraphQL's GetOperation: several operations and no name is a request error
                # (strawberry would run the first one); nothing runs, nothing is touched.
                return _error(400, Code.BAD_REQUEST, "the document holds several operations: name "
                              "the one to run in `operationName`")
            ctx = RequestContext(self.services, conn, caller, headers["x-purpose"], facts.request_id)
            facts.purpose = ctx.audit.purpose or ("unknown" if headers["x-purpose"] else "none")
            data, planned = self._planned(params, ctx, allowed is None and not registers)
            if planned and data is None:
                # The plan gave way (a refusal, a value it does not handle): the general path
                # runs from scratch, with none of the abandoned run's notes.
                ctx = RequestContext(self.services, conn, caller, headers["x-purpose"], facts.request_id)
            if data is not None:
                result_data: dict[str, Any] | None = data
                result_errors: list[GraphQLError] = []
            else:
                try:
                    result = self.schema.execute_sync(
                        params.query, variable_values=params.variables, context_value=ctx,
                        operation_name=params.operation, allowed_operation_types=allowed,
                    )
                except InvalidOperationTypeError:
                    return _error(405, Code.BAD_REQUEST, "send mutations with POST", Allow="POST")
                except CannotGetOperationTypeError:
                    return _error(400, Code.BAD_REQUEST,
                                  "name the operation to run in `operationName` (the document has "
                                  "several, or none by that name)")
                result_data, result_errors = result.data, list(result.errors or ())
            max_tokens = self.services.settings.max_tokens
            errors = ctx.withheld.errors() + _request_errors(
                [format_error(e, max_tokens) for e in result_errors])
            # One pass over the errors (hundreds when a page withholds fields): the codes'
            # counts, which also say whether an unexpected failure is among them.
            ctx.audit.errors = dict(Counter(map(_CODE, map(_EXTENSIONS, errors))))
            if Code.INTERNAL in ctx.audit.errors:
                conn.rollback()  # an unexpected failure keeps none of a mutation's writes
            _note(facts, ctx)
            services = self.services
            # A read that stored its app's default order (its first listing) commits that write
            # with its own entry, like a registration; other reads leave nothing to commit.
            wrote = stored_during(conn)
            committer = self.committer if _changes_nothing(params, max_tokens) and not registers \
                and not wrote else None
            if committer is not None:
                conn.rollback()  # a read: nothing to commit with the entry
            else:
                try:
                    with AUDIT_APPEND_SECONDS.time():
                        write_entry(conn, ctx.audit, services.pseudonyms.for_audit(),
                                    services.signer, services.settings)
                        conn.commit()
                except Exception:  # noqa: BLE001 - logged by _audit_failed; no unaudited answer
                    conn.rollback()
                    return _audit_failed(facts)
        if committer is not None:
            started = time.perf_counter()
            try:
                entry = committer.submit(prepare(ctx.audit, services.pseudonyms.for_audit()))
            except Exception:  # noqa: BLE001 - logged by _audit_failed; no unaudited answer
                return _audit_failed(facts)
            return _Pending(_answer_of(result_data, errors, graphql_response), entry, started)
        return _answer_of(result_data, errors, graphql_response)


def _audit_failed(facts: RequestFacts) -> Answer:
    """The answer of a request whose audit entry could not be written: nothing else."""
    logger.exception("audit entry could not be written; request %s refused", facts.request_id)
    UNAVAILABLE.labels("audit").inc()
    facts.rows = 0  # nothing was answered
    return _error(
        503, Code.AUDIT_UNAVAILABLE,
        "the request could not be audited, so it was not answered; retry later",
    )


def _answer_of(data: Any, errors: list[dict[str, Any]], graphql_response: bool) -> Answer:
    """The answer of an executed request (its entry written or on its way)."""
    out: dict[str, Any] = {}
    if errors:
        out["errors"] = errors
    executed = data is not None or any("path" in e for e in errors)
    if executed:
        out["data"] = data
    status = 200 if executed or not graphql_response else 400
    return Answer(status, out, {})
