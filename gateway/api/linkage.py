"""Root fields of identity resolution: ingestion for source systems, a person's source
records with provenance, and a data steward's merges, splits and reverts.

Thin: parse, check the policy (`source_record` write/read, `linkage_case` write), call one
service of gateway/linkage, shape. Expected failures are `MutationError` values; such a
mutation writes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import strawberry
from sqlalchemy import select
from strawberry.types import Info

from gateway.api.consent_types import MutationError
from gateway.api.context import RequestContext
from gateway.api.linkage_types import (
    ContactAttribute,
    IdentityAttribute,
    IngestResult,
    IngestSuccess,
    LinkageCase,
    LinkageCaseResult,
    LinkageCaseSuccess,
    LocationAttribute,
    RejectedRow,
    SourceRecordInput,
    SourceRecordView,
)
from gateway.consent.access import Access
from gateway.consent.state import flags_of, subject_flag_columns
from gateway.errors import ServiceError
from gateway.linkage import manual
from gateway.linkage.fields import CANONICAL_SET
from gateway.linkage.ingest import Ingestion, ingest
from gateway.linkage.mapping import (
    SOURCE_NAME,
    MappingError,
    SourceMapping,
    identity_mapping,
    load_mapping,
)
from gateway.linkage.survivorship import load_survivorship
from gateway.linkage.views import SOURCE_FIELDS, source_views
from gateway.policy import decide_subject
from gateway.policy.codes import Code
from gateway.privacy.pseudonyms import InvalidPseudonym
from gateway.profile.tables import customers
from gateway.store.types import utcnow

Ctx = Info[RequestContext, Any]
MAX_RECORDS = 1000
RECORD_TOKEN = b"source_record"


def _access(ctx: RequestContext) -> Access:
    services = ctx.services
    return Access(services.policy, services.purposes, ctx.caller.role, ctx.purpose_header)


def _customer(ctx: RequestContext, token: str, field: str) -> int:
    try:
        return ctx.services.pseudonyms.for_app(ctx.caller.app_id).resolve_customer(token)
    except InvalidPseudonym as exc:
        raise ServiceError(Code.NOT_FOUND, "no customer with this id", field) from exc


def _record_id(ctx: RequestContext, token: str) -> int:
    try:
        raw = ctx.services.pseudonyms.for_app(ctx.caller.app_id).unseal(token, RECORD_TOKEN)
    except InvalidPseudonym as exc:
        raise ServiceError(Code.NOT_FOUND, "no source record with this id", "sourceRecordIds") from exc
    return int.from_bytes(raw, "big")


def _record_token(ctx: RequestContext, record_id: int) -> str:
    return ctx.services.pseudonyms.for_app(ctx.caller.app_id).seal(record_id.to_bytes(8, "big"), RECORD_TOKEN)


def _mapping(ctx: RequestContext, source: str) -> SourceMapping:
    if not SOURCE_NAME.match(source):
        raise ServiceError(Code.INVALID_INPUT, "source must be a lower-case name of 1-16 letters, digits or _",
                           "source")
    path = ctx.services.settings.policy_dir / "sources" / f"{source}.yaml"
    base = identity_mapping([*sorted(CANONICAL_SET), "record_id"], source)
    if not path.exists():
        return base
    try:
        declared = load_mapping(path)
    except MappingError as exc:
        raise ServiceError(Code.INTERNAL, "the source's mapping file is invalid; run consent-gateway "
                           "sources check", "source") from exc
    return SourceMapping(source=source, key="record_id", country=declared.country,
                         day_first=declared.day_first, identity_resolution=declared.identity_resolution,
                         columns=base.columns)


def _case(ctx: RequestContext, found: dict[str, Any]) -> LinkageCase:
    app = ctx.services.pseudonyms.for_app(ctx.caller.app_id)
    return LinkageCase(id=strawberry.ID(str(found["id"])), kind=found["kind"],
                       state="reverted" if found.get("reverted") else "done",
                       survivor_id=strawberry.ID(app.customer_id(found["survivor"])),
                       other_id=strawberry.ID(app.customer_id(found["other"])),
                       moved=json.dumps(found["moved"], sort_keys=True), conflicts=found["conflicts"])


def _steward(ctx: RequestContext) -> manual.Steward:
    settings = ctx.services.settings
    return manual.Steward(ctx.caller.name, ctx.caller.role, ctx.services.vault,
                          load_survivorship(settings.policy_dir / "survivorship.yaml"))


def _mutate(ctx: RequestContext, operation: str, action: str,
            work: Callable[[], dict[str, Any]]) -> LinkageCaseResult:
    ctx.begin(operation)
    ctx.audit.action = action
    try:
        _access(ctx).require("linkage_case", "write")
        with ctx.conn.begin_nested():
            found = work()
    except ServiceError as exc:
        ctx.audit.extra["refused"] = exc.code.value
        return MutationError(code=exc.code.value, field=exc.field, message=exc.message)
    ctx.audit.subjects.extend([(found["survivor"], Code.ALLOWED.value), (found["other"], Code.ALLOWED.value)])
    ctx.audit.extra["linkage"] = {"case": found["id"], "moved": found["moved"],
                                  "conflicts": len(found["conflicts"])}
    return LinkageCaseSuccess(case=_case(ctx, found))


@strawberry.type
class LinkageQuery:
    @strawberry.field(description="What each source system knows about a customer, how each record was "
                                  "linked, and which value the golden record took (`chosen`, `rule`).")
    def customer_sources(self, info: Ctx, customer_id: strawberry.ID) -> list[SourceRecordView]:
        ctx = info.context
        ctx.begin("customerSources")
        purpose_name = _access(ctx).require("source_record", "read")
        internal = _customer(ctx, str(customer_id), "customerId")
        purpose = ctx.services.purposes.by_name[purpose_name]
        now = utcnow()
        row = ctx.conn.execute(select(customers.c.id, *subject_flag_columns(customers.c.id, purpose, now))
                               .where(customers.c.id == internal)).first()
        if row is None:
            raise ServiceError(Code.NOT_FOUND, "no customer with this id", "customerId")
        subject = decide_subject(purpose, flags_of(row))
        ctx.audit.subjects.append((internal, subject.code.value))
        if not subject.allowed:
            raise ServiceError(subject.code, "this customer's choices do not allow this purpose", "customerId")
        plan = ctx.services.policy.plan(ctx.caller.role, purpose, SOURCE_FIELDS)
        for spec in SOURCE_FIELDS:
            ctx.audit.fields.setdefault(f"source.{spec.name}", plan.access(spec.name).decision.code.value)
        views = source_views(ctx.conn, ctx.services.vault, internal, plan,
                             ctx.services.pseudonyms.for_app(ctx.caller.app_id))
        out = []
        for view in views:
            kinds: dict[str, list[Any]] = {"identity": [], "contact": [], "location": []}
            types = {"identity": IdentityAttribute, "contact": ContactAttribute, "location": LocationAttribute}
            for a in view.attributes:
                kinds[a.category].append(types[a.category](name=a.name, value=a.value, code=a.code,
                                                           chosen=a.chosen, rule=a.rule))
            out.append(SourceRecordView(
                id=strawberry.ID(_record_token(ctx, view.id)), source=view.source,
                first_seen_at=view.first_seen_at, last_seen_at=view.last_seen_at,
                link_method=view.method, match_weight=view.match_weight,
                identity=kinds["identity"], contact=kinds["contact"], location=kinds["location"]))
        return out


@strawberry.type
class LinkageMutation:
    @strawberry.mutation(description="Records of a source system, matched and linked into persons "
                                     "(identity_resolution; at most 1000 per call).")
    def ingest_source_records(self, info: Ctx, source: str, records: list[SourceRecordInput],
                              mode: str = "skip") -> IngestResult:
        ctx = info.context
        ctx.begin("ingestSourceRecords")
        ctx.audit.action = "linkage.ingest"
        try:
            _access(ctx).require("source_record", "write")
            if len(records) > MAX_RECORDS:
                raise ServiceError(Code.INVALID_INPUT, f"at most {MAX_RECORDS} records per call", "records")
            if mode not in ("skip", "all"):
                raise ServiceError(Code.INVALID_INPUT, "mode must be skip or all", "mode")
            mapping = _mapping(ctx, source)
            rows = [{"record_id": r.source_key, **{f.name: f.value for f in r.fields}} for r in records]
            unknown = sorted({f.name for r in records for f in r.fields} - CANONICAL_SET)
            if unknown:
                raise ServiceError(Code.INVALID_INPUT, f"unknown field {unknown[0]}", "records.fields.name")
            settings = ctx.services.settings
            ingestion = Ingestion(ctx.services.vault, load_survivorship(settings.policy_dir / "survivorship.yaml"),
                                  actor=ctx.caller.name)
            with ctx.conn.begin_nested():
                report = ingest(ctx.conn, ingestion, source, rows, mapping, mode=mode)
        except ServiceError as exc:
            ctx.audit.extra["refused"] = exc.code.value
            return MutationError(code=exc.code.value, field=exc.field, message=exc.message)
        ctx.audit.extra["linkage"] = {"source": source, "counts": report.counts(), "run": report.run_id}
        ctx.audit.subjects.extend((cid, Code.ALLOWED.value) for cid in sorted(set(report.customer_of.values())))
        if report.refused:
            ctx.audit.extra["refused"] = Code.INVALID_INPUT.value
        counts = report.counts()
        return IngestSuccess(
            received=counts["received"], unchanged=counts["unchanged"], updated=counts["updated"],
            new_records=counts["new_records"], new_persons=counts["new_persons"],
            linked_to_existing=counts["linked_to_existing"], probabilistic=counts["probabilistic"],
            exact_only=counts["exact_only"], model_version=report.model_id,
            rejected=[RejectedRow(row=r.row, field=r.field, reason=r.reason) for r in report.rejected])

    @strawberry.mutation(description="Merge a person into another (data steward); reversible. The "
                                     "stricter consent state wins; conflicts are listed.")
    def merge_customers(self, info: Ctx, survivor_id: strawberry.ID, merged_id: strawberry.ID) -> LinkageCaseResult:
        ctx = info.context
        return _mutate(ctx, "mergeCustomers", "linkage.merge", lambda: manual.merge(
            ctx.conn, _steward(ctx), _customer(ctx, str(survivor_id), "survivorId"),
            _customer(ctx, str(merged_id), "mergedId")))

    @strawberry.mutation(description="Split source records off a person into a new person (data steward).")
    def split_customer(self, info: Ctx, customer_id: strawberry.ID,
                       source_record_ids: list[strawberry.ID]) -> LinkageCaseResult:
        ctx = info.context
        return _mutate(ctx, "splitCustomer", "linkage.split", lambda: manual.split(
            ctx.conn, _steward(ctx), _customer(ctx, str(customer_id), "customerId"),
            [_record_id(ctx, str(t)) for t in source_record_ids]))

    @strawberry.mutation(description="Undo a merge or a split (data steward).")
    def revert_linkage_case(self, info: Ctx, case_id: strawberry.ID) -> LinkageCaseResult:
        ctx = info.context

        def work() -> dict[str, Any]:
            try:
                case_number = int(str(case_id))
            except ValueError as exc:
                raise ServiceError(Code.NOT_FOUND, "no linkage case with this id", "caseId") from exc
            found = manual.revert(ctx.conn, _steward(ctx), case_number)
            return {**found, "reverted": True}

        return _mutate(ctx, "revertLinkageCase", "linkage.revert", work)
