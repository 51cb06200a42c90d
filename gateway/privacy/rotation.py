"""Re-wrapping data keys under another master key version, online and resumable.

Only the small wrapped keys change, never the sealed values. Each batch is its own short
transaction, so readers (which read a row's version and wrapped key together) keep working
throughout, and an interrupted run leaves every row consistent: rows carry their version, and
a rerun continues with those not yet on the target.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, bindparam, func, select, update

from gateway.privacy.envelope import Envelope
from gateway.privacy.tables import data_keys
from gateway.store.types import utcnow

DEFAULT_BATCH = 200


@dataclass(frozen=True)
class RotationReport:
    """What a run did: keys re-wrapped, keys still on another version, the target version."""

    rotated: int
    remaining: int
    target: int


def versions_in_use(conn: Connection) -> dict[int, int]:
    """How many data keys each master key version wraps."""
    rows = conn.execute(select(data_keys.c.version, func.count()).group_by(data_keys.c.version))
    return {int(v): int(n) for v, n in rows}


def pending(conn: Connection, target: int) -> int:
    """How many data keys are not yet wrapped under `target`."""
    stmt = select(func.count()).select_from(data_keys).where(data_keys.c.version != target)
    return int(conn.execute(stmt).scalar_one())


_REWRAP = (
    update(data_keys)
    .where(data_keys.c.customer_id == bindparam("cid"), data_keys.c.version == bindparam("old"))
    .values(wrapped=bindparam("new_wrapped"), version=bindparam("target"),
            rotated_at=bindparam("at"))
)


def rotate_batch(engine: Engine, envelope: Envelope, target: int, size: int = DEFAULT_BATCH) -> int:
    """Re-wrap up to `size` keys not on `target`, in one transaction; how many were taken.

    The update is conditional on the version read, so a key destroyed (erasure) or rotated
    by another run in between is left alone.
    """
    with engine.begin() as conn:
        rows = conn.execute(
            select(data_keys.c.customer_id, data_keys.c.version, data_keys.c.wrapped)
            .where(data_keys.c.version != target).order_by(data_keys.c.customer_id).limit(size)
        ).all()
        if not rows:
            return 0
        at = utcnow()
        conn.execute(_REWRAP, [
            {"cid": r.customer_id, "old": r.version, "target": target, "at": at,
             "new_wrapped": envelope.rewrap(r.wrapped, r.version, r.customer_id, target)}
            for r in rows
        ])
    return len(rows)


def rotate(
    engine: Engine, envelope: Envelope, *, to: int | None = None, batch_size: int = DEFAULT_BATCH,
    progress: Callable[[int], None] | None = None,
) -> RotationReport:
    """Re-wrap every data key under master key version `to` (default: the current one).

    Calls `progress(n)` after each committed batch. Safe to interrupt and to rerun.
    """
    target = envelope.current_version if to is None else to
    envelope.keyring.kek(target)  # fail before any work when the target is not configured
    rotated = 0
    while True:
        done = rotate_batch(engine, envelope, target, batch_size)
        if done == 0:
            break
        rotated += done
        if progress is not None:
            progress(done)
    with engine.connect() as conn:
        remaining = pending(conn, target)
    return RotationReport(rotated, remaining, target)
