"""The retention job: find the customers no purpose may keep, report, and (when told) erase.

Dry run by default: nothing changes, the report says who is due and by when. With `apply`
each due customer is erased through the one erasure (`gateway.rights.erase`: crypto-shred,
deletion, proofs of their choices kept) in a transaction with its audit entry
(`retention.erase`); every run, dry or not, leaves a `retention.run` entry with its counts.
The report names customers by their audit pseudonym only.
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
    kept: int = 0
    due: list[dict[str, Any]] = field(default_factory=list)
    waiting: int = 0  # basis ended, inside the grace period
    erased: int = 0

    @property
    def overdue(self) -> int:
        """Due customers whose legal deadline has already passed."""
        return sum(1 for d in self.due if d["overdue"])

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (pseudonyms, names, dates and counts only)."""
        return {"now": self.now.isoformat(), "dry_run": self.dry_run,
                "grace_days": self.grace_days, "checked": self.checked, "kept": self.kept,
                "waiting": self.waiting, "due": len(self.due), "overdue": self.overdue,
                "erased": self.erased, "customers": self.due}


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
    """Check every customer; erase the due ones when `apply`. Audited either way."""
    now = now or utcnow()
    report = Report(now, not apply, grace_days)
    due: list[Standing] = []
    with job.engine.connect() as conn:
        for standing in standings(conn, job.purposes, now):
            report.checked += 1
            if progress:
                progress(1)
            if standing.ended_at is None:
                report.kept += 1
            elif standing.ended_at + timedelta(days=grace_days) > now:
                report.waiting += 1
            else:
                due.append(standing)
    for standing in due:
        report.due.append(_describe(job, standing, now))
        if apply:
            _erase(job, standing)
            report.erased += 1
    with job.engine.begin() as conn:
        record_event(conn, "retention.run", audit=job.audit, signer=job.signer, actor=ACTOR,
                     detail={k: v for k, v in report.as_dict().items() if k != "customers"})
    return report


def _describe(job: Retention, standing: Standing, now: datetime) -> dict[str, Any]:
    deadline = standing.deadline
    assert standing.ended_at is not None and deadline is not None
    return {"ref": job.audit.customer_id(standing.customer_id), "ended": list(standing.ended),
            "basis_ended_at": standing.ended_at.isoformat(), "deadline": deadline.isoformat(),
            "overdue": deadline < now}


def _erase(job: Retention, standing: Standing) -> None:
    ref = job.audit.customer_id(standing.customer_id)
    with job.engine.begin() as conn:
        done = erase_customer(conn, job.vault, standing.customer_id, subject_ref=ref,
                              actor=ACTOR, jurisdiction=standing.jurisdiction)
        record_event(conn, "retention.erase", audit=job.audit, signer=job.signer, actor=ACTOR,
                     subjects=[standing.customer_id],
                     detail={"ended": list(standing.ended), "tombstone": done.tombstone,
                             "counts": done.counts})
