"""GraphQL types of the data subject requests: cases, their steps, inputs and results."""

from __future__ import annotations

import datetime
from typing import Annotated

import strawberry

from gateway.api.consent_types import MutationError, Receipt


@strawberry.type(description="One step of a case: what happened, the status after it, who did it.")
class RightsCaseStep:
    step: str = strawberry.field(description="opened, started, extended, completed or rejected")
    status: str
    occurred_at: datetime.datetime
    actor: str = strawberry.field(description="The app's name, or `cli` for the operator's command line.")


@strawberry.type(description="A data subject request, tracked from receipt to answer.")
class RightsCase:
    id: strawberry.ID
    customer_id: strawberry.ID | None = strawberry.field(
        description="The customer's id as this app knows it; null once the customer is erased.")
    kind: str = strawberry.field(description="access, export, rectify, erase, restrict or object")
    jurisdiction: str = strawberry.field(description="gdpr or 152-fz")
    status: str = strawberry.field(description="open, in_progress, completed or rejected")
    received_at: datetime.datetime
    due_on: datetime.date = strawberry.field(description="The statutory term, before any extension.")
    extended_to: datetime.date | None
    deadline: datetime.date = strawberry.field(description="The last day to answer (extended if so).")
    overdue: bool
    legal_basis: str = strawberry.field(description="Where the term comes from.")
    note: str | None
    extension_reason: str | None
    rejection_reason: str | None
    opened_by: str
    closed_at: datetime.datetime | None
    outcome: str | None = strawberry.field(
        description="What was done, as JSON: field names, counts, receipt ids; never values.")
    steps: list[RightsCaseStep]


@strawberry.type
class RightsCaseSuccess:
    case: RightsCase


@strawberry.type
class ExecuteRightsCaseSuccess:
    case: RightsCase
    document: str | None = strawberry.field(
        description="access and export: the person's document (JSON), only for a role the policy "
        "grants `read_export` (none by default): it is delivered to the person through the "
        "portal; the case's outcome says it was produced.")
    receipt: Receipt | None = strawberry.field(
        description="restrict and object: the preference center's signed receipt.")


RightsCaseResult = Annotated[RightsCaseSuccess | MutationError, strawberry.union("RightsCaseResult")]
ExecuteRightsCaseResult = Annotated[
    ExecuteRightsCaseSuccess | MutationError, strawberry.union("ExecuteRightsCaseResult")
]


@strawberry.input(description="A data subject request as received.")
class OpenRightsCaseInput:
    customer_id: strawberry.ID
    kind: str = strawberry.field(description="access, export, rectify, erase, restrict or object")
    jurisdiction: str | None = strawberry.field(
        default=None, description="gdpr or 152-fz; default: the customer's jurisdiction")
    received_at: datetime.datetime | None = strawberry.field(
        default=None, description="When the request arrived (the term runs from it); default now.")
    note: str | None = strawberry.field(
        default=None, description="What was asked, in staff's words (at most 2000 characters).")


@strawberry.input(description="One corrected field of a rectification.")
class FieldCorrectionInput:
    name: str = strawberry.field(
        description="firstName, lastName, birthDate, email, phone, street, city, postcode, region, country or language")
    value: str


@strawberry.input(description="Carry out the case's right and complete the case.")
class ExecuteRightsCaseInput:
    id: strawberry.ID
    fields: list[FieldCorrectionInput] | None = strawberry.field(
        default=None, description="rectify: the corrections.")
    objection_scope: str | None = strawberry.field(
        default=None, description="object: profiling, direct_marketing or identity_resolution.")
    lift: bool = strawberry.field(
        default=False, description="restrict / object: release the restriction or lift the objection.")
