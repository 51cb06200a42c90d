"""The retention job: per purpose, destroy what no purpose with a legal basis may keep.

For every customer (`gateway.retention.plan`): when no purpose holds, the whole record is
due and goes through the one erasure (`gateway.rights.erase`: crypto-shred, deletion, proofs
of their choices kept; audit `retention.erase`); otherwise each stored unit that no purpose
with a basis covers any more (interactions kept only for marketing after the consent was
withdrawn, scores after an objection to profiling) is destroyed, the rest of the record
kept (audit `retention.destroy`, naming the units and the purposes that ended). Each
customer's change is one transaction with its audit entry.

Dry run by default: nothing changes, the report says what is due and by when. Every run,
dry or not, leaves a `retention.run` entry with its counts. The report names customers by
their audit pseudonym only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from gateway.audit.service import record_event
from gateway.consent.purposes import Purposes
from gateway.privacy.pseudonyms import Pseudonymizer
from gateway.privacy.signing import Signer
from gateway.privacy.vault import Vault
from gateway.retention.basis import Standing, standings
from gateway.retention.plan import Plan, covers, plan
from gateway.rights.erase import erase_customer
from gateway.store.types import utcnow

ACTOR = "retention"


@dataclass
class Report:
    """What a run found and did."""

    now: datetime
    dry_run: bool
    grace_days: int
    checked: int = 0
    kept: int = 0  # nothing due, nothing waiting
    due: list[dict[str, Any]] = field(default_factory=list)
    waiting: int = 0  # a basis ended, inside the grace period, nothing due yet
    erased: int = 0  # whole records erased
    destroyed: int = 0  # customers some of whose data was destroyed, the rest kept
    units: int = 0  # units destroyed in those

    @property
    def overdue(self) -> int:
        """Due customers with something whose legal deadline has already passed."""
        return sum(1 for d in self.due if d["overdue"])

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (pseudonyms, names, dates and counts only)."""
        return {"now": self.now.isoformat(), "dry_run": self.dry_run,
                "grace_days": self.grace_days, "checked": self.checked, "kept": self.kept,
                "waiting": self.waiting, "due": len(self.due),
                "due_whole": sum(1 for d in self.due if d["action"] == "erase"),
                "due_partial": sum(1 for d in self.due if d["action"] == "destroy"),
                "overdue": self.overdue, "erased": self.erased, "destroyed": self.destroyed,
                "units_destroyed": self.units, "customers": self.due}


@dataclass(frozen=True)
class Retention:
    """What the job needs: storage, keys, the audit log's pseudonyms and signer."""

    engine: Engine
    purposes: Purposes
    vault: Vault
    audit: Pseudonymizer
    signer: Signer


def run_retention(job: Retention, *, apply: bool = False, now: datetime | None = None,
                  grace_days: int = 0,
                  progress: Callable[[int], None] | None = None) -> Report:
    """Check every customer; destroy what is due when `apply`. Audited either way."""
    now = now or utcnow()
    grace = timedelta(days=grace_days)
    report = Report(now, not apply, grace_days)
    due: list[Plan] = []
    cover = covers(job.purposes)
    with job.engine.connect() as conn:
        for standing in standings(conn, job.purposes, now):
            report.checked += 1
            if progress:
                progress(1)
            decided = plan(conn, standing, cover, now, grace)
            if decided.due:
                due.append(decided)
            elif decided.waiting:
                report.waiting += 1
            else:
                report.kept += 1
    for decided in due:
        report.due.append(_describe(job, decided, now))
        if not apply:
            continue
        if decided.erase:
            _erase(job, decided.standing)
            report.erased += 1
        else:
            report.units += _destroy(job, decided)
            report.destroyed += 1
    with job.engine.begin() as conn:
        record_event(conn, "retention.run", audit=job.audit, signer=job.signer, actor=ACTOR,
                     detail={k: v for k, v in report.as_dict().items() if k != "customers"})
    return report


def _describe(job: Retention, decided: Plan, now: datetime) -> dict[str, Any]:
    standing = decided.standing
    out: dict[str, Any] = {"ref": job.audit.customer_id(standing.customer_id),
                           "action": "erase" if decided.erase else "destroy",
                           "kept_by": list(standing.kept_by), "ended": list(standing.ended)}
    if decided.erase:
        deadline = standing.deadline
        assert standing.ended_at is not None and deadline is not None
        out.update(basis_ended_at=standing.ended_at.isoformat(), deadline=deadline.isoformat(),
                   overdue=deadline < now)
        return out
    units = [{"unit": d.holding.name, "fields": list(d.holding.fields),
              "categories": sorted(d.holding.categories), "ended": list(d.ended),
              "basis_ended_at": d.ended_at.isoformat(), "deadline": d.deadline.isoformat(),
              "overdue": d.deadline < now} for d in decided.holdings]
    first = min(decided.holdings, key=lambda d: d.deadline)
    out.update(units=units, basis_ended_at=first.ended_at.isoformat(),
               deadline=first.deadline.isoformat(), overdue=first.deadline < now)
    return out


def _erase(job: Retention, standing: Standing) -> None:
    ref = job.audit.customer_id(standing.customer_id)
    with job.engine.begin() as conn:
        done = erase_customer(conn, job.vault, standing.customer_id, subject_ref=ref,
                              actor=ACTOR, jurisdiction=standing.jurisdiction)
        record_event(conn, "retention.erase", audit=job.audit, signer=job.signer, actor=ACTOR,
                     subjects=[standing.customer_id],
                     detail={"ended": list(standing.ended), "tombstone": done.tombstone,
                             "counts": done.counts})


def _destroy(job: Retention, decided: Plan) -> int:
    """Destroy the due units of one customer, with its audit entry, in one transaction."""
    standing = decided.standing
    counts: dict[str, int] = {}
    with job.engine.begin() as conn:
        for due in decided.holdings:
            counts[due.holding.name] = due.holding.destroy(conn, job.vault, standing.customer_id)
        record_event(conn, "retention.destroy", audit=job.audit, signer=job.signer, actor=ACTOR,
                     subjects=[standing.customer_id],
                     detail={"kept_by": list(standing.kept_by),
                             "units": {d.holding.name: {"fields": list(d.holding.fields),
                                                        "ended": list(d.ended)}
                                       for d in decided.holdings},
                             "counts": counts})
    return len(decided.holdings)
