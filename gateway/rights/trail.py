"""Who acts on a case, and the audit entry each step of a case writes (same transaction).

Entries carry the case's public id, its kind and status, and names and codes only: never a
value of the person's data, never staff's free text (a reason may quote the person).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from gateway.audit.service import AuditEntry, write_entry
from gateway.audit.writer import SignerLike
from gateway.config import Settings
from gateway.policy.codes import Code
from gateway.privacy.pseudonyms import Pseudonymizer
from gateway.privacy.vault import Vault


@dataclass(frozen=True)
class Actor:
    """The app (or the operator's command line) acting on a case, and what it declared."""

    actor_type: str  # app, system
    name: str  # the app's name, or `cli`
    role: str | None = None
    purpose: str | None = None
    app_id: int | None = None
    request_id: str | None = None  # the HTTP request's id, so both entries can be matched
    operation: str | None = None


@dataclass(frozen=True)
class Trail:
    """Writes the audit entries of a case's steps on the caller's connection."""

    audit: Pseudonymizer
    signer: SignerLike
    settings: Settings
    actor: Actor
    vault: Vault  # seals and opens the case's free text (gateway/rights/texts.py)
    extra: dict[str, Any] = field(default_factory=dict)

    def step(self, conn: Connection, action: str, customer_id: int | None, detail: dict[str, Any]) -> int:
        """Append the entry of one step (`rights.<step>`); its seq. Raises if it cannot."""
        a = self.actor
        entry = AuditEntry(
            actor_type=a.actor_type, actor=a.name, action=action, role=a.role, purpose=a.purpose,
            operation=a.operation,
            subjects=[(customer_id, Code.ALLOWED.value)] if customer_id is not None else [],
            extra={**self.extra, **detail},
        )
        if a.request_id is not None:
            entry.request_id = a.request_id
        return write_entry(conn, entry, self.audit, self.signer, self.settings)
