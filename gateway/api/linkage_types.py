"""GraphQL types of identity resolution: ingestion results, source records, steward cases."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from gateway.api.consent_types import MutationError
from gateway.api.directives import in_category


@strawberry.input(description="One attribute of a source record: a canonical field and its value.")
class SourceFieldInput:
    name: str = strawberry.field(description="first_name, last_name, birth_date, email, phone, ...")
    value: str


@strawberry.input(description="One record of a source system: its own key and what it knows.")
class SourceRecordInput:
    source_key: str
    fields: list[SourceFieldInput]


@strawberry.type(description="A row that was not ingested, and why (never its values).")
class RejectedRow:
    row: int
    field: str | None
    reason: str


@strawberry.type
class IngestSuccess:
    received: int
    rejected: list[RejectedRow]
    unchanged: int
    updated: int
    new_records: int
    new_persons: int
    linked_to_existing: int
    probabilistic: int
    exact_only: int
    model_version: int | None


IngestResult = Annotated[IngestSuccess | MutationError, strawberry.union("IngestResult")]


@strawberry.type(description="An identity attribute of a source record (names, birth date, sex, "
                             "card); value null with a code where this app may not see it; `chosen`: "
                             "the golden record took it, by `rule`.")
class IdentityAttribute:
    name: str
    value: str | None = in_category("identity")
    code: str
    chosen: bool
    rule: str | None


@strawberry.type(description="A contact attribute of a source record (email, phone, address).")
class ContactAttribute:
    name: str
    value: str | None = in_category("contact")
    code: str
    chosen: bool
    rule: str | None


@strawberry.type(description="A location attribute of a source record (city, postcode, region, country).")
class LocationAttribute:
    name: str
    value: str | None = in_category("location")
    code: str
    chosen: bool
    rule: str | None


@strawberry.type(description="What one source system knows about the person, and how it was linked.")
class SourceRecordView:
    id: strawberry.ID
    source: str
    first_seen_at: datetime
    last_seen_at: datetime
    link_method: str | None
    match_weight: float | None
    identity: list[IdentityAttribute]
    contact: list[ContactAttribute]
    location: list[LocationAttribute]


@strawberry.type(description="A data steward's merge or split, reversible.")
class LinkageCase:
    id: strawberry.ID
    kind: str
    state: str
    survivor_id: strawberry.ID
    other_id: strawberry.ID
    moved: str = strawberry.field(description="Rows moved per table, as JSON counts.")
    conflicts: list[str] = strawberry.field(description="Consent or preference keys whose states "
                                                        "differed (the stricter one was kept).")


@strawberry.type
class LinkageCaseSuccess:
    case: LinkageCase


LinkageCaseResult = Annotated[LinkageCaseSuccess | MutationError, strawberry.union("LinkageCaseResult")]
