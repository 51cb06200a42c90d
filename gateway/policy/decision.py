"""A decision and why it was taken."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.policy.codes import Code


@dataclass(frozen=True, slots=True)
class Decision:
    """Allowed or not, the reason code, and the policy rule that matched (if any)."""

    allowed: bool
    code: Code
    rule: tuple[str, ...] | None = None

    @classmethod
    def allow(cls, rule: tuple[str, ...] | None = None) -> Decision:
        return cls(True, Code.ALLOWED, rule)

    @classmethod
    def deny(cls, code: Code, rule: tuple[str, ...] | None = None) -> Decision:
        return cls(False, code, rule)


ALLOW = Decision.allow()
