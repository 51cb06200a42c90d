"""The outbox's states and the statements that move messages between them.

    pending --claim--> sending --delivered--> sent
       ^                  |----gate says no--> excluded (reason) | held_out (control arm)
       |                  |----script stopped / customer gone--> cancelled (reason)
       +----retry (backoff)----|----too many tries--> dead (last error)

A claim marks a batch `sending` with a lease and commits before anything is delivered; a
worker that dies leaves its batch `sending` until the lease runs out, and the next worker
takes the same batch (same message ids, so the destination drops what it already has).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, or_, select, update

from gateway.activation.tables import activation_messages

m = activation_messages.c
STATUSES = ("pending", "sending", "sent", "excluded", "held_out", "cancelled", "dead")
OPEN = ("pending", "sending")


def claim(conn: Connection, destination_id: int, size: int, now: datetime,
          lease: timedelta) -> str | None:
    """Take up to `size` due messages of one destination into a new batch; its id, or None."""
    due = (
        select(m.id).where(m.status == "pending", m.destination_id == destination_id,
                           m.next_attempt_at <= now, m.not_before <= now)
        .order_by(m.id).limit(size).with_for_update(skip_locked=True)
    )
    ids = list(conn.execute(due).scalars())
    if not ids:
        return None
    batch = uuid.uuid4().hex
    conn.execute(update(activation_messages).where(m.id.in_(ids), m.status == "pending")
                 .values(status="sending", batch=batch, lease_until=now + lease))
    return batch


def expired_batches(conn: Connection, now: datetime) -> list[str]:
    """Batches left `sending` by a worker whose lease ran out (it died or hung)."""
    stmt = select(m.batch).where(m.status == "sending", m.lease_until < now).distinct()
    return [b for b in conn.execute(stmt).scalars() if b is not None]


def take_over(conn: Connection, batch: str, now: datetime, lease: timedelta) -> bool:
    """Renew an expired batch's lease for this worker; False if another worker took it."""
    result = conn.execute(update(activation_messages)
                          .where(m.batch == batch, m.status == "sending", m.lease_until < now)
                          .values(lease_until=now + lease))
    return bool(result.rowcount)


def batch_rows(conn: Connection, batch: str) -> list[Any]:
    """The messages of a batch still `sending`, in id order."""
    return list(conn.execute(select(activation_messages)
                             .where(m.batch == batch, m.status == "sending").order_by(m.id)))


def settle(conn: Connection, outcomes: dict[int, tuple[str, str | None]], **extra: Any) -> None:
    """Set status (and reason) of messages: {id: (status, reason)}; `extra` for every row."""
    if not outcomes:
        return
    stmt = (update(activation_messages).where(m.id == bindparam("_id"))
            .values(status=bindparam("_status"), reason=bindparam("_reason"), lease_until=None,
                    **extra))
    conn.execute(stmt, [{"_id": i, "_status": s, "_reason": r} for i, (s, r) in outcomes.items()])


def assign(conn: Connection, arms: dict[int, tuple[str, str]]) -> None:
    """Record each message's arm and template (campaign messages, decided at send time)."""
    if arms:
        conn.execute(update(activation_messages).where(m.id == bindparam("_id"))
                     .values(arm=bindparam("_arm"), template=bindparam("_template")),
                     [{"_id": i, "_arm": a, "_template": t} for i, (a, t) in arms.items()])


def mark_attempt(conn: Connection, recipients: dict[int, str]) -> None:
    """Count a delivery attempt before it is made (a row with attempts > 0 may have arrived),
    with the pseudonym the destination gets: the record of who may have received whom."""
    if recipients:
        conn.execute(update(activation_messages).where(m.id == bindparam("_id"))
                     .values(attempts=m.attempts + 1, recipient=bindparam("_recipient")),
                     [{"_id": i, "_recipient": r} for i, r in recipients.items()])


def mark_sent(conn: Connection, sent: dict[int, tuple[list[str], str]], now: datetime,
              clear_recipient: Iterable[int] = ()) -> None:
    """Delivered: when, the field names and the keyed digest of each payload."""
    if sent:
        epoch = int(now.timestamp())
        conn.execute(update(activation_messages).where(m.id == bindparam("_id")).values(
            status="sent", reason=None, sent_at=now, sent_epoch=epoch, lease_until=None,
            last_error=None, payload_fields=bindparam("_fields"),
            payload_digest=bindparam("_digest"),
        ), [{"_id": i, "_fields": f, "_digest": d} for i, (f, d) in sent.items()])
    cleared = list(clear_recipient)
    if cleared:
        # An erased customer's notice held their pseudonym only until it was delivered.
        conn.execute(update(activation_messages).where(m.id.in_(cleared)).values(recipient=None))


def mark_failed(conn: Connection, rows: Sequence[Any], error: str, now: datetime,
                max_attempts: int, backoff: Any) -> tuple[int, int]:
    """A failed delivery: back to pending with backoff, or dead after `max_attempts`.

    `rows` carry their `attempts` as counted before the try (mark_attempt added one);
    returns (retried, dead).
    """
    retry: list[tuple[int, int]] = []
    dead: list[tuple[int, int]] = []
    for row in rows:
        tries = int(row.attempts) + 1
        (dead if tries >= max_attempts else retry).append((row.id, tries))
    for row_id, tries in retry:
        conn.execute(update(activation_messages).where(m.id == row_id).values(
            status="pending", batch=None, lease_until=None, last_error=error[:64],
            next_attempt_at=now + backoff(tries)))
    if dead:
        conn.execute(update(activation_messages).where(m.id.in_([i for i, _ in dead])).values(
            status="dead", lease_until=None, last_error=error[:64]))
    return len(retry), len(dead)


def cancel_pending(conn: Connection, *, campaign_id: int | None = None,
                   customer_id: int | None = None, reason: str | None = None) -> int:
    """Cancel messages not yet claimed (of a campaign, or of a customer)."""
    where = [m.status == "pending", m.kind == "message"]
    if campaign_id is not None:
        where.append(m.campaign_id == campaign_id)
    if customer_id is not None:
        where.append(m.customer_id == customer_id)
    result = conn.execute(update(activation_messages).where(and_(*where))
                          .values(status="cancelled", reason=reason))
    return int(result.rowcount or 0)


def requeue_dead(conn: Connection, destination_id: int | None, now: datetime) -> int:
    """Give dead messages another round of tries (after the destination was fixed)."""
    where = [m.status == "dead"]
    if destination_id is not None:
        where.append(m.destination_id == destination_id)
    result = conn.execute(update(activation_messages).where(and_(*where)).values(
        status="pending", attempts=0, next_attempt_at=now, batch=None, last_error=None))
    return int(result.rowcount or 0)


def status_counts(conn: Connection, *, campaign_id: int | None = None,
                  destination_id: int | None = None) -> dict[str, int]:
    """How many messages are in each status (of a campaign or destination)."""
    stmt = select(m.status, func.count()).group_by(m.status)
    if campaign_id is not None:
        stmt = stmt.where(m.campaign_id == campaign_id)
    if destination_id is not None:
        stmt = stmt.where(m.destination_id == destination_id)
    return {s: int(n) for s, n in conn.execute(stmt)}


def reason_counts(conn: Connection, campaign_id: int) -> dict[str, int]:
    """Why a campaign's messages did not leave, per reason code."""
    stmt = (select(m.reason, func.count()).where(m.campaign_id == campaign_id,
                                                 m.reason.is_not(None))
            .group_by(m.reason))
    return {str(r): int(n) for r, n in conn.execute(stmt)}


def received(customer_id: int) -> Any:
    """The condition "this row may have reached its destination": sent, or tried at least once."""
    return and_(m.customer_id == customer_id, m.kind == "message",
                or_(m.status == "sent", m.attempts > 0))
