"""What one GraphQL request carries: services, connection, caller, purpose, audit entry."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Engine

from gateway.activation.service import Activation
from gateway.api.withhold import Withheld
from gateway.audit.service import AuditEntry
from gateway.auth.apps import Authenticator, Caller
from gateway.config import Settings
from gateway.consent.purposes import Purposes
from gateway.errors import ServiceError
from gateway.ops.ratelimit import Limiter
from gateway.policy import PolicyEngine
from gateway.policy.codes import Code
from gateway.privacy.pseudonyms import PseudonymService
from gateway.privacy.signing import Signer
from gateway.privacy.vault import Vault
from gateway.profile.fields import CUSTOMER_FIELDS
from gateway.profile.reader import CustomerView, Reader
from gateway.store.types import utcnow


@dataclass(frozen=True)
class Services:
    """The long-lived parts of one gateway process."""

    settings: Settings
    engine: Engine
    purposes: Purposes
    policy: PolicyEngine
    pseudonyms: PseudonymService
    authenticator: Authenticator
    signer: Signer
    vault: Vault
    limiter: Limiter | None = None  # rate limits and quotas (None: off)
    activation: Activation | None = None  # campaigns, triggers, outbox (gateway/activation)


class RequestContext:
    """Per request: the caller, the declared purpose, one connection, one audit entry."""

    def __init__(
        self, services: Services, conn: Connection, caller: Caller, purpose_header: str | None,
        request_id: str,
    ) -> None:
        self.services = services
        self.conn = conn
        self.caller = caller
        self.purpose_header = purpose_header
        purpose = services.purposes.get(purpose_header) if purpose_header else None
        # An unknown purpose header is caller-supplied text: it is not written to the audit.
        self.audit = AuditEntry(
            actor_type="app", actor=caller.name, action="read", role=caller.role,
            purpose=purpose.name if purpose else None, request_id=request_id,
        )
        self._reader: Reader | None = None
        self.withheld = Withheld()

    def reader(self) -> Reader:
        """The reader for the declared purpose; `PURPOSE_REQUIRED` / `PURPOSE_UNKNOWN` if none."""
        if self._reader is None:
            if not self.purpose_header:
                # The purposes the caller's own role may read for: its business, not a secret
                # (an officer is told to send compliance_audit).
                own = sorted(self.services.policy.purposes_of(self.caller.role))
                hint = "; send " + " or ".join(f"X-Purpose: {p}" for p in own) if own else ""
                raise ServiceError(
                    Code.PURPOSE_REQUIRED,
                    "declare the purpose of this read in the X-Purpose header" + hint,
                )
            purpose = self.services.purposes.get(self.purpose_header)
            if purpose is None:
                raise ServiceError(
                    Code.PURPOSE_UNKNOWN,
                    "unknown purpose in X-Purpose; the purposes are listed in policies/purposes.yaml",
                )
            policy = self.services.policy
            if purpose.name not in policy.purposes_of(self.caller.role):
                # Minimisation: a purpose this app may not process personal data for at all
                # is refused as a whole; nothing is listed, not even pseudonyms.
                raise ServiceError(
                    Code.POLICY_DENIED, "this app may not process personal data for this purpose"
                )
            self._reader = Reader(
                plan=policy.plan(self.caller.role, purpose, CUSTOMER_FIELDS),
                pseudonyms=self.services.pseudonyms.for_app(self.caller.app_id),
                now=utcnow(),
                own_purposes=policy.purposes_of(self.caller.role),
                purposes=self.services.purposes,
                vault=self.services.vault,
                opener=self.services.vault.envelope.opener(),
            )
        return self._reader

    def denied(self, obj: str, action: str, message: str,
               code: Code = Code.POLICY_DENIED) -> ServiceError:
        """POLICY_DENIED (or PURPOSE_REQUIRED), telling a caller that sent the wrong purpose
        which X-Purpose would have been allowed: its role's own business, not a secret."""
        policy, role = self.services.policy, self.caller.role
        fits = sorted(p for p in self.services.purposes.by_name
                      if policy.decide(role, p, obj, action).allowed)
        if fits and self.purpose_header not in fits:
            hint = " or ".join(f"X-Purpose: {p}" for p in fits)
            return ServiceError(code, f"{message}; send {hint}")
        return ServiceError(code, message)

    def begin(self, operation: str) -> None:
        """Name the root field in the audit entry before anything can refuse it."""
        audit = self.audit
        if operation not in (audit.operation or "").split(","):
            audit.operation = f"{audit.operation},{operation}" if audit.operation else operation

    def record(self, operation: str, views: list[CustomerView], wanted: tuple[str, ...]) -> None:
        """Note in the audit entry whom this request touched and what it decided per field."""
        audit = self.audit
        self.begin(operation)
        plan = self.reader().plan
        for name in wanted:
            audit.fields.setdefault(name, plan.access(name).decision.code.value)
        audit.subjects.extend((v.internal_id, v.subject.code.value) for v in views)
