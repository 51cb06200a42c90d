"""Who a campaign is for: a segment (gateway/segmentation), or an explicit list of customers.

Both answer the same two questions: the internal ids of the members (streamed), and, when
the audience can say it in SQL, a select of those ids, so that a dry run or a plan runs as
one statement instead of a stream of chunks.

Segments come from gateway/segmentation (issue 11) through its published contract
`segment_members(conn, segment_id, *, version, purpose, now)` and `get_segment(conn,
segment_id, version)`. A segment is a profiling result: its members are asked for under the
`profiling` purpose (a customer who objected to profiling is in no segment), and the
campaign's own purpose is then decided per customer by the gate, which is what lets a dry
run say why each excluded member is excluded.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from types import ModuleType
from typing import Any, Protocol

from sqlalchemy import Connection, Select, select

from gateway.activation.tables import activation_audience
from gateway.errors import ServiceError
from gateway.policy.codes import Code

SEGMENT_PURPOSE = "profiling"


class Audience(Protocol):
    """The members of a campaign."""

    @property
    def kind(self) -> str:
        """segment or list."""
        ...

    @property
    def categories(self) -> tuple[str, ...]:
        """The data categories membership reveals to a destination (a segment: derived)."""
        ...

    def members(self, conn: Connection, now: datetime) -> Iterator[int]:
        """Internal customer ids, each once."""
        ...

    def as_select(self) -> Select[Any] | None:
        """The ids as one SQL select (column `customer_id`), or None if only streamed."""
        ...


@dataclass(frozen=True)
class ListAudience:
    """An explicit list of customers stored with the campaign (`activation_audience`)."""

    campaign_id: int
    kind: str = "list"
    categories: tuple[str, ...] = ()

    def members(self, conn: Connection, now: datetime) -> Iterator[int]:
        a = activation_audience.c
        stmt = select(a.customer_id).where(a.campaign_id == self.campaign_id).order_by(a.customer_id)
        for (cid,) in conn.execute(stmt):
            yield int(cid)

    def as_select(self) -> Select[Any]:
        a = activation_audience.c
        return select(a.customer_id.label("customer_id")).where(a.campaign_id == self.campaign_id)


def segments_module() -> ModuleType | None:
    """gateway.segmentation.members when this gateway has segments, else None."""
    try:
        return importlib.import_module("gateway.segmentation.members")
    except ModuleNotFoundError:
        return None


@dataclass(frozen=True)
class SegmentAudience:
    """A segment of gateway/segmentation at a version (None: its current one)."""

    segment_id: str
    version: int | None
    kind: str = "segment"
    categories: tuple[str, ...] = ("derived",)

    def members(self, conn: Connection, now: datetime) -> Iterator[int]:
        module = _require_segments()
        found: Iterator[int] = module.segment_members(
            conn, _segment_key(self.segment_id), version=self.version, purpose=SEGMENT_PURPOSE,
            now=now)
        return (int(i) for i in found)

    def as_select(self) -> Select[Any] | None:
        return None


def _require_segments() -> ModuleType:
    module = segments_module()
    if module is None:
        raise ServiceError(Code.NOT_FOUND, "this gateway has no segments yet", "segmentId")
    return module


def _segment_key(segment_id: str) -> Any:
    return int(segment_id) if segment_id.isdigit() else segment_id


def check_segment(conn: Connection, segment_id: str, version: int | None) -> None:
    """NOT_FOUND (field segmentId) unless the segment (at `version`) exists."""
    module = _require_segments()
    module.get_segment(conn, _segment_key(segment_id), version)
