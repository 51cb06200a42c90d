"""Saved rule segments: save, version, look up, list, count and preview.

A segment has a name and numbered versions; a version's rule never changes once saved, so a
campaign planned on version 2 keeps selecting with version 2. Every save checks the rule
against the caller's plan for the declared purpose (gateway/segmentation/compile.py), and
every count or preview checks it again against the plan of whoever asks: a count over a
field the asker may not read would tell them about that field.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from gateway.consent.purposes import Purpose
from gateway.errors import ServiceError
from gateway.policy import FieldPlan
from gateway.policy.codes import Code
from gateway.profile.tables import customers
from gateway.segmentation.compile import CheckedRule, check, membership
from gateway.segmentation.rules import RuleError
from gateway.segmentation.tables import segment_versions, segments

MAX_NAME = 100
MAX_DESCRIPTION = 500
MAX_PREVIEW = 50


@dataclass(frozen=True)
class SegmentInfo:
    """One version of a saved segment (the current one unless asked otherwise)."""

    id: int
    name: str
    description: str | None
    version: int  # the version described here
    current_version: int  # the newest version of the segment
    definition: str  # the rule, as written
    fields: tuple[str, ...]  # the catalogue fields the rule reads
    categories: tuple[str, ...]  # every category those reveal (decide a use on all of them)
    purpose: str  # the purpose declared when this version was saved
    created_at: datetime  # of this version
    created_by: str  # of this version
    note: str | None

    def rule(self) -> CheckedRule:
        """The version's rule, parsed and checked (names and types; not against a plan)."""
        return check(self.definition)


def _info(seg: Any, ver: Any) -> SegmentInfo:
    return SegmentInfo(
        id=seg.id, name=seg.name, description=seg.description, version=ver.version,
        current_version=seg.current_version, definition=ver.definition,
        fields=tuple(ver.fields), categories=tuple(ver.categories), purpose=ver.purpose,
        created_at=ver.created_at, created_by=ver.created_by, note=ver.note,
    )


def get_segment(conn: Connection, segment_id: int, version: int | None = None) -> SegmentInfo:
    """Segment `segment_id` at `version` (default: its current one); NOT_FOUND if unknown."""
    seg = conn.execute(select(segments).where(segments.c.id == segment_id)).first()
    if seg is None:
        raise ServiceError(Code.NOT_FOUND, "no segment with this id", "id")
    sv = segment_versions.c
    ver = conn.execute(select(segment_versions).where(
        sv.segment_id == segment_id, sv.version == (version or seg.current_version))).first()
    if ver is None:
        raise ServiceError(Code.NOT_FOUND, "no such version of this segment", "version")
    return _info(seg, ver)


def list_segments(conn: Connection, limit: int = 200) -> list[SegmentInfo]:
    """Every segment at its current version, by name."""
    s, sv = segments.c, segment_versions.c
    rows = conn.execute(
        select(segments, segment_versions)
        .join(segment_versions, (sv.segment_id == s.id) & (sv.version == s.current_version))
        .order_by(s.name).limit(limit)
    ).all()
    return [_info(r, r) for r in rows]


def versions_of(conn: Connection, segment_id: int) -> list[SegmentInfo]:
    """Every version of a segment, newest first."""
    current = get_segment(conn, segment_id)
    sv = segment_versions.c
    seg = conn.execute(select(segments).where(segments.c.id == segment_id)).one()
    rows = conn.execute(select(segment_versions).where(sv.segment_id == current.id)
                        .order_by(sv.version.desc())).all()
    return [_info(seg, r) for r in rows]


def checked(definition: str, plan: FieldPlan) -> CheckedRule:
    """The rule checked against `plan`; its error as a ServiceError (code, field, message)."""
    try:
        return check(definition, plan)
    except RuleError as exc:
        raise ServiceError(Code(exc.code), str(exc), "definition") from exc


def _validate_text(name: str | None, description: str | None) -> None:
    if name is not None and not (1 <= len(name.strip()) <= MAX_NAME):
        raise ServiceError(Code.INVALID_INPUT, f"a name has 1-{MAX_NAME} characters", "name")
    if description is not None and len(description) > MAX_DESCRIPTION:
        raise ServiceError(Code.INVALID_INPUT, f"a description has at most {MAX_DESCRIPTION} characters",
                           "description")


def _add_version(conn: Connection, segment_id: int, version: int, rule: CheckedRule,
                 plan: FieldPlan, actor: str, now: datetime, note: str | None) -> None:
    conn.execute(insert(segment_versions).values(
        segment_id=segment_id, version=version, definition=rule.text, fields=list(rule.catalog),
        categories=list(rule.categories), purpose=plan.purpose.name, created_at=now,
        created_by=actor, note=note,
    ))


def create_segment(conn: Connection, plan: FieldPlan, *, name: str, definition: str,
                   description: str | None, actor: str, now: datetime) -> SegmentInfo:
    """Save a new segment (version 1); the caller commits. INVALID_INPUT for a taken name."""
    _validate_text(name, description)
    rule = checked(definition, plan)
    name = name.strip()
    if conn.execute(select(segments.c.id).where(segments.c.name == name)).first() is not None:
        raise ServiceError(Code.INVALID_INPUT, "a segment with this name exists; save a new version of it",
                           "name")
    key = conn.execute(insert(segments).values(
        name=name, description=description, current_version=1, created_at=now, created_by=actor,
        updated_at=now,
    )).inserted_primary_key
    assert key is not None
    segment_id = int(key[0])
    _add_version(conn, segment_id, 1, rule, plan, actor, now, None)
    return get_segment(conn, segment_id)


def version_segment(conn: Connection, plan: FieldPlan, segment_id: int, *, definition: str,
                    description: str | None, note: str | None, actor: str,
                    now: datetime) -> SegmentInfo:
    """Save a new version of a segment; an unchanged rule makes no version (answers the current)."""
    _validate_text(None, description)
    current = get_segment(conn, segment_id)
    rule = checked(definition, plan)
    if rule.text == current.definition and description in (None, current.description):
        return current
    if note is not None and len(note) > MAX_DESCRIPTION:
        raise ServiceError(Code.INVALID_INPUT, f"a note has at most {MAX_DESCRIPTION} characters", "note")
    version = current.current_version + 1
    _add_version(conn, segment_id, version, rule, plan, actor, now, note)
    values: dict[str, Any] = {"current_version": version, "updated_at": now}
    if description is not None:
        values["description"] = description
    conn.execute(update(segments).where(segments.c.id == segment_id).values(**values))
    return get_segment(conn, segment_id)


def usable(info: SegmentInfo, plan: FieldPlan) -> CheckedRule:
    """The segment's rule, if `plan` may read every field of it; POLICY_DENIED otherwise.

    Counting or previewing a segment reveals what its rule reads, whoever saved it.
    """
    try:
        return check(info.definition, plan)
    except RuleError as exc:
        raise ServiceError(Code(exc.code), f"this segment reads data this app may not use for "
                           f"this purpose: {exc.message}", "id") from exc


def count(conn: Connection, rule: CheckedRule, purpose: Purpose, now: datetime,
          profiling: Purpose) -> int:
    """How many customers `purpose` may process match the rule (nobody else is counted)."""
    m = membership(rule, purpose, now, profiling)
    return int(conn.execute(select(func.count()).select_from(m.source).where(m.condition)).scalar_one())


def preview(conn: Connection, rule: CheckedRule, purpose: Purpose, now: datetime,
            profiling: Purpose, limit: int) -> list[int]:
    """The first `limit` members (internal ids, ascending) that `purpose` may process."""
    if not 1 <= limit <= MAX_PREVIEW:
        raise ServiceError(Code.INVALID_INPUT, f"a preview has 1-{MAX_PREVIEW} customers", "first")
    m = membership(rule, purpose, now, profiling)
    stmt = select(customers.c.id).select_from(m.source).where(m.condition)
    return list(conn.execute(stmt.order_by(customers.c.id).limit(limit)).scalars())


def ids_in(conn: Connection, rule: CheckedRule, purpose: Purpose, now: datetime,
           profiling: Purpose, ids: Sequence[int]) -> set[int]:
    """Which of `ids` are members (for a page of customers)."""
    if not ids:
        return set()
    m = membership(rule, purpose, now, profiling)
    stmt = select(customers.c.id).select_from(m.source).where(m.condition, customers.c.id.in_(list(ids)))
    return set(conn.execute(stmt).scalars())
