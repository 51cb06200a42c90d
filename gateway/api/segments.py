"""Root fields of segmentation: saved segments, their counts and previews, and the mutations
that save and version them.

Who may do what is policy (object `segment`): `read` the definitions, `count` (counts and
previews), `write` (save, version). Counting, previewing or saving also needs the rule's
every field to be readable by the caller for the declared purpose (the read path's plan),
and counts only customers that purpose may process: no side channel through a count.
"""

from __future__ import annotations

import datetime
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from gateway.api.context import RequestContext
from gateway.api.query import _personal, to_customer
from gateway.api.selection import requested
from gateway.api.types import Customer
from gateway.consent.purposes import Purpose
from gateway.errors import ServiceError
from gateway.policy.codes import Code
from gateway.profile import service
from gateway.segmentation import store
from gateway.segmentation.store import RuleRefused, SegmentInfo

Ctx = Info[RequestContext, Any]
OBJECT = "segment"
MAX_SEGMENTS = 200


def _require(ctx: RequestContext, action: str) -> None:
    reader = ctx.reader()  # PURPOSE_REQUIRED / PURPOSE_UNKNOWN / a purpose the role may not use
    if not ctx.services.policy.decide(ctx.caller.role, reader.plan.purpose.name, OBJECT, action).allowed:
        raise ServiceError(Code.POLICY_DENIED, f"this app may not {action} segments for this purpose")


def _profiling(ctx: RequestContext) -> Purpose:
    found = ctx.services.purposes.get("profiling")
    if found is None:
        raise ServiceError(Code.PURPOSE_UNKNOWN, "no `profiling` purpose is configured")
    return found


@strawberry.type(description="One saved version of a segment's rule.")
class SegmentVersion:
    version: int
    definition: str
    purpose: str = strawberry.field(description="The purpose declared when it was saved.")
    created_at: datetime.datetime
    created_by: str
    note: str | None


def _version(info: SegmentInfo) -> SegmentVersion:
    return SegmentVersion(version=info.version, definition=info.definition, purpose=info.purpose,
                          created_at=info.created_at, created_by=info.created_by, note=info.note)


@strawberry.type(description="A saved rule segment at one version (its current one unless asked).")
class Segment:
    id: strawberry.ID
    name: str
    description: str | None
    version: int
    current_version: int
    definition: str = strawberry.field(description="The rule, as written.")
    fields: list[str] = strawberry.field(description="The Customer fields the rule reads.")
    categories: list[str] = strawberry.field(description="Every data category those reveal.")
    purpose: str
    created_at: datetime.datetime
    created_by: str
    info: strawberry.Private[SegmentInfo]

    @strawberry.field(description="Every version, newest first.")
    def versions(self, info: Ctx) -> list[SegmentVersion]:
        return [_version(v) for v in store.versions_of(info.context.conn, self.info.id)]

    @strawberry.field(description="How many customers the declared purpose may process are "
                      "members now. Needs `count` on segments and every field of the rule.")
    def count(self, info: Ctx) -> int:
        ctx = info.context
        _require(ctx, "count")
        reader = ctx.reader()
        rule = store.usable(self.info, reader.plan)
        ctx.audit.extra.setdefault("counted", []).append(self.info.id)
        return store.count(ctx.conn, rule, reader.plan.purpose, reader.now, _profiling(ctx))

    @strawberry.field(description="The first members (by internal order), read through the read "
                      "path as for `customer`: fields as this app may see them.")
    def preview(self, info: Ctx, first: int = 10) -> list[Customer]:
        ctx = info.context
        _require(ctx, "count")
        reader = ctx.reader()
        rule = store.usable(self.info, reader.plan)
        ids = store.preview(ctx.conn, rule, reader.plan.purpose, reader.now, _profiling(ctx), first)
        wanted = _personal(requested(info.selected_fields))
        views = [service.get_customer(ctx.conn, reader, reader.pseudonyms.customer_id(i), wanted)
                 for i in ids]
        ctx.record("segment.preview", views, wanted)
        return [to_customer(v) for v in views]


def _segment(info: SegmentInfo) -> Segment:
    return Segment(id=strawberry.ID(str(info.id)), name=info.name, description=info.description,
                   version=info.version, current_version=info.current_version,
                   definition=info.definition, fields=list(info.fields),
                   categories=list(info.categories), purpose=info.purpose,
                   created_at=info.created_at, created_by=info.created_by, info=info)


def _id(value: strawberry.ID) -> int:
    try:
        return int(str(value))
    except ValueError as exc:
        raise ServiceError(Code.NOT_FOUND, "no segment with this id", "id") from exc


@strawberry.type(description="The count and first members of a rule not saved yet.")
class RulePreview:
    fields: list[str]
    categories: list[str]
    count: int


@strawberry.type
class SegmentQuery:
    @strawberry.field(description="The saved segments at their current version, by name.")
    def segments(self, info: Ctx) -> list[Segment]:
        ctx = info.context
        ctx.begin("segments")
        _require(ctx, "read")
        return [_segment(s) for s in store.list_segments(ctx.conn, MAX_SEGMENTS)]

    @strawberry.field(description="One saved segment, at `version` or its current one.")
    def segment(self, info: Ctx, id: strawberry.ID, version: int | None = None) -> Segment:
        ctx = info.context
        ctx.begin("segment")
        _require(ctx, "read")
        found = store.get_segment(ctx.conn, _id(id), version)
        ctx.audit.extra["segment"] = found.id
        return _segment(found)

    @strawberry.field(description="Check a rule and count its members without saving it. Errors "
                      "carry `extensions.line` and `extensions.column`.")
    def preview_segment(self, info: Ctx, definition: str) -> RulePreview:
        ctx = info.context
        ctx.begin("previewSegment")
        _require(ctx, "count")
        reader = ctx.reader()
        rule = store.checked(definition, reader.plan)
        n = store.count(ctx.conn, rule, reader.plan.purpose, reader.now, _profiling(ctx))
        return RulePreview(fields=list(rule.catalog), categories=list(rule.categories), count=n)


@strawberry.input(description="A new segment.")
class SaveSegmentInput:
    name: str
    definition: str
    description: str | None = None


@strawberry.input(description="A new version of a segment (an unchanged rule makes none).")
class VersionSegmentInput:
    id: strawberry.ID
    definition: str
    description: str | None = None
    note: str | None = None


@strawberry.type
class SegmentSuccess:
    segment: Segment


@strawberry.type(description="A refused save: a stable code, the input field, and for a rule "
                 "the line and column of the problem.")
class SegmentError:
    code: str
    field: str | None
    message: str
    line: int | None = None
    column: int | None = None


SegmentResult = Annotated[SegmentSuccess | SegmentError, strawberry.union("SegmentResult")]


def _refused(ctx: RequestContext, exc: ServiceError) -> SegmentError:
    ctx.audit.extra["refused"] = exc.code.value  # a code only, never the rule's text
    if isinstance(exc, RuleRefused):
        return SegmentError(code=exc.code.value, field=exc.field, message=exc.message,
                            line=exc.line, column=exc.column)
    return SegmentError(code=exc.code.value, field=exc.field, message=exc.message)


@strawberry.type
class SegmentMutation:
    @strawberry.mutation(description="Save a new segment (version 1).")
    def save_segment(self, info: Ctx, input: SaveSegmentInput) -> SegmentResult:
        ctx = info.context
        ctx.begin("saveSegment")
        ctx.audit.action = "segment.write"
        try:
            _require(ctx, "write")
            reader = ctx.reader()
            found = store.create_segment(ctx.conn, reader.plan, name=input.name,
                                         definition=input.definition, description=input.description,
                                         actor=ctx.caller.name, now=reader.now)
        except ServiceError as exc:
            return _refused(ctx, exc)
        ctx.audit.extra.update(segment=found.id, version=found.version)
        return SegmentSuccess(segment=_segment(found))

    @strawberry.mutation(description="Save a new version of a segment's rule.")
    def version_segment(self, info: Ctx, input: VersionSegmentInput) -> SegmentResult:
        ctx = info.context
        ctx.begin("versionSegment")
        ctx.audit.action = "segment.write"
        try:
            _require(ctx, "write")
            reader = ctx.reader()
            found = store.version_segment(ctx.conn, reader.plan, _id(input.id),
                                          definition=input.definition, description=input.description,
                                          note=input.note, actor=ctx.caller.name, now=reader.now)
        except ServiceError as exc:
            return _refused(ctx, exc)
        ctx.audit.extra.update(segment=found.id, version=found.version)
        return SegmentSuccess(segment=_segment(found))
