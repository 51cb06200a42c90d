"""GraphQL types of the preference center: purposes, notices, history, receipts, results."""

from __future__ import annotations

import datetime
from typing import Annotated

import strawberry

from gateway.api.directives import in_category


@strawberry.type(description="One version of a notice, without its text (see `notice`).")
class NoticeVersion:
    version: int
    material: bool = strawberry.field(description="A material change: consent must be asked again.")
    published: datetime.date
    languages: list[str]


@strawberry.type(description="A purpose of processing, its legal basis and its notices.")
class PurposeInfo:
    name: str
    basis: str = strawberry.field(description="contract, legal_obligation, legitimate_interest or consent")
    description: str
    categories: list[str]
    retention_days: int
    notices: list[NoticeVersion]


@strawberry.type(description="The text of a notice in one language, with its SHA-256.")
class NoticeText:
    purpose: str
    version: int
    material: bool
    published: datetime.date
    language: str
    text: str
    text_sha256: str


@strawberry.type(description="One consent event of a customer's history (append-only).")
class ConsentEvent:
    purpose: str = in_category("preferences")
    notice_version: int = in_category("preferences")
    action: str = in_category("preferences", description="grant, deny or withdraw")
    occurred_at: datetime.datetime = in_category("preferences")
    recorded_at: datetime.datetime = in_category("preferences")
    source_channel: str = in_category("preferences")
    expires_at: datetime.datetime | None = in_category("preferences")
    notice_digest: str | None = in_category("preferences", description=(
        "SHA-256 of the notice version (its texts in every language): the same for every "
        "customer given that version."))
    notice_text_sha256: str | None = in_category(
        "preferences", lineage=("location",), description=(
            "SHA-256 of the exact text the customer was shown. It names the text's language "
            "(and so the customer's language and jurisdiction): withheld unless this app may "
            "read this customer's language and location for the declared purpose."))


@strawberry.type(description="One channel, objection or restriction event of a customer (append-only).")
class PreferenceEvent:
    kind: str = in_category("preferences", description="channel, objection or restriction")
    key: str = in_category(
        "preferences", description="the channel (email, sms, push, phone, post), the objection "
        "(profiling, direct_marketing) or processing")
    value: str = in_category("preferences", description="opt_in / opt_out, or on / off")
    cap_count: int | None = in_category("preferences")
    cap_period_days: int | None = in_category("preferences")
    occurred_at: datetime.datetime = in_category("preferences")
    recorded_at: datetime.datetime = in_category("preferences")
    source_channel: str = in_category("preferences")


@strawberry.type(description="A signed consent receipt: a compact JWS (EdDSA) over `payload`.")
class Receipt:
    id: str
    jws: str = strawberry.field(description="Verify with the key of /.well-known/jwks.json.")
    payload: str = strawberry.field(description="The signed claims, as JSON.")


@strawberry.type(description="An expected failure: a stable code, the input field at fault, a message.")
class MutationError:
    code: str
    field: str | None
    message: str


@strawberry.type
class RecordConsentSuccess:
    receipt: Receipt


@strawberry.type
class SetChannelPreferenceSuccess:
    receipt: Receipt


@strawberry.type
class RecordObjectionSuccess:
    receipt: Receipt


@strawberry.type
class RestrictProcessingSuccess:
    receipt: Receipt


RecordConsentResult = Annotated[
    RecordConsentSuccess | MutationError, strawberry.union("RecordConsentResult")
]
SetChannelPreferenceResult = Annotated[
    SetChannelPreferenceSuccess | MutationError, strawberry.union("SetChannelPreferenceResult")
]
RecordObjectionResult = Annotated[
    RecordObjectionSuccess | MutationError, strawberry.union("RecordObjectionResult")
]
RestrictProcessingResult = Annotated[
    RestrictProcessingSuccess | MutationError, strawberry.union("RestrictProcessingResult")
]


@strawberry.input(description="A consent as given. Dates are ISO 8601 with a UTC offset.")
class RecordConsentInput:
    customer_id: strawberry.ID
    purpose: str
    notice_version: int
    action: str = strawberry.field(description="grant, deny or withdraw")
    source_channel: str = strawberry.field(description="portal, web_form, call_center, import or api")
    occurred_at: str | None = None
    expires_at: str | None = None
    evidence: str | None = strawberry.field(default=None, description="e.g. a form or call id; no personal data")
    language: str | None = None


@strawberry.input(description="At most `count` messages per `periodDays` days.")
class FrequencyCapInput:
    count: int
    period_days: int


@strawberry.input
class SetChannelPreferenceInput:
    customer_id: strawberry.ID
    channel: str = strawberry.field(description="email, sms, push, phone or post")
    opted_in: bool
    source_channel: str
    frequency_cap: FrequencyCapInput | None = None
    occurred_at: str | None = None
    evidence: str | None = None


@strawberry.input
class RecordObjectionInput:
    customer_id: strawberry.ID
    scope: str = strawberry.field(description="profiling, direct_marketing or identity_resolution")
    objected: bool
    source_channel: str
    occurred_at: str | None = None
    evidence: str | None = None


@strawberry.input
class RestrictProcessingInput:
    customer_id: strawberry.ID
    restricted: bool
    source_channel: str
    occurred_at: str | None = None
    evidence: str | None = None
