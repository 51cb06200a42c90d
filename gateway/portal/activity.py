"""Who used my data and why: the person's entries of the audit log, in plain terms.

The audit names people by their audit pseudonym only; this resolves it for one person, the
way the rights' export does (gateway/rights/export.py `reads`): entries older than the
customer record are left out (an id freed by an erasure must not hand over that history).
The portal's own entries (the person's visits and changes) are counted, not listed, and the
list is bounded: a long-time customer's page stays fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, select

from gateway.audit.tables import audit_events, audit_subjects
from gateway.portal.context import ACTOR_TYPE, Portal
from gateway.rights.subjects import Person

MAX_SHOWN = 200


@dataclass(frozen=True)
class Use:
    """One use of the person's data by an app or staff."""

    at: datetime
    who: str  # the app's name, or the operator's tool
    actor_type: str
    purpose: str | None
    action: str  # read, consent.record, rights.opened, activation...
    outcome: str | None  # the person's reason code: ALLOWED or why they were withheld
    given: list[str]
    withheld: list[str]


@dataclass(frozen=True)
class Activity:
    """The newest uses, their count by app and purpose, and the person's own visits."""

    uses: list[Use]
    by_app: list[tuple[str, str | None, int]]
    own_visits: int
    own_changes: int


def activity(conn: Connection, portal: Portal, person: Person) -> Activity:
    """The person's audit entries in plain terms."""
    ref = portal.audit.customer_id(person.id)
    e = audit_events.c
    mine = (select(audit_events).join(audit_subjects, audit_subjects.c.audit_id == e.id)
            .where(audit_subjects.c.ref == ref, e.occurred_at >= person.created_at).subquery())
    m = mine.c
    others = m.actor_type != ACTOR_TYPE
    uses = []
    for row in conn.execute(select(m.occurred_at, m.actor, m.actor_type, m.purpose, m.action,
                                   m.subjects, m.detail)
                            .where(others).order_by(m.seq.desc()).limit(MAX_SHOWN)):
        code = next((s.get("code") for s in row.subjects if s.get("ref") == ref), None)
        fields = (row.detail.get("fields") or {}) if isinstance(row.detail, dict) else {}
        uses.append(Use(row.occurred_at, str(row.actor), str(row.actor_type), row.purpose,
                        str(row.action), code, sorted(n for n, c in fields.items() if c == "ALLOWED"),
                        sorted(n for n, c in fields.items() if c != "ALLOWED")))
    # One pass over the person's entries counts both the others' uses by app and purpose and
    # the person's own visits and changes (grouped by plain columns: PostgreSQL cannot match a
    # grouped bound comparison with the selected one).
    by_app: dict[tuple[str, str | None], int] = {}
    own: dict[bool, int] = {}
    for actor_type, actor, purpose, action, n in conn.execute(
            select(m.actor_type, m.actor, m.purpose, m.action, func.count())
            .group_by(m.actor_type, m.actor, m.purpose, m.action)):
        if actor_type == ACTOR_TYPE:
            own[action == "read"] = own.get(action == "read", 0) + int(n)
        else:
            key = (str(actor), purpose)
            by_app[key] = by_app.get(key, 0) + int(n)
    return Activity(
        uses=uses,
        by_app=sorted(((a, p, n) for (a, p), n in by_app.items()), key=lambda t: (-t[2], t[0])),
        own_visits=int(own.get(True, 0)), own_changes=int(own.get(False, 0)),
    )
