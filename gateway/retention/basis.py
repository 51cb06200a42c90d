"""Which purposes still have a legal basis to keep a customer's data, and when each ended.

Per purpose that may keep data (basis contract, legitimate interest or consent, and a
`retention_days` above 0 in `purposes.yaml`):

- contract, legitimate interest: `retention_days` after the customer's last activity
  (creation, last order, last visit); an objection ends a legitimate interest's basis at the
  moment it was raised (Art. 21).
- consent: an active consent (the latest event a grant, not expired, to a notice still in
  force), and no longer than `retention_days` after the later of the last activity and the
  grant. It ends at the withdrawal or denial, at the grant's expiry (a 152-FZ grant expires
  after its term, `term_days`, set by the consent service), when a material new notice
  supersedes the one granted (its publication), or when `retention_days` ran out.
- legal obligation: keeps what the law requires kept, which survives an erasure anyway (the
  pseudonymous audit log, the consent ledger's proofs), not the profile. `retention_days: 0`
  (self service) keeps nothing either: it serves the data other purposes keep.

The legal deadline for data whose last basis ended is 30 days after that moment (152-FZ
Art. 21(5); GDPR: without undue delay). Which data a purpose keeps is decided per stored
unit (`gateway.retention.holdings`) in `gateway.retention.plan`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, or_, select, true

from gateway.consent.purposes import Purpose, Purposes
from gateway.consent.tables import consent_state, preference_state
from gateway.profile.tables import customers

DEADLINE = timedelta(days=30)
KEEPING = ("contract", "legitimate_interest", "consent")


@dataclass(frozen=True)
class Basis:
    """One purpose's basis for one customer: holding, or ended (when, why), or never had."""

    purpose: str
    basis: str  # contract | legitimate_interest | consent
    holds: bool
    why: str  # holds: "active"; else withdrawn, denied, expired, superseded, retention, objected, never
    ended_at: datetime | None = None  # None while it holds, or when there never was one

    @property
    def label(self) -> str:
        """E.g. "consent:marketing_email" or "objected:profiling"."""
        return f"{'objected' if self.why == 'objected' else self.basis}:{self.purpose}"


@dataclass(frozen=True)
class Standing:
    """One customer's standing: the basis of every purpose that may keep data."""

    customer_id: int
    jurisdiction: str
    activity: datetime  # the last activity: creation, last order, last visit
    bases: tuple[Basis, ...]

    @property
    def kept_by(self) -> tuple[str, ...]:
        """The purposes that still hold, e.g. ("contract:service",)."""
        return tuple(b.label for b in self.bases if b.holds)

    @property
    def ended(self) -> tuple[str, ...]:
        """The purposes whose basis ended (not those that never had one)."""
        return tuple(b.label for b in self.bases if b.ended_at is not None)

    @property
    def ended_at(self) -> datetime | None:
        """When the last basis ended, once none holds (None while one does)."""
        if any(b.holds for b in self.bases):
            return None
        return last_end(self.bases, self.activity)

    @property
    def deadline(self) -> datetime | None:
        """The last moment the whole record may still exist."""
        return self.ended_at + DEADLINE if self.ended_at else None


def last_end(bases: tuple[Basis, ...] | list[Basis], activity: datetime) -> datetime:
    """When the last of `bases` ended; the last activity if none ever had a basis."""
    ends = [b.ended_at for b in bases if b.ended_at is not None]
    return max(ends) if ends else activity


def keeping_purposes(purposes: Purposes) -> list[Purpose]:
    """The purposes whose basis lets them keep data, in a stable order."""
    return sorted((p for p in purposes.by_name.values()
                   if p.basis in KEEPING and p.retention_days > 0), key=lambda p: p.name)


def _last_activity(row: Any) -> datetime:
    moments: list[datetime] = [m for m in (row.created_at, row.last_order_at, row.last_seen_at)
                               if m is not None]
    return max(moments)


def standings(conn: Connection, purposes: Purposes, now: datetime,
              batch: int = 500) -> Iterator[Standing]:
    """The standing of every customer, in id order, three queries per `batch` customers."""
    keeping = keeping_purposes(purposes)
    c = customers.c
    after = 0
    while True:
        rows = conn.execute(select(c.id, c.jurisdiction, c.created_at, c.last_order_at,
                                   c.last_seen_at).where(c.id > after)
                            .order_by(c.id).limit(batch)).all()
        if not rows:
            return
        ids = [r.id for r in rows]
        cs, ps = consent_state.c, preference_state.c
        consents: dict[tuple[int, str], Any] = {
            (r.customer_id, r.purpose): r for r in conn.execute(
                select(cs.customer_id, cs.purpose, cs.action, cs.notice_version, cs.occurred_at,
                       cs.expires_at).where(cs.customer_id.in_(ids)))}
        objections: dict[tuple[int, str], datetime] = {
            (r.customer_id, r.key): r.occurred_at for r in conn.execute(
                select(ps.customer_id, ps.key, ps.occurred_at).where(
                    ps.customer_id.in_(ids), ps.kind == "objection", ps.value == "on"))}
        for row in rows:
            activity = _last_activity(row)
            bases = tuple(
                _consent_basis(p, consents.get((row.id, p.name)), activity, now)
                if p.basis == "consent" else
                _activity_basis(p, objections.get((row.id, p.objection_scope or "")), activity, now)
                for p in keeping)
            yield Standing(row.id, row.jurisdiction, activity, bases)
        after = rows[-1].id


def _activity_basis(purpose: Purpose, objected_at: datetime | None, activity: datetime,
                    now: datetime) -> Basis:
    if purpose.basis == "legitimate_interest" and objected_at is not None:
        return Basis(purpose.name, purpose.basis, False, "objected", min(objected_at, now))
    until = activity + timedelta(days=purpose.retention_days)
    if until > now:
        return Basis(purpose.name, purpose.basis, True, "active")
    return Basis(purpose.name, purpose.basis, False, "retention", until)


def within_retention(purpose: Purpose, now: datetime) -> ColumnElement[bool]:
    """SQL twin of `_activity_basis`'s clock over `customers`: the customer was active
    (created, ordered, visited) within the purpose's `retention_days` before `now`.

    Jobs that produce data for a purpose (segments, scores) ask it, so that they do not
    recreate what the retention job destroys once the basis ran out.
    """
    if purpose.retention_days <= 0:
        return true()
    since = now - timedelta(days=purpose.retention_days)
    c = customers.c
    # Never NULL (a NOT of it must hold for the inactive): a missing moment is the creation.
    return or_(c.created_at > since, func.coalesce(c.last_order_at, c.created_at) > since,
               func.coalesce(c.last_seen_at, c.created_at) > since)


def _superseded_at(purpose: Purpose, version: int) -> datetime | None:
    """When a material later notice replaced `version` (None: it was not)."""
    later = [n.published for n in purpose.notices if n.material and n.version > version]
    return datetime.combine(min(later), time(), tzinfo=UTC) if later else None


def _consent_basis(purpose: Purpose, state: Any, activity: datetime, now: datetime) -> Basis:
    name, basis = purpose.name, purpose.basis
    if state is None:
        return Basis(name, basis, False, "never")
    if state.action != "grant":
        why = "withdrawn" if state.action == "withdraw" else "denied"
        return Basis(name, basis, False, why, min(state.occurred_at, now))
    ends: list[tuple[datetime, str]] = []
    superseded = _superseded_at(purpose, state.notice_version)
    if superseded is not None:
        # The read path stops counting the grant as soon as the new version exists.
        ends.append((max(min(superseded, now), state.occurred_at), "superseded"))
    if state.expires_at is not None:
        ends.append((state.expires_at, "expired"))
    ends.append((max(activity, state.occurred_at) + timedelta(days=purpose.retention_days),
                 "retention"))
    end, why = min(ends)
    if end > now:
        return Basis(name, basis, True, "active")
    return Basis(name, basis, False, why, end)
