"""The members of a saved segment, for activation (issue 12) and anything else that sends.

Contract (kept stable; see /work/notes/issue-11.md):

    segment_members(conn, segment_id, *, version=None, purpose, now) -> Iterator[int]
    get_segment(conn, segment_id, version=None) -> SegmentInfo   # NOT_FOUND if unknown

`segment_members` yields the internal customer ids of the segment's members (at `version`,
default the current one) that `purpose` may process at `now` (`subject_allows`: consent,
objection, restriction, channel), ascending, fetched in batches by keyset on the id, so a
segment of a million customers never sits in memory. A rule on derived data also requires
that the customer may be profiled at `now`. It does not decide the caller's policy: check
`SegmentInfo.categories` with `PolicyEngine.decide_all(role, purpose, categories)` first.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from sqlalchemy import Connection, Integer, bindparam, select

from gateway.config import Settings
from gateway.consent.purposes import Purpose, load_purposes
from gateway.errors import ServiceError
from gateway.policy.codes import Code
from gateway.profile.tables import customers
from gateway.segmentation.compile import membership
from gateway.segmentation.store import SegmentInfo, get_segment

__all__ = ["BATCH", "SegmentInfo", "get_segment", "profiling_purpose", "segment_members"]

BATCH = 5000  # ids per query


@lru_cache(maxsize=8)
def _profiling_from(policy_dir: Path) -> Purpose:
    found = load_purposes(policy_dir / "purposes.yaml").get("profiling")
    if found is None:
        raise ServiceError(Code.PURPOSE_UNKNOWN, "purposes.yaml declares no `profiling` purpose")
    return found


def profiling_purpose() -> Purpose:
    """The configured `profiling` purpose (GATEWAY_POLICY_DIR's purposes.yaml)."""
    return _profiling_from(Settings.from_env().policy_dir)


def segment_members(
    conn: Connection, segment_id: int, *, version: int | None = None, purpose: Purpose,
    now: datetime, profiling: Purpose | None = None, batch: int = BATCH,
) -> Iterator[int]:
    """The internal ids of the members `purpose` may process, ascending, in batches.

    Raises NOT_FOUND (before the first id) for an unknown segment or version. `profiling`
    defaults to the configured purpose of that name.
    """
    info = get_segment(conn, segment_id, version)
    rule = info.rule()
    m = membership(rule, purpose, now, profiling or profiling_purpose())
    after = bindparam("after", type_=Integer())
    stmt = (select(customers.c.id).select_from(m.source)
            .where(m.condition, customers.c.id > after).order_by(customers.c.id).limit(batch))
    return _batches(conn, stmt, batch)


def _batches(conn: Connection, stmt: object, batch: int) -> Iterator[int]:
    last = 0
    while True:
        ids = list(conn.execute(stmt, {"after": last}).scalars())  # type: ignore[call-overload]
        yield from ids
        if len(ids) < batch:
            return
        last = ids[-1]
