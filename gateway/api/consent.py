"""Root fields of the preference center: parse, check access, call the consent service, shape.

Expected failures of a mutation (bad input, unknown customer, policy) are answered as a
`MutationError` value, not as GraphQL errors; such a mutation writes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, cast

import strawberry
from strawberry.types import Info

from gateway.api.consent_types import (
    ConsentEvent,
    MutationError,
    NoticeText,
    NoticeVersion,
    PreferenceEvent,
    PurposeInfo,
    Receipt,
    RecordConsentInput,
    RecordConsentResult,
    RecordConsentSuccess,
    RecordObjectionInput,
    RecordObjectionResult,
    RecordObjectionSuccess,
    RestrictProcessingInput,
    RestrictProcessingResult,
    RestrictProcessingSuccess,
    SetChannelPreferenceInput,
    SetChannelPreferenceResult,
    SetChannelPreferenceSuccess,
)
from gateway.api.context import RequestContext
from gateway.api.errors import WITHHELD
from gateway.consent import service
from gateway.consent.access import Access
from gateway.consent.purposes import Purposes
from gateway.consent.queries import PREFERENCE_KINDS, consent_history, preference_history
from gateway.consent.receipts import Receipt as SignedReceipt
from gateway.consent.validation import notice_digest, notice_of, notice_text, text_sha256
from gateway.errors import ServiceError
from gateway.policy.codes import Code
from gateway.privacy.pseudonyms import InvalidPseudonym
from gateway.profile.service import get_customer

Ctx = Info[RequestContext, Any]


def _access(ctx: RequestContext) -> Access:
    services = ctx.services
    return Access(services.policy, services.purposes, ctx.caller.role, ctx.purpose_header)


def _customer(ctx: RequestContext, token: str) -> int:
    try:
        return ctx.services.pseudonyms.for_app(ctx.caller.app_id).resolve_customer(token)
    except InvalidPseudonym as exc:
        raise ServiceError(Code.NOT_FOUND, "no customer with this id", "customerId") from exc


def _recorder(ctx: RequestContext) -> service.Recorder:
    services = ctx.services
    return service.Recorder(
        services.purposes, services.signer, ctx.caller.app_id,
        services.pseudonyms.for_app(ctx.caller.app_id), services.vault,
    )


# What the hash of the text a customer was shown reveals: its language (and so theirs) and,
# through the jurisdictions the text is shown in, where they live.
_TEXT_HASH_REVEALS = ("language", "country")


def _text_hash_withheld(ctx: RequestContext, token: str) -> Code | None:
    """Why the exact-text hashes of this customer's history are withheld from this caller,
    or None: decided through the read path, as a read of the fields the hash reveals."""
    view = get_customer(ctx.conn, ctx.reader(), token, _TEXT_HASH_REVEALS)
    return next((view.denied[n] for n in _TEXT_HASH_REVEALS if n in view.denied), None)


def _digest(purposes: Purposes, purpose: str, version: int) -> str | None:
    found = purposes.get(purpose)
    notice = next((n for n in found.notices if n.version == version), None) if found else None
    return notice_digest(found, notice) if found and notice else None


def _receipt(found: SignedReceipt) -> Receipt:
    return Receipt(id=found.id, jws=found.jws, payload=json.dumps(found.payload, sort_keys=True))


def _mutate(ctx: RequestContext, operation: str, action: str,
            work: Callable[[], tuple[int, SignedReceipt]]) -> Receipt | MutationError:
    """Run one write: on success note the subject in the audit entry; on failure, an error value."""
    ctx.begin(operation)
    ctx.audit.action = action
    try:
        customer_id, receipt = work()
    except ServiceError as exc:
        ctx.audit.extra["refused"] = exc.code.value  # a code only: never the input's values
        return MutationError(code=exc.code.value, field=exc.field, message=exc.message)
    ctx.audit.subjects.append((customer_id, Code.ALLOWED.value))
    return _receipt(receipt)


def _preference(ctx: RequestContext, token: str, source_channel: str, occurred_at: str | None,
                evidence: str | None, kind: str, value: str) -> service.PreferenceInput:
    access = _access(ctx)
    access.require_preference_write(kind, value, evidence)
    access.require_channel(source_channel)
    return service.PreferenceInput(
        customer_id=_customer(ctx, token), source_channel=source_channel,
        occurred_at=occurred_at, evidence=evidence,
    )


@strawberry.type
class ConsentQuery:
    @strawberry.field(description="The purposes of processing, their legal bases and notices.")
    def purposes(self, info: Ctx) -> list[PurposeInfo]:
        return [
            PurposeInfo(
                name=p.name, basis=p.basis, description=p.description,
                categories=sorted(p.categories), retention_days=p.retention_days,
                notices=[NoticeVersion(version=n.version, material=n.material, published=n.published,
                                       languages=sorted(n.texts)) for n in p.notices],
            )
            for p in info.context.services.purposes.by_name.values()
        ]

    @strawberry.field(description="The current notice of a purpose in a language (English if absent).")
    def notice(self, info: Ctx, purpose: str, language: str = "en",
               version: int | None = None) -> NoticeText | None:
        found = info.context.services.purposes.get(purpose)
        if found is None:
            raise ServiceError(Code.PURPOSE_UNKNOWN, "unknown purpose", "purpose")
        current = found.current_notice
        if current is None:
            return None
        notice = notice_of(found, version) if version is not None else current
        text = notice_text(notice, language)
        shown = language if language in notice.texts else "en"
        return NoticeText(purpose=found.name, version=notice.version, material=notice.material,
                          published=notice.published, language=shown, text=text,
                          text_sha256=text_sha256(text))

    @strawberry.field(description="A customer's consent events for this app's own purposes, newest first.")
    def consent_history(self, info: Ctx, customer_id: strawberry.ID) -> list[ConsentEvent]:
        ctx = info.context
        ctx.begin("consentHistory")
        own = _access(ctx).readable_purposes()
        internal = _customer(ctx, str(customer_id))
        service.find_subject(ctx.conn, internal)
        ctx.audit.subjects.append((internal, Code.ALLOWED.value))
        hidden = _text_hash_withheld(ctx, str(customer_id))
        purposes = ctx.services.purposes
        return [
            ConsentEvent(
                purpose=e["purpose"], notice_version=e["notice_version"], action=e["action"],
                occurred_at=e["occurred_at"], recorded_at=e["recorded_at"],
                source_channel=e["source_channel"], expires_at=e["expires_at"],
                notice_digest=_digest(purposes, e["purpose"], e["notice_version"]),
                # A withheld value is the FieldDenied marker the execution context completes
                # as null plus an error at its path (gateway/api/withhold.py).
                notice_text_sha256=(cast(str, WITHHELD[hidden]) if hidden and e["notice_text_sha256"]
                                    else e["notice_text_sha256"]),
            )
            for e in consent_history(ctx.conn, internal, own)
        ]


    @strawberry.field(description="A customer's channel, objection and restriction events, newest first.")
    def preference_history(self, info: Ctx, customer_id: strawberry.ID,
                           kind: str | None = None) -> list[PreferenceEvent]:
        ctx = info.context
        ctx.begin("preferenceHistory")
        _access(ctx).require("preference", "read")
        if kind is not None and kind not in PREFERENCE_KINDS:
            raise ServiceError(Code.INVALID_INPUT, "must be channel, objection or restriction", "kind")
        internal = _customer(ctx, str(customer_id))
        service.find_subject(ctx.conn, internal)
        ctx.audit.subjects.append((internal, Code.ALLOWED.value))
        kinds = PREFERENCE_KINDS if kind is None else {kind}
        return [PreferenceEvent(**e) for e in preference_history(ctx.conn, internal, kinds)]


def record_consent_result(ctx: RequestContext, input: RecordConsentInput) -> RecordConsentResult:
    """recordConsent's answer (the resolver's body; the compiled path of
    `gateway.api.mutation_plans` calls it too, so both paths run the same checks and writes)."""

    def work() -> tuple[int, SignedReceipt]:
        access = _access(ctx)
        access.require_consent_write(input.purpose, input.action, input.evidence)
        access.require_channel(input.source_channel)
        given = service.ConsentInput(
            customer_id=_customer(ctx, str(input.customer_id)), purpose=input.purpose,
            notice_version=input.notice_version, action=input.action,
            source_channel=input.source_channel, occurred_at=input.occurred_at,
            expires_at=input.expires_at, evidence=input.evidence, language=input.language,
        )
        return given.customer_id, service.record_consent(ctx.conn, _recorder(ctx), given)

    out = _mutate(ctx, "recordConsent", "consent.record", work)
    return out if isinstance(out, MutationError) else RecordConsentSuccess(receipt=out)


def set_channel_preference_result(ctx: RequestContext,
                                  input: SetChannelPreferenceInput) -> SetChannelPreferenceResult:
    """setChannelPreference's answer (the resolver's body)."""

    def work() -> tuple[int, SignedReceipt]:
        given = _preference(ctx, str(input.customer_id), input.source_channel,
                            input.occurred_at, input.evidence, "channel",
                            "opt_in" if input.opted_in else "opt_out")
        cap = input.frequency_cap
        receipt = service.set_channel_preference(
            ctx.conn, _recorder(ctx), given, input.channel,
            "opt_in" if input.opted_in else "opt_out",
            cap.count if cap else None, cap.period_days if cap else None,
        )
        return given.customer_id, receipt

    out = _mutate(ctx, "setChannelPreference", "preference.channel", work)
    return out if isinstance(out, MutationError) else SetChannelPreferenceSuccess(receipt=out)


def record_objection_result(ctx: RequestContext, input: RecordObjectionInput) -> RecordObjectionResult:
    """recordObjection's answer (the resolver's body; also the compiled path's)."""

    def work() -> tuple[int, SignedReceipt]:
        given = _preference(ctx, str(input.customer_id), input.source_channel,
                            input.occurred_at, input.evidence, "objection",
                            "on" if input.objected else "off")
        receipt = service.record_objection(ctx.conn, _recorder(ctx), given, input.scope, input.objected)
        return given.customer_id, receipt

    out = _mutate(ctx, "recordObjection", "preference.objection", work)
    return out if isinstance(out, MutationError) else RecordObjectionSuccess(receipt=out)


def restrict_processing_result(ctx: RequestContext,
                               input: RestrictProcessingInput) -> RestrictProcessingResult:
    """restrictProcessing's answer (the resolver's body; also the compiled path's)."""

    def work() -> tuple[int, SignedReceipt]:
        given = _preference(ctx, str(input.customer_id), input.source_channel,
                            input.occurred_at, input.evidence, "restriction",
                            "on" if input.restricted else "off")
        receipt = service.restrict_processing(ctx.conn, _recorder(ctx), given, input.restricted)
        return given.customer_id, receipt

    out = _mutate(ctx, "restrictProcessing", "preference.restriction", work)
    return out if isinstance(out, MutationError) else RestrictProcessingSuccess(receipt=out)


# The mutations a compiled plan may run (gateway/api/mutation_plans.py), by root field:
# (the input class, the function answering it). Their inputs are flat (scalars only).
PLANNED_MUTATIONS: dict[str, tuple[type, Callable[[RequestContext, Any], Any]]] = {
    "recordConsent": (RecordConsentInput, record_consent_result),
    "recordObjection": (RecordObjectionInput, record_objection_result),
    "restrictProcessing": (RestrictProcessingInput, restrict_processing_result),
}


@strawberry.type
class ConsentMutation:
    @strawberry.mutation(description="Record a consent event (grant, deny, withdraw); returns a signed receipt.")
    def record_consent(self, info: Ctx, input: RecordConsentInput) -> RecordConsentResult:
        return record_consent_result(info.context, input)

    @strawberry.mutation(description="Opt a customer in to or out of a contact channel, with a frequency cap.")
    def set_channel_preference(self, info: Ctx, input: SetChannelPreferenceInput) -> SetChannelPreferenceResult:
        return set_channel_preference_result(info.context, input)

    @strawberry.mutation(description="Raise or lift an objection (Art. 21) to profiling or direct marketing.")
    def record_objection(self, info: Ctx, input: RecordObjectionInput) -> RecordObjectionResult:
        return record_objection_result(info.context, input)

    @strawberry.mutation(description="Restrict or release the processing of a customer's data (Art. 18).")
    def restrict_processing(self, info: Ctx, input: RestrictProcessingInput) -> RestrictProcessingResult:
        return restrict_processing_result(info.context, input)
