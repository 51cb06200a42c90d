"""Who a campaign is for: a segment (gateway/segmentation), or an explicit list of customers.

Both answer the same two questions: the internal ids of the members (streamed), and the
members as SQL over `customers` (a from-clause and a condition), so that a dry run or a plan
runs as one statement over the audience instead of a stream of chunks.

Segments come from gateway/segmentation through its published contract: `segment_members(
conn, segment_id, *, version, purpose, now)` and `get_segment(conn, segment_id, version)`
(NOT_FOUND for an unknown segment or version), and, for the SQL form, the same `membership`
the contract compiles the rule with. A segment is a profiling result: its members are taken
under the `profiling` purpose (a customer who objected to profiling is in no segment), and
the campaign's own purpose is then decided per member by the gate, which is what lets a dry
run say why each excluded member is excluded.

What membership reveals is what the segment's rule reads. `segment_decision` decides it by
the rule the read path and segment counts use (gateway/segmentation/store.py `usable`):
every field of the rule through the field plan of (role, purpose), then the categories and
lineage of those fields, computed from the rule as it stands now (never a fixed category,
never what was stored when the segment was saved), through `decide_all(role, purpose,
categories)`. It is asked for the caller who creates, dry-runs or runs a campaign, and for
the destination that receives it, when the campaign is created, planned and sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Connection, FromClause, func, select

from gateway.activation.tables import activation_audience
from gateway.consent.purposes import Purpose
from gateway.errors import ServiceError
from gateway.policy import Decision, PolicyEngine
from gateway.policy.codes import Code
from gateway.profile.fields import CUSTOMER_FIELDS
from gateway.profile.tables import customers
from gateway.segmentation.compile import check, membership
from gateway.segmentation.members import SegmentInfo, get_segment, segment_members
from gateway.segmentation.rules import RuleError

SEGMENT_PURPOSE = "profiling"


class Audience(Protocol):
    """The members of a campaign."""

    def members(self, conn: Connection, now: datetime) -> Iterator[int]:
        """Internal customer ids, each once."""
        ...

    def sql(self, conn: Connection, now: datetime) -> tuple[FromClause, ColumnElement[bool]]:
        """The members as SQL: a from-clause holding `customers`, and the condition."""
        ...

    def decide(self, conn: Connection, policy: PolicyEngine, role: str, purpose: Purpose) -> Decision:
        """May `role` use (and so reveal) membership for `purpose`?"""
        ...

    def stored(self, conn: Connection) -> int | None:
        """How many members are stored (a list), or None when the SQL form is the audience."""
        ...


@dataclass(frozen=True)
class ListAudience:
    """An explicit list of customers stored with the campaign (`activation_audience`)."""

    campaign_id: int

    def members(self, conn: Connection, now: datetime) -> Iterator[int]:
        a = activation_audience.c
        for (cid,) in conn.execute(select(a.customer_id).where(a.campaign_id == self.campaign_id)
                                   .order_by(a.customer_id)):
            yield int(cid)

    def stored(self, conn: Connection) -> int | None:
        """How many ids the list holds (some may name customers erased since)."""
        a = activation_audience.c
        return int(conn.execute(select(func.count()).select_from(activation_audience)
                                .where(a.campaign_id == self.campaign_id)).scalar_one())

    def sql(self, conn: Connection, now: datetime) -> tuple[FromClause, ColumnElement[bool]]:
        a = activation_audience.c
        source = customers.join(activation_audience, a.customer_id == customers.c.id)
        return source, a.campaign_id == self.campaign_id

    def decide(self, conn: Connection, policy: PolicyEngine, role: str, purpose: Purpose) -> Decision:
        return Decision.allow()  # a list chosen by hand reveals nothing about the data


def segment_key(segment_id: str) -> int:
    """A segment's id as gateway/segmentation knows it; NOT_FOUND for anything else."""
    if not segment_id.isdigit():
        raise ServiceError(Code.NOT_FOUND, "no segment with this id", "segmentId")
    return int(segment_id)


@dataclass(frozen=True)
class SegmentAudience:
    """A segment of gateway/segmentation at a version (None: its current one)."""

    segment_id: str
    version: int | None
    profiling: Purpose

    def info(self, conn: Connection) -> SegmentInfo:
        return find_segment(conn, self.segment_id, self.version)

    def members(self, conn: Connection, now: datetime) -> Iterator[int]:
        return segment_members(conn, segment_key(self.segment_id), version=self.version,
                               purpose=self.profiling, now=now, profiling=self.profiling)

    def sql(self, conn: Connection, now: datetime) -> tuple[FromClause, ColumnElement[bool]]:
        found = membership(self.info(conn).rule(), self.profiling, now, self.profiling)
        return found.source, found.condition

    def decide(self, conn: Connection, policy: PolicyEngine, role: str, purpose: Purpose) -> Decision:
        return segment_decision(policy, role, purpose, self.info(conn))

    def stored(self, conn: Connection) -> int | None:
        return None  # a rule: its members are the customers it matches now


def find_segment(conn: Connection, segment_id: str, version: int | None) -> SegmentInfo:
    """The segment (at `version`); NOT_FOUND (field segmentId) when there is none."""
    try:
        return get_segment(conn, segment_key(segment_id), version)
    except ServiceError as exc:
        raise ServiceError(exc.code, exc.message, "segmentId") from exc


def segment_decision(policy: PolicyEngine, role: str, purpose: Purpose, info: SegmentInfo) -> Decision:
    """May `role` send the members of `info` for `purpose`: the read path's rule.

    Each field the rule reads must be allowed by the (role, purpose) field plan, as for a
    count or a preview of the segment; then every category those fields reveal (their
    lineage, from the catalogue as it is now) must be readable, by `decide_all`. The first
    denial's code; never which field (the caller may not be allowed to know the rule).
    """
    try:
        rule = check(info.definition, policy.plan(role, purpose, CUSTOMER_FIELDS))
    except RuleError as exc:
        return Decision.deny(Code(exc.code) if exc.code in Code.__members__ else Code.POLICY_DENIED)
    return policy.decide_all(role, purpose.name, rule.categories)


def require_segment_use(conn: Connection, policy: PolicyEngine, roles: Iterable[str | None],
                        purpose: Purpose, audience: Audience) -> None:
    """Raise the denial's code (field segmentId) unless every one of `roles` may use it."""
    for role in roles:
        if role is None:
            continue  # the operator's command line acts for no app role
        decided = audience.decide(conn, policy, role, purpose)
        if not decided.allowed:
            raise ServiceError(decided.code, "this segment reads data that may not be used "
                               "for this purpose", "segmentId")


def segment_audience(purposes: Any, segment_id: str, version: int | None) -> SegmentAudience:
    """A segment audience taken under the configured profiling purpose."""
    profiling = purposes.get(SEGMENT_PURPOSE)
    if profiling is None:
        raise ServiceError(Code.PURPOSE_UNKNOWN, "purposes.yaml declares no profiling purpose",
                           "segmentId")
    return SegmentAudience(segment_id, version, profiling)
