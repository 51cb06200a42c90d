"""Which purposes still have a legal basis to keep a customer's data, and since when none has.

- consent: an active consent (`gateway.consent.state.consented`: the latest event a grant,
  not expired, to a notice still in force). A 152-FZ grant expires after its term
  (`term_days`, set as the grant's expiry by the consent service). Withdrawal, denial or
  expiry end the basis at that moment.
- contract, legitimate interest: the purpose's `retention_days` after the customer's last
  activity (creation, last order, last visit); an objection ends a legitimate interest's
  basis (Art. 21).
- legal obligation: keeps what the law requires kept, which survives an erasure anyway (the
  pseudonymous audit log, the consent ledger's proofs), not the profile.

A customer none of whose purposes holds is due for destruction; the legal deadline is 30
days after the basis ended (152-FZ Art. 21(5); GDPR: without undue delay).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, select

from gateway.consent.purposes import Purpose, Purposes
from gateway.consent.state import consented, objected
from gateway.consent.tables import consent_state
from gateway.profile.tables import customers

DEADLINE = timedelta(days=30)
KEEPING = ("contract", "legitimate_interest")


@dataclass(frozen=True)
class Standing:
    """One customer's standing: what keeps the data, or since when nothing does."""

    customer_id: int
    jurisdiction: str
    kept_by: tuple[str, ...]  # e.g. "consent:marketing_email", "contract:service"
    ended: tuple[str, ...]  # the bases that ended, e.g. "consent:marketing_email"
    ended_at: datetime | None  # when the last basis ended (None while one holds)

    @property
    def deadline(self) -> datetime | None:
        """The last moment the data may still exist."""
        return self.ended_at + DEADLINE if self.ended_at else None


def _last_activity(row: Any) -> datetime:
    moments: list[datetime] = [m for m in (row.created_at, row.last_order_at, row.last_seen_at)
                               if m is not None]
    return max(moments)


def standings(conn: Connection, purposes: Purposes, now: datetime,
              batch: int = 500) -> Iterator[Standing]:
    """The standing of every customer, in id order, `batch` customers per query."""
    consent_purposes = [p for p in purposes.by_name.values() if p.basis == "consent"]
    keeping = [p for p in purposes.by_name.values()
               if p.basis in KEEPING and p.retention_days > 0]
    c = customers.c
    columns: list[ColumnElement[Any]] = [c.id, c.jurisdiction, c.created_at, c.last_order_at,
                                         c.last_seen_at]
    columns += [consented(c.id, p, now).label(f"consent_{i}") for i, p in enumerate(consent_purposes)]
    columns += [objected(c.id, p).label(f"objected_{i}") for i, p in enumerate(keeping)]
    after = 0
    while True:
        rows = conn.execute(select(*columns).where(c.id > after).order_by(c.id).limit(batch)).all()
        if not rows:
            return
        for row in rows:
            yield _standing(conn, row, consent_purposes, keeping, now)
        after = rows[-1].id


def _standing(conn: Connection, row: Any, consent_purposes: list[Purpose],
              keeping: list[Purpose], now: datetime) -> Standing:
    kept: list[str] = []
    ended: list[str] = []
    ends: list[datetime] = []
    for i, purpose in enumerate(consent_purposes):
        if row._mapping[f"consent_{i}"]:
            kept.append(f"consent:{purpose.name}")
    activity = _last_activity(row)
    for i, purpose in enumerate(keeping):
        until = activity + timedelta(days=purpose.retention_days)
        if row._mapping[f"objected_{i}"]:
            ended.append(f"objected:{purpose.name}")
        elif until > now:
            kept.append(f"{purpose.basis}:{purpose.name}")
        else:
            ended.append(f"{purpose.basis}:{purpose.name}")
            ends.append(until)
    if kept:
        return Standing(row.id, row.jurisdiction, tuple(kept), tuple(ended), None)
    consent_end = _consent_end(conn, row.id, now)
    if consent_end is not None:
        ended.append("consent")
        ends.append(consent_end)
    # An objection's moment is not needed: activity-based ends are the latest then.
    ended_at = max(ends) if ends else activity
    return Standing(row.id, row.jurisdiction, (), tuple(ended), min(ended_at, now))


def _consent_end(conn: Connection, customer_id: int, now: datetime) -> datetime | None:
    """When the customer's last consent ended: withdrawn, denied or expired (None: never had)."""
    cs = consent_state.c
    said_no = conn.execute(select(func.max(cs.occurred_at)).where(
        cs.customer_id == customer_id, cs.action.in_(("withdraw", "deny")))).scalar()
    expired = conn.execute(select(func.max(cs.expires_at)).where(
        cs.customer_id == customer_id, cs.action == "grant", cs.expires_at <= now)).scalar()
    moments = [m for m in (said_no, expired) if m is not None]
    return max(moments) if moments else None
