"""Who may read or write the preference center: the policy decides, the channel must fit.

The organisation's policy (casbin) answers (role, declared purpose, `consent` | `preference`,
`read` | `write`). On top of it, an app may state only the source channels its role works
through: a call-center app records what was said on a call, not a web form.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.consent.ledger import SOURCE_CHANNELS
from gateway.consent.purposes import Purposes
from gateway.errors import ServiceError
from gateway.policy import PolicyEngine
from gateway.policy.codes import Code

ROLE_CHANNELS: dict[str, frozenset[str]] = {
    "call_center": frozenset({"call_center"}),
    "support": frozenset({"call_center", "api"}),
    "marketing": frozenset({"web_form", "api"}),
}
DEFAULT_CHANNELS = frozenset({"api"})


@dataclass(frozen=True)
class Access:
    """One caller's view on the preference center."""

    policy: PolicyEngine
    purposes: Purposes
    role: str
    declared: str | None

    def require(self, obj: str, action: str) -> str:
        """The declared purpose, when the policy allows `action` on `obj` for it."""
        if not self.declared:
            raise ServiceError(Code.PURPOSE_REQUIRED, "declare the purpose in the X-Purpose header")
        if self.purposes.get(self.declared) is None:
            raise ServiceError(Code.PURPOSE_UNKNOWN, "unknown purpose in X-Purpose")
        if not self.policy.decide(self.role, self.declared, obj, action).allowed:
            raise ServiceError(Code.POLICY_DENIED, f"this app may not {action} {obj} for this purpose")
        return self.declared

    def require_consent_write(self, purpose: str) -> None:
        """May record a consent to `purpose`: a consent-based declared purpose covers only itself."""
        declared = self.require("consent", "write")
        basis = self.purposes.by_name[declared].basis
        if basis == "consent" and purpose != declared:
            raise ServiceError(
                Code.POLICY_DENIED, "an app records consents only for the purpose it declares", "purpose"
            )

    def require_channel(self, source_channel: str) -> None:
        """The source channel exists (INVALID_INPUT) and the caller's role works through it."""
        if source_channel not in SOURCE_CHANNELS:
            raise ServiceError(
                Code.INVALID_INPUT,
                f"unknown source channel; one of {', '.join(sorted(SOURCE_CHANNELS))}",
                "sourceChannel",
            )
        allowed = ROLE_CHANNELS.get(self.role, DEFAULT_CHANNELS)
        if source_channel not in allowed:
            raise ServiceError(
                Code.POLICY_DENIED,
                f"this app may record through {', '.join(sorted(allowed))} only", "sourceChannel",
            )

    def readable_purposes(self) -> frozenset[str]:
        """The purposes whose consent history this caller may see: its own purposes."""
        self.require("consent", "read")
        return self.policy.purposes_of(self.role)
