"""Root fields of the data subject requests: check the policy, call gateway/rights, shape.

Who may do what is policy (object `rights_case`): `open` a case, `read_own` the cases one's
app opened, `read` every case (and what is overdue), `execute` a case's steps and rights.
Expected failures of a mutation are `MutationError` values; such a mutation writes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import strawberry
from strawberry.types import Info

from gateway.api.consent_types import MutationError, Receipt
from gateway.api.context import RequestContext
from gateway.api.rights_types import (
    ExecuteRightsCaseInput,
    ExecuteRightsCaseResult,
    ExecuteRightsCaseSuccess,
    OpenRightsCaseInput,
    RightsCase,
    RightsCaseResult,
    RightsCaseStep,
    RightsCaseSuccess,
)
from gateway.errors import ServiceError
from gateway.policy.codes import Code
from gateway.privacy.pseudonyms import InvalidPseudonym
from gateway.rights import cases
from gateway.rights.export import dumps
from gateway.rights.service import Execution, Rights, document_for, execute_case
from gateway.rights.subjects import find_by_id
from gateway.rights.trail import Actor
from gateway.store.types import utcnow

Ctx = Info[RequestContext, Any]
OBJECT = "rights_case"
MAX_CASES = 200
T = TypeVar("T")


def _allowed(ctx: RequestContext, action: str) -> bool:
    purpose = ctx.purpose_header or ""
    return ctx.services.policy.decide(ctx.caller.role, purpose, OBJECT, action).allowed


def _require(ctx: RequestContext, *actions: str) -> str:
    """The first of `actions` the policy allows this caller for its declared purpose."""
    if ctx.purpose_header and ctx.services.purposes.get(ctx.purpose_header) is None:
        raise ServiceError(Code.PURPOSE_UNKNOWN, "unknown purpose in X-Purpose")
    for action in actions:
        if _allowed(ctx, action):
            return action
    if not ctx.purpose_header:
        raise ctx.denied(OBJECT, actions[0], "declare the purpose in the X-Purpose header",
                         Code.PURPOSE_REQUIRED)
    raise ctx.denied(OBJECT, actions[0],
                     "this app may not do this with data subject requests for this purpose")


def _rights(ctx: RequestContext) -> Rights:
    s = ctx.services
    return Rights(s.purposes, s.signer, s.pseudonyms, s.settings, s.vault)


def _actor(ctx: RequestContext, operation: str) -> Actor:
    c = ctx.caller
    return Actor("app", c.name, c.role, ctx.audit.purpose, c.app_id, ctx.audit.request_id, operation)


def _begin(ctx: RequestContext, operation: str) -> None:
    ctx.begin(operation)
    ctx.audit.action = "rights.case"


def _shape(ctx: RequestContext, case: cases.Case, steps: list[dict[str, Any]]) -> RightsCase:
    names = ctx.services.pseudonyms.for_app(ctx.caller.app_id)
    return RightsCase(
        id=strawberry.ID(case.ref),
        customer_id=strawberry.ID(names.customer_id(case.customer_id)) if case.customer_id is not None else None,
        kind=case.kind, jurisdiction=case.jurisdiction, status=case.status,
        received_at=case.received_at, due_on=case.due_on, extended_to=case.extended_to,
        deadline=case.deadline, overdue=case.overdue(utcnow().date()), legal_basis=case.basis,
        note=case.note, extension_reason=case.extension_reason,
        rejection_reason=case.rejection_reason, opened_by=case.opened_by,
        closed_at=case.closed_at,
        outcome=json.dumps(case.outcome, sort_keys=True) if case.outcome is not None else None,
        steps=[RightsCaseStep(**s) for s in steps],
    )


def _many(ctx: RequestContext, found: list[cases.Case]) -> list[RightsCase]:
    steps = cases.steps_of(ctx.conn, [c.id for c in found])
    for case in found:
        if case.customer_id is not None:
            ctx.audit.subjects.append((case.customer_id, Code.ALLOWED.value))
    return [_shape(ctx, c, steps[c.id]) for c in found]


def _visible(ctx: RequestContext, ref: str) -> cases.Case:
    """The case `ref` if this caller may see it: every case, or those its app opened."""
    how = _require(ctx, "read", "read_own")
    case = cases.load(ctx.conn, ctx.services.vault, ref=ref)
    if how == "read_own" and case.opened_app_id != ctx.caller.app_id:
        raise ServiceError(Code.NOT_FOUND, "no case with this id", "id")
    return case


def _customer(ctx: RequestContext, token: str) -> int:
    try:
        internal = ctx.services.pseudonyms.for_app(ctx.caller.app_id).resolve_customer(token)
    except InvalidPseudonym as exc:
        raise ServiceError(Code.NOT_FOUND, "no customer with this id", "customerId") from exc
    return internal


def _attempt(ctx: RequestContext, work: Callable[[], T]) -> T | MutationError:
    try:
        return work()
    except ServiceError as exc:
        ctx.audit.extra["refused"] = exc.code.value  # a code only: never the input's values
        return MutationError(code=exc.code.value, field=exc.field, message=exc.message)


def _one(ctx: RequestContext, case: cases.Case) -> RightsCaseSuccess:
    ctx.audit.extra["case"] = case.ref
    if case.customer_id is not None:
        ctx.audit.subjects.append((case.customer_id, Code.ALLOWED.value))
    return RightsCaseSuccess(case=_shape(ctx, case, cases.steps_of(ctx.conn, [case.id])[case.id]))


@strawberry.type
class RightsQuery:
    @strawberry.field(description="Data subject requests, oldest deadline first: every case for "
                      "compliance officers, the cases it opened for a support app.")
    def rights_cases(self, info: Ctx, status: str | None = None, kind: str | None = None,
                     first: int = 50) -> list[RightsCase]:
        ctx = info.context
        _begin(ctx, "rightsCases")
        how = _require(ctx, "read", "read_own")
        if not 1 <= first <= MAX_CASES:
            raise ServiceError(Code.INVALID_INPUT, f"first must be between 1 and {MAX_CASES}", "first")
        own = ctx.caller.app_id if how == "read_own" else None
        return _many(ctx, cases.list_cases(ctx.conn, ctx.services.vault, status=status, kind=kind, opened_app_id=own,
                                           limit=first))

    @strawberry.field(description="One data subject request by its id.")
    def rights_case(self, info: Ctx, id: strawberry.ID) -> RightsCase:
        ctx = info.context
        _begin(ctx, "rightsCase")
        case = _visible(ctx, str(id))
        return _many(ctx, [case])[0]

    @strawberry.field(description="Open requests past their deadline (compliance officers).")
    def overdue_rights_cases(self, info: Ctx) -> list[RightsCase]:
        ctx = info.context
        _begin(ctx, "overdueRightsCases")
        _require(ctx, "read")
        return _many(ctx, cases.list_cases(ctx.conn, ctx.services.vault, overdue_on=utcnow().date(), limit=MAX_CASES))

    @strawberry.field(description="The document of an access or export case (JSON), built now. "
                      "It belongs to the data subject (delivered through the portal): only a role "
                      "the policy grants `read_export` may read it here.")
    def rights_export(self, info: Ctx, case_id: strawberry.ID) -> str:
        ctx = info.context
        _begin(ctx, "rightsExport")
        _require(ctx, "read_export")
        doc = document_for(ctx.conn, _rights(ctx), _actor(ctx, "rightsExport"), str(case_id))
        case = cases.load(ctx.conn, ctx.services.vault, ref=str(case_id))
        ctx.audit.extra["case"] = case.ref
        if case.customer_id is not None:
            ctx.audit.subjects.append((case.customer_id, Code.ALLOWED.value))
        return dumps(doc).decode()


@strawberry.type
class RightsMutation:
    @strawberry.mutation(description="Open a data subject request for a customer; its term starts.")
    def open_rights_case(self, info: Ctx, input: OpenRightsCaseInput) -> RightsCaseResult:
        ctx = info.context
        _begin(ctx, "openRightsCase")

        def work() -> RightsCaseSuccess:
            _require(ctx, "open")
            person = find_by_id(ctx.conn, _customer(ctx, str(input.customer_id)))
            if person is None:
                raise ServiceError(Code.NOT_FOUND, "no customer with this id", "customerId")
            trail = _rights(ctx).trail(_actor(ctx, "openRightsCase"))
            case = cases.open_case(ctx.conn, trail, person, input.kind,
                                   jurisdiction=input.jurisdiction, received_at=input.received_at,
                                   note=input.note)
            return _one(ctx, case)

        return _attempt(ctx, work)

    @strawberry.mutation(description="Mark a case as being worked on.")
    def start_rights_case(self, info: Ctx, id: strawberry.ID) -> RightsCaseResult:
        ctx = info.context
        _begin(ctx, "startRightsCase")

        def work() -> RightsCaseSuccess:
            _require(ctx, "execute")
            trail = _rights(ctx).trail(_actor(ctx, "startRightsCase"))
            return _one(ctx, cases.start_case(ctx.conn, trail, str(id)))

        return _attempt(ctx, work)

    @strawberry.mutation(description="Extend a case's term where the law allows it, with the reason told to the person.")
    def extend_rights_case(self, info: Ctx, id: strawberry.ID, reason: str) -> RightsCaseResult:
        ctx = info.context
        _begin(ctx, "extendRightsCase")

        def work() -> RightsCaseSuccess:
            _require(ctx, "execute")
            trail = _rights(ctx).trail(_actor(ctx, "extendRightsCase"))
            return _one(ctx, cases.extend_case(ctx.conn, trail, str(id), reason))

        return _attempt(ctx, work)

    @strawberry.mutation(description="Close a case without carrying out the right, with the reason.")
    def reject_rights_case(self, info: Ctx, id: strawberry.ID, reason: str) -> RightsCaseResult:
        ctx = info.context
        _begin(ctx, "rejectRightsCase")

        def work() -> RightsCaseSuccess:
            _require(ctx, "execute")
            trail = _rights(ctx).trail(_actor(ctx, "rejectRightsCase"))
            return _one(ctx, cases.reject_case(ctx.conn, trail, str(id), reason))

        return _attempt(ctx, work)

    @strawberry.mutation(description="Carry out the case's right (access, export, rectify, erase, "
                         "restrict, object) and complete the case.")
    def execute_rights_case(self, info: Ctx, input: ExecuteRightsCaseInput) -> ExecuteRightsCaseResult:
        ctx = info.context
        _begin(ctx, "executeRightsCase")

        def work() -> ExecuteRightsCaseSuccess:
            _require(ctx, "execute")
            given = Execution(
                changes=[(f.name, f.value) for f in input.fields or ()],
                objection_scope=input.objection_scope, lift=input.lift,
            )
            before = cases.load(ctx.conn, ctx.services.vault, ref=str(input.id))
            if before.customer_id is not None:
                ctx.audit.subjects.append((before.customer_id, Code.ALLOWED.value))
            done = execute_case(ctx.conn, _rights(ctx), _actor(ctx, "executeRightsCase"),
                                str(input.id), given)
            ctx.audit.extra["case"] = done.case.ref
            receipt = done.receipt
            # The document is the data subject's: the officer sees that it was produced (the
            # case's outcome names its sections and where it is delivered), not its content.
            readable = done.document is not None and _allowed(ctx, "read_export")
            return ExecuteRightsCaseSuccess(
                case=_shape(ctx, done.case, cases.steps_of(ctx.conn, [done.case.id])[done.case.id]),
                document=dumps(done.document).decode() if readable and done.document else None,
                receipt=Receipt(id=receipt.id, jws=receipt.jws,
                                payload=json.dumps(receipt.payload, sort_keys=True)) if receipt else None,
            )

        return _attempt(ctx, work)
