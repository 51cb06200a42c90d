"""The enforcement point: every decision on personal data is made here.

The organisation's side is casbin (role, purpose, category, action), compiled into lookup
tables; the subject's side is the preference center's state for one customer and purpose.
Both return a :class:`Decision` with a stable reason code.
"""

from __future__ import annotations

from gateway.policy.codes import Code
from gateway.policy.decision import Decision
from gateway.policy.engine import FieldAccess, FieldPlan, PolicyEngine
from gateway.policy.subject import SubjectFlags, decide_subject

__all__ = [
    "Code",
    "Decision",
    "FieldAccess",
    "FieldPlan",
    "PolicyEngine",
    "SubjectFlags",
    "decide_subject",
]
