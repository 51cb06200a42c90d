"""What the portal works with: the gateway's long-lived parts, its settings and its sender."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Connection, Engine

from gateway.audit.service import AuditEntry, write_entry
from gateway.config import Settings
from gateway.consent.purposes import Purposes
from gateway.errors import ServiceError
from gateway.policy import PolicyEngine
from gateway.policy.codes import Code
from gateway.portal.codes import code_key
from gateway.portal.sender import Sender
from gateway.portal.settings import PortalSettings
from gateway.privacy.keys import load_or_create_master_key
from gateway.privacy.pseudonyms import Pseudonymizer, PseudonymService
from gateway.privacy.signing import Signer
from gateway.privacy.vault import Vault

# The portal acts as the data subject, under this purpose and this policy role.
PURPOSE = "self_service"
ROLE = "subject"
ACTOR = "portal"  # the audit's actor name; the person is named only by their audit pseudonym
ACTOR_TYPE = "subject"


class GatewayParts(Protocol):
    """The parts of a gateway process the portal needs (gateway.api.context.Services has them)."""

    @property
    def settings(self) -> Settings: ...
    @property
    def engine(self) -> Engine: ...
    @property
    def purposes(self) -> Purposes: ...
    @property
    def policy(self) -> PolicyEngine: ...
    @property
    def pseudonyms(self) -> PseudonymService: ...
    @property
    def signer(self) -> Signer: ...
    @property
    def vault(self) -> Vault: ...


@dataclass(frozen=True)
class Portal:
    """The portal's view of the gateway, plus its own settings and sender."""

    settings: Settings
    engine: Engine
    purposes: Purposes
    policy: PolicyEngine
    pseudonyms: PseudonymService
    signer: Signer
    vault: Vault
    portal: PortalSettings
    sender: Sender
    code_key: bytes  # the HMAC key of stored SMS codes (codes.py)

    @classmethod
    def of(cls, parts: GatewayParts, portal: PortalSettings, sender: Sender) -> Portal:
        """The portal over a gateway's parts."""
        master = load_or_create_master_key(parts.settings.master_key, parts.settings.master_key_file)
        return cls(parts.settings, parts.engine, parts.purposes, parts.policy, parts.pseudonyms,
                   parts.signer, parts.vault, portal, sender, code_key(master))

    @property
    def audit(self) -> Pseudonymizer:
        """The audit log's pseudonyms (also how the person's receipts name them)."""
        return self.pseudonyms.for_audit()

    def require(self, obj: str, action: str) -> None:
        """The organisation's policy lets the data subject do `action` on `obj` (a category,
        `consent`, `preference` or `rights_case`) under self_service; POLICY_DENIED if not."""
        if not self.policy.decide(ROLE, PURPOSE, obj, action).allowed:
            raise ServiceError(Code.POLICY_DENIED, f"the portal may not {action} {obj}")

    def allowed(self, obj: str, action: str) -> bool:
        """Whether the policy lets the data subject do `action` on `obj`."""
        return self.policy.decide(ROLE, PURPOSE, obj, action).allowed

    def record(self, conn: Connection, customer_id: int | None, action: str, operation: str,
               *, fields: dict[str, str] | None = None, extra: dict[str, Any] | None = None,
               request_id: str | None = None) -> int:
        """The audit entry of one portal request or change, on `conn` (same transaction).

        Names, codes and receipt ids only: never a value of the person's data.
        """
        entry = AuditEntry(
            actor_type=ACTOR_TYPE, actor=ACTOR, action=action, role=ROLE, purpose=PURPOSE,
            operation=operation,
            subjects=[(customer_id, Code.ALLOWED.value)] if customer_id is not None else [],
            fields=dict(fields or {}), extra=dict(extra or {}),
        )
        if request_id is not None:
            entry.request_id = request_id
        return write_entry(conn, entry, self.audit, self.signer, self.settings)
