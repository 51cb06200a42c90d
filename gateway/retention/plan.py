"""What is due for one customer: the whole record, or the units no purpose may keep any more.

A stored unit (`gateway.retention.holdings`) stays while a purpose with a basis covers every
category it reveals (`categories` of that purpose in `purposes.yaml`). Otherwise its basis
ended when the last purpose that covered it ended (or never had one: then at the last
activity), and it is due once that moment plus the grace period has passed, if anything of
it is still stored. When no purpose holds at all, the whole record is due (the one erasure).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection

from gateway.consent.purposes import Purposes
from gateway.retention.basis import DEADLINE, Standing, last_end
from gateway.retention.holdings import HOLDINGS, Holding


@dataclass(frozen=True)
class DueHolding:
    """A unit due for destruction: what ended it, and by when it must be gone."""

    holding: Holding
    ended: tuple[str, ...]  # the purposes that covered it, each ended
    ended_at: datetime

    @property
    def deadline(self) -> datetime:
        """The last moment the unit may still exist (30 days after its basis ended)."""
        return self.ended_at + DEADLINE


@dataclass(frozen=True)
class Plan:
    """What the job does for one customer."""

    standing: Standing
    erase: bool  # nothing holds: the whole record goes
    holdings: tuple[DueHolding, ...]  # else: these units go
    waiting: bool  # something ended, inside the grace period

    @property
    def due(self) -> bool:
        """Anything to destroy now."""
        return self.erase or bool(self.holdings)


Cover = dict[str, frozenset[str]]


def covers(purposes: Purposes) -> Cover:
    """Per unit, the purposes whose categories cover every category it reveals (computed once
    per run: it depends on purposes.yaml only)."""
    return {h.name: frozenset(p.name for p in purposes.by_name.values()
                              if h.categories <= p.categories) for h in HOLDINGS}


def plan(conn: Connection, standing: Standing, cover: Cover, now: datetime,
         grace: timedelta) -> Plan:
    """Decide what is due for `standing`'s customer as of `now` (`cover`: `covers(...)`)."""
    ended_at = standing.ended_at
    if ended_at is not None:
        whole = ended_at + grace <= now
        return Plan(standing, whole, (), not whole)
    due: list[DueHolding] = []
    waiting = False
    for holding in HOLDINGS:
        covering = cover[holding.name]
        bases = [b for b in standing.bases if b.purpose in covering]
        if any(b.holds for b in bases):
            continue
        end = last_end(bases, standing.activity)
        if end + grace > now:
            waiting = waiting or any(b.ended_at is not None for b in bases)
            continue
        if holding.present(conn, standing.customer_id):
            due.append(DueHolding(holding, tuple(b.label for b in bases if b.ended_at), end))
    return Plan(standing, False, tuple(due), waiting)
