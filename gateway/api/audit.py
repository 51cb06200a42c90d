"""The officers' audit API: entries, verification, exports. Every call is itself audited.

Only a caller whose role the policy lets `read` the `audit_log` object for the declared
purpose (compliance officers, `compliance_audit`) gets an answer; anyone else gets
`POLICY_DENIED` and nothing else (no count, no hint).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
import strawberry
from sqlalchemy import select
from strawberry.types import Info

from gateway.api.audit_types import (
    AuditEvent,
    AuditEventConnection,
    AuditEventFilter,
    AuditExportFormat,
    AuditProblem,
    AuditSubject,
    AuditSubjectResolution,
    AuditVerification,
)
from gateway.api.context import RequestContext
from gateway.api.types import PageInfo
from gateway.audit.export import AuditFilter, export_text, page
from gateway.audit.verify import verify_chain
from gateway.errors import ServiceError
from gateway.policy.codes import Code
from gateway.privacy.pseudonyms import InvalidPseudonym
from gateway.profile.tables import customers

Ctx = Info[RequestContext, Any]
EXPORT_LIMIT = 10_000
DECISIONS = ("allow", "partial", "deny")
_CURSOR = b"audit-events"


def _officer(ctx: RequestContext, operation: str) -> None:
    """Note the operation, then refuse anyone the policy does not let read the audit log."""
    ctx.begin(operation)
    ctx.audit.action = "audit.query"
    purpose = ctx.purpose_header or ""
    if not ctx.services.policy.decide(ctx.caller.role, purpose, "audit_log", "read").allowed:
        raise ctx.denied("audit_log", "read", "only compliance officers auditing may read the audit log")


def _filter(ctx: RequestContext, given: AuditEventFilter | None) -> AuditFilter:
    if given is None:
        return AuditFilter()
    ref = None
    if given.customer is not None:
        try:
            internal = ctx.services.pseudonyms.for_app(ctx.caller.app_id).resolve_customer(
                str(given.customer))
        except InvalidPseudonym as exc:
            raise ServiceError(Code.NOT_FOUND, "no customer with this id", "filter.customer") from exc
        ctx.audit.subjects.append((internal, Code.ALLOWED.value))
        ref = ctx.services.pseudonyms.for_audit().customer_id(internal)
    for value in (given.app, given.purpose, given.action, given.decision):
        if value is not None and not 1 <= len(value) <= 100:
            raise ServiceError(Code.INVALID_INPUT, "filter values must be 1-100 characters", "filter")
    if given.decision is not None and given.decision not in DECISIONS:
        raise ServiceError(Code.INVALID_INPUT, "decision must be allow, partial or deny", "filter.decision")
    flt = AuditFilter(ref, given.app, given.purpose, given.action, given.decision,
                      _aware(given.from_), _aware(given.to))
    # Which conditions, not their text (caller-supplied strings stay out of the log); the
    # customer is in the entry's subjects already.
    ctx.audit.extra["filter"] = sorted(k for k, v in vars(flt).items() if v is not None)
    return flt


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    raise ServiceError(Code.INVALID_INPUT, "timestamps need a time zone (e.g. Z)", "filter")


def _event(record: dict[str, Any]) -> AuditEvent:
    return AuditEvent(
        seq=int(record["seq"]), occurred_at=datetime.fromisoformat(record["occurred_at"]),
        request_id=record["request_id"], actor_type=record["actor_type"], actor=record["actor"],
        role=record["role"], purpose=record["purpose"], action=record["action"],
        operation=record["operation"], decision=record["decision"],
        subjects=[AuditSubject(ref=s["ref"], code=s["code"]) for s in record["subjects"]],
        detail=orjson.dumps(record["detail"], option=orjson.OPT_SORT_KEYS).decode(),
        prev_hash=record["prev_hash"], entry_hash=record["entry_hash"],
    )


def _after(ctx: RequestContext, cursor: str | None) -> int | None:
    if cursor is None:
        return None
    try:
        return int(ctx.services.pseudonyms.for_app(ctx.caller.app_id).unseal(cursor, _CURSOR))
    except (InvalidPseudonym, ValueError) as exc:
        raise ServiceError(Code.INVALID_INPUT, "invalid cursor", "after") from exc


@strawberry.type
class AuditQuery:
    @strawberry.field(description="Audit entries in chain order, a page at a time (officers only).")
    def audit_events(self, info: Ctx, filter: AuditEventFilter | None = None,
                     first: int | None = None, after: str | None = None) -> AuditEventConnection:
        ctx = info.context
        _officer(ctx, "auditEvents")
        settings = ctx.services.settings
        size = settings.default_page_size if first is None else first
        if not 1 <= size <= settings.max_page_size:
            raise ServiceError(Code.INVALID_INPUT,
                               f"first must be between 1 and {settings.max_page_size}", "first")
        records, more = page(ctx.conn, _filter(ctx, filter), size, _after(ctx, after))
        end = None
        if records:
            end = ctx.services.pseudonyms.for_app(ctx.caller.app_id).seal(
                f"{records[-1]['seq']:020d}".encode(), _CURSOR)  # fixed width: the length says nothing
        return AuditEventConnection(nodes=[_event(r) for r in records],
                                    page_info=PageInfo(end_cursor=end, has_next_page=more))

    @strawberry.field(description="Verify the audit chain and its checkpoints (officers only).")
    def audit_verification(self, info: Ctx, full: bool = False) -> AuditVerification:
        ctx = info.context
        _officer(ctx, "auditVerification")
        services = ctx.services
        result = verify_chain(services.engine, services.signer.jwks(), full=full)
        p = result.problem
        ctx.audit.extra["verification"] = {
            "ok": result.ok, "mode": result.mode, "first_seq": result.first_seq,
            "last_seq": result.last_seq, "entries": result.entries,
            "problem": None if p is None else {"seq": p.seq, "kind": p.kind},
        }
        return AuditVerification(
            ok=result.ok, mode=result.mode, first_seq=result.first_seq, last_seq=result.last_seq,
            entries=result.entries, checkpoints=result.checkpoints, seconds=result.seconds,
            problem=AuditProblem(seq=p.seq, kind=p.kind, message=p.message) if p else None,
        )

    @strawberry.field(description=f"Matching entries as a CSV or JSON Lines document (at most {EXPORT_LIMIT}).")
    def audit_export(self, info: Ctx, format: AuditExportFormat,
                     filter: AuditEventFilter | None = None) -> str:
        ctx = info.context
        _officer(ctx, "auditExport")
        text, count = export_text(ctx.conn, _filter(ctx, filter), format.value, EXPORT_LIMIT + 1)
        if count > EXPORT_LIMIT:
            ctx.audit.extra["export"] = {"format": format.value, "refused": "too_many"}
            raise ServiceError(Code.INVALID_INPUT, f"more than {EXPORT_LIMIT} entries match: narrow "
                               "the filter (from, to) or use `consent-gateway audit export`", "filter")
        ctx.audit.extra["export"] = {"format": format.value, "entries": count}
        return text

    @strawberry.field(description="The customer behind an audit pseudonym, as this app's id "
                                  "(officers only; the resolution is itself audited).")
    def audit_subject(self, info: Ctx, ref: str) -> AuditSubjectResolution:
        ctx = info.context
        _officer(ctx, "auditSubject")
        ctx.audit.action = "audit.resolve"
        services = ctx.services
        try:
            internal = services.pseudonyms.for_audit().resolve_customer(ref)
        except InvalidPseudonym as exc:
            raise ServiceError(Code.NOT_FOUND, "no customer with this audit reference", "ref") from exc
        ctx.audit.subjects.append((internal, Code.ALLOWED.value))
        if ctx.conn.execute(select(customers.c.id).where(customers.c.id == internal)).first() is None:
            # Erased (or never stored): the entries stay, the person is gone.
            raise ServiceError(Code.NOT_FOUND, "no customer with this audit reference", "ref")
        customer_id = services.pseudonyms.for_app(ctx.caller.app_id).customer_id(internal)
        return AuditSubjectResolution(ref=ref, customer_id=strawberry.ID(customer_id))
