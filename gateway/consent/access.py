"""Who may read or write the preference center: the policy decides, the channel must fit.

The organisation's policy (casbin) answers (role, declared purpose, `consent` | `preference`,
action). A write is named by what it does to the customer's protection (DESIGN.md rule 8):
`refuse` / `restrict` make it stricter (deny or withdraw a consent; opt out of a channel,
object, restrict processing), `grant` / `relax` loosen it (grant a consent; opt in, lift an
objection or a restriction). Only the customer loosens their own protection: an app may do
it only where the policy grants it to a staff channel, and only with the evidence of what
the customer said. On top of it, an app may state only the source channels its role works
through: a call-center app records what was said on a call, not a web form.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.consent.ledger import SOURCE_CHANNELS
from gateway.consent.purposes import Purposes
from gateway.errors import ServiceError
from gateway.policy import PolicyEngine
from gateway.policy.codes import Code

# What each consent action and each (preference kind, value) does to the protection.
CONSENT_PERMISSIONS = {"grant": "grant", "deny": "refuse", "withdraw": "refuse"}
PREFERENCE_PERMISSIONS = {
    ("channel", "opt_out"): "restrict", ("channel", "opt_in"): "relax",
    ("objection", "on"): "restrict", ("objection", "off"): "relax",
    ("restriction", "on"): "restrict", ("restriction", "off"): "relax",
}
LOOSENING = frozenset({"grant", "relax"})

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

    def require_consent_write(self, purpose: str, action: str, evidence: str | None) -> None:
        """May record `action` (grant, deny, withdraw) of a consent to `purpose`.

        A consent-based declared purpose covers only itself. An unknown action is left to
        the service's validation (INVALID_INPUT at its field).
        """
        permission = CONSENT_PERMISSIONS.get(action)
        if permission is None:
            self.require("consent", "refuse")  # the least an app must hold to write at all
            return
        declared = self.require("consent", permission)
        basis = self.purposes.by_name[declared].basis
        if basis == "consent" and purpose != declared:
            raise ServiceError(
                Code.POLICY_DENIED, "an app records consents only for the purpose it declares", "purpose"
            )
        _require_evidence(permission, evidence)

    def require_preference_write(self, kind: str, value: str, evidence: str | None) -> None:
        """May record the `kind` choice `value` (stricter: restrict; looser: relax)."""
        permission = PREFERENCE_PERMISSIONS[(kind, value)]
        self.require("preference", permission)
        _require_evidence(permission, evidence)

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

    def may(self, obj: str, action: str) -> bool:
        """Whether the policy allows `action` on `obj` for the declared purpose (no raise)."""
        declared = self.declared or ""
        return self.policy.decide(self.role, declared, obj, action).allowed

    def readable_purposes(self) -> frozenset[str]:
        """The purposes whose consent history this caller may see: its own purposes."""
        self.require("consent", "read")
        return self.policy.purposes_of(self.role)


def _require_evidence(permission: str, evidence: str | None) -> None:
    """Staff loosening a protection on the customer's word must record that word."""
    if permission in LOOSENING and not (evidence and evidence.strip()):
        raise ServiceError(
            Code.INVALID_INPUT,
            "granting a consent or lifting a protection on a customer's behalf needs its "
            "evidence (the call, the signed form or the support case it comes from)",
            "evidence",
        )
