"""GraphQL types of the officers' audit API (entries hold pseudonymous references only)."""

from __future__ import annotations

import datetime
from enum import Enum

import strawberry

from gateway.api.types import PageInfo


@strawberry.enum(description="Document formats of an audit export.")
class AuditExportFormat(Enum):
    CSV = "csv"
    JSONL = "jsonl"


@strawberry.input(description="Audit entries matching every given condition.")
class AuditEventFilter:
    customer: strawberry.ID | None = strawberry.field(
        default=None, description="The customer's id as this app was given it.")
    app: str | None = strawberry.field(default=None, description="The calling app's name.")
    purpose: str | None = None
    action: str | None = None
    decision: str | None = strawberry.field(default=None, description="allow, partial or deny.")
    from_: datetime.datetime | None = strawberry.field(default=None, name="from",
                                                       description="Inclusive.")
    to: datetime.datetime | None = strawberry.field(default=None, description="Exclusive.")


@strawberry.type(description="A customer an entry touched: the audit log's pseudonym and the reason code.")
class AuditSubject:
    ref: str
    code: str


@strawberry.type(description="Who an audit pseudonym is, as the asking app's own customer id.")
class AuditSubjectResolution:
    ref: str
    customer_id: strawberry.ID


@strawberry.type(description="One audit entry: who, for which purpose, what was decided; its chain place.")
class AuditEvent:
    seq: int
    occurred_at: datetime.datetime
    request_id: str
    actor_type: str
    actor: str
    role: str | None
    purpose: str | None
    action: str
    operation: str | None
    decision: str
    subjects: list[AuditSubject]
    detail: str = strawberry.field(description="Fields decided and errors, as JSON text.")
    prev_hash: str | None
    entry_hash: str | None


@strawberry.type(description="A page of audit entries, in chain order.")
class AuditEventConnection:
    nodes: list[AuditEvent]
    page_info: PageInfo


@strawberry.type(description="The first problem verification found.")
class AuditProblem:
    seq: int
    kind: str
    message: str


@strawberry.type(description="The outcome of verifying the hash chain and its signed checkpoints.")
class AuditVerification:
    ok: bool
    mode: str
    first_seq: int
    last_seq: int
    entries: int
    checkpoints: int
    seconds: float
    problem: AuditProblem | None
