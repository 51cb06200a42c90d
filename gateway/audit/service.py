"""Writing audit entries. No raw personal data: subjects are audit-audience pseudonyms.

An entry is written on the caller's connection, inside the caller's transaction, so a read
or write and its entry commit together or not at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection

from gateway.audit.batch import Prepared
from gateway.audit.writer import CheckpointPolicy, SignerLike, append
from gateway.config import Settings
from gateway.privacy.pseudonyms import Pseudonymizer
from gateway.store.types import utcnow


@dataclass
class AuditEntry:
    """One request's or write's record: actor, purpose, subjects touched, fields decided."""

    actor_type: str
    actor: str
    action: str
    role: str | None = None
    purpose: str | None = None
    operation: str | None = None
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    occurred_at: datetime = field(default_factory=utcnow)
    subjects: list[tuple[int, str]] = field(default_factory=list)  # (internal id, reason code)
    fields: dict[str, str] = field(default_factory=dict)  # field -> organisation's reason code
    errors: dict[str, int] = field(default_factory=dict)  # error code -> count
    extra: dict[str, Any] = field(default_factory=dict)

    def decision(self) -> str:
        """allow: nothing withheld; deny: nothing given; partial: some of each."""
        withheld = bool(self.errors) or any(c != "ALLOWED" for _, c in self.subjects)
        given = any(c == "ALLOWED" for c in self.fields.values()) and (
            not self.subjects or any(c == "ALLOWED" for _, c in self.subjects)
        )
        if not withheld:
            return "allow"
        return "partial" if given else "deny"


@lru_cache(maxsize=65_536)
def _ref(audit: Pseudonymizer, internal_id: int) -> str:
    # A list read names up to a page of customers, the same ones again and again: one
    # AES-SIV encryption per customer per process, not per request.
    return audit.customer_id(internal_id)


@lru_cache(maxsize=64)
def _policy(every: int, seconds: float) -> CheckpointPolicy:
    return CheckpointPolicy(every, seconds)


_DEFAULT_SETTINGS = Settings()


def _subjects(pairs: Sequence[tuple[int, str]], audit: Pseudonymizer) -> list[dict[str, str]]:
    seen: dict[int, str] = {}
    for internal_id, code in pairs:
        seen.setdefault(internal_id, code)
    return [{"ref": _ref(audit, i), "code": c} for i, c in seen.items()]


def _values(entry: AuditEntry, audit: Pseudonymizer) -> tuple[dict[str, Any], list[str]]:
    """The stored fields of `entry` but its place and hashes, and its subject refs."""
    detail: Mapping[str, Any] = {"fields": entry.fields, "errors": entry.errors, **entry.extra}
    subjects = _subjects(entry.subjects, audit)
    values: dict[str, Any] = {
        "occurred_at": entry.occurred_at,
        "request_id": entry.request_id,
        "actor_type": entry.actor_type,
        "actor": entry.actor,
        "role": entry.role,
        "purpose": entry.purpose,
        "action": entry.action,
        "operation": entry.operation,
        "decision": entry.decision(),
        "subjects": subjects,
        "detail": dict(detail),
    }
    return values, [s["ref"] for s in subjects]


def write_entry(
    conn: Connection, entry: AuditEntry, audit: Pseudonymizer, signer: SignerLike,
    settings: Settings | None = None,
) -> int:
    """Append `entry` to the chain on `conn` (the caller commits); its seq.

    Raises if it cannot be written. `signer` signs a checkpoint when one is due (every
    `settings.audit_checkpoint_every` entries or `audit_checkpoint_seconds`).
    """
    settings = settings or _DEFAULT_SETTINGS
    values, refs = _values(entry, audit)
    return append(conn, values, refs, signer, checkpoint_policy(settings))


def prepare(entry: AuditEntry, audit: Pseudonymizer) -> Prepared:
    """`entry` ready for the group committer (`gateway.audit.group`): pseudonyms taken and
    JSON encoded now, outside the chain's lock."""
    values, refs = _values(entry, audit)
    return Prepared.of(values, refs)


def checkpoint_policy(settings: Settings) -> CheckpointPolicy:
    """When to sign the chain's head, from the settings."""
    return _policy(settings.audit_checkpoint_every, settings.audit_checkpoint_seconds)


# What `action` may say: reads, and one dotted family per kind of change other domains record.
EVENT_FAMILIES = ("consent", "preference", "dsr", "activation", "policy", "key", "audit",
                  "retention", "portal", "profiling", "segment", "linkage")


def record_event(
    conn: Connection, action: str, *, audit: Pseudonymizer, signer: SignerLike,
    settings: Settings | None = None, actor: str = "gateway", actor_type: str = "system",
    role: str | None = None, purpose: str | None = None, operation: str | None = None,
    subjects: Sequence[int] = (), detail: Mapping[str, Any] | None = None,
    refused: str | None = None,
) -> int:
    """Append one event of another domain on its own transaction; its seq.

    The hook for data subject request steps (`dsr.<step>`), activations (`activation.<...>`),
    bulk consent imports (`consent.<...>`), policy and key changes and the audit log's own
    operations (`audit.<...>`). `subjects` are internal customer ids (written as audit
    pseudonyms); `detail` must hold codes, counts, hashes and names only, never personal data;
    `refused` is the stable code of a step that was refused (the entry's decision: deny).
    Call it on the connection of the change it records, before that commits.
    """
    family = action.split(".", 1)[0]
    if family not in EVENT_FAMILIES or "." not in action or len(action) > 32:
        raise ValueError(f"action must be <family>.<step> with a family of {', '.join(EVENT_FAMILIES)}")
    entry = AuditEntry(
        actor_type=actor_type, actor=actor, action=action, role=role, purpose=purpose,
        operation=operation, subjects=[(s, refused or "ALLOWED") for s in subjects],
        errors={refused: 1} if refused else {}, extra=dict(detail or {}),
    )
    return write_entry(conn, entry, audit, signer, settings)
