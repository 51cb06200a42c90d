"""What every activation service needs, built once per process (or per CLI command)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from gateway.activation.clock import SYSTEM, Clock
from gateway.activation.rules import ActivationRules, load_rules
from gateway.activation.urlguard import UrlGuard
from gateway.audit.service import record_event
from gateway.config import Settings
from gateway.consent.purposes import Purposes
from gateway.policy import PolicyEngine
from gateway.privacy.pseudonyms import PseudonymService
from gateway.privacy.signing import Signer
from gateway.privacy.vault import Vault


@dataclass(frozen=True)
class Actor:
    """Who acts: an app (name, role, the purpose it declared) or the operator's CLI."""

    name: str
    role: str | None = None
    purpose: str | None = None
    actor_type: str = "system"
    # A GraphQL request writes its own audit entry (gateway/api/http.py) with the counts the
    # resolver adds to it: the service then writes none of its own.
    request_audited: bool = False


CLI = Actor("cli")
WORKER = Actor("activation-worker")


@dataclass(frozen=True)
class Activation:
    """Settings, purposes, policy, pseudonyms, vault, signer, rules, clock and URL guard."""

    settings: Settings
    purposes: Purposes
    policy: PolicyEngine
    pseudonyms: PseudonymService
    vault: Vault
    signer: Signer
    rules: ActivationRules
    clock: Clock = SYSTEM
    guard: UrlGuard = field(default_factory=lambda: UrlGuard((), (), None))

    @classmethod
    def build(cls, settings: Settings, purposes: Purposes, policy: PolicyEngine,
              pseudonyms: PseudonymService, vault: Vault, signer: Signer,
              clock: Clock = SYSTEM, rules: ActivationRules | None = None) -> Activation:
        """From a process's long-lived parts; rules from `<policy_dir>/activation.yaml`."""
        if rules is None:
            rules = load_rules(settings.policy_dir / "activation.yaml", frozenset(purposes.by_name))
        guard = UrlGuard.from_settings(settings.activation_allowed_urls,
                                       settings.activation_private_networks,
                                       settings.activation_public_url)
        return cls(settings, purposes, policy, pseudonyms, vault, signer, rules, clock, guard)

    def audit(self, conn: Connection, action: str, actor: Actor, *, detail: Mapping[str, Any],
              subjects: Sequence[int] = (), refused: str | None = None) -> int:
        """One audit entry (`activation.<step>`) on `conn`: codes, counts and names only; its
        seq (0 when the caller's request entry records the step instead)."""
        if actor.request_audited:
            return 0
        return record_event(
            conn, f"activation.{action}", audit=self.pseudonyms.for_audit(), signer=self.signer,
            settings=self.settings, actor=actor.name, actor_type=actor.actor_type,
            role=actor.role, purpose=actor.purpose, subjects=subjects, detail=detail,
            refused=refused,
        )
