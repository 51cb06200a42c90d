"""Recipients are told (GDPR Art. 19, 152-FZ Art. 21): withdrawals, objections, restrictions,
opt-outs, rectifications and erasures reach every destination that received the customer.

How the news reaches activation, without the preference center or the rights knowing it:

- A *watcher* reads the ledgers the other domains already keep: `consent_events`,
  `preference_events` (every write path appends there: API, CLI, bulk import, rights cases)
  and `rights_rectifications`. It keeps its position per ledger in `activation_watch`. On
  PostgreSQL a transaction can commit a lower id after a higher one was read, so ids
  skipped below the position are remembered as gaps and looked for again for a while
  (GAP_SECONDS) before being taken for rolled-back ids. On SQLite writers are serialised
  and ids commit in order.
- An *erasure* deletes the ledger rows the watcher would read, so it is told directly: the
  activation section's eraser (registered with gateway/rights/sections.py, run inside the
  erasure's transaction) enqueues the deletion notices before the customer row goes.

A notice goes through the same outbox as a message (tracked delivery, retries, dead letter)
and names the customer only by the destination's own pseudonym. It is not gated: it carries
no personal data, and it is what the customer's choice asks for. A destination is told
about an event only if it received the customer before the event.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, String, and_, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from gateway.activation.destinations import Destination, list_destinations
from gateway.activation.service import Activation
from gateway.activation.tables import activation_messages, activation_watch
from gateway.consent.purposes import Purpose
from gateway.consent.tables import consent_events, preference_events
from gateway.rights.tables import rights_cases, rights_rectifications
from gateway.store.types import utcnow

GAP_SECONDS = 600
GAP_WINDOW = 1000  # a commit-order race concerns the newest ids only
READ_LIMIT = 50_000
m = activation_messages.c


@dataclass(frozen=True)
class News:
    """One protective change of one customer, as a notice would state it."""

    ledger: str
    event_id: int
    customer_id: int
    recorded_at: datetime
    type: str  # suppression, restriction, rectification
    reason: str
    purpose: str | None = None  # the purpose it concerns (consent), or None
    channel: str | None = None  # the channel it concerns (opt-out), or None
    scope: str | None = None  # the objection's scope
    fields: tuple[str, ...] = ()


def concerns(news: News, destination: Destination, purpose: Purpose) -> bool:
    """Does this change concern what `destination` received?"""
    if news.type == "rectification":
        return bool(set(news.fields) & set(destination.fields))
    if news.type == "restriction":
        return not purpose.restriction_exempt
    if news.purpose is not None:
        return news.purpose == destination.purpose
    if news.channel is not None:
        return news.channel == destination.channel
    if news.scope is not None:
        return purpose.objection_scope == news.scope
    return False


def _consent_news(row: Any) -> News | None:
    if row.action not in ("withdraw", "deny") or row.customer_id is None:
        return None
    reason = "consent_withdrawn" if row.action == "withdraw" else "consent_denied"
    return News("consent", int(row.id), int(row.customer_id), row.recorded_at, "suppression",
                reason, purpose=row.purpose)


def _preference_news(row: Any) -> News | None:
    if row.customer_id is None:
        return None
    base = ("preference", int(row.id), int(row.customer_id), row.recorded_at)
    if row.kind == "channel" and row.value == "opt_out":
        return News(*base, "suppression", "channel_opt_out", channel=row.key)
    if row.kind == "objection" and row.value == "on":
        return News(*base, "suppression", "objection", scope=row.key)
    if row.kind == "restriction" and row.value == "on":
        return News(*base, "restriction", "restricted")
    return None


LEDGERS: dict[str, Any] = {
    "consent_events": consent_events,
    "preference_events": preference_events,
    "rights_rectifications": rights_rectifications,
}


# Only these rows can tell a recipient anything; the rest (grants, opt-ins, lifted
# objections) are skipped in SQL, while their ids still move the position.
def _relevant(ledger: str) -> Any:
    if ledger == "consent_events":
        return consent_events.c.action.in_(("withdraw", "deny"))
    if ledger == "preference_events":
        p = preference_events.c
        return or_(and_(p.kind == "channel", p.value == "opt_out"),
                   and_(p.kind.in_(("objection", "restriction")), p.value == "on"))
    return None


def _read(conn: Connection, ledger: str, position: int, gaps: list[int]) -> tuple[list[int], list[Any]]:
    """The ids past `position` (and the gaps) seen now, and the rows among them that matter."""
    table = LEDGERS[ledger]
    ids = list(conn.execute(select(table.c.id).where(table.c.id > position)
                            .order_by(table.c.id).limit(READ_LIMIT)).scalars())
    if gaps:
        ids += list(conn.execute(select(table.c.id).where(table.c.id.in_(gaps))).scalars())
    if not ids:
        return [], []
    where = and_(table.c.id > position, table.c.id <= max(ids))
    if gaps:
        where = or_(where, table.c.id.in_(gaps))
    if ledger == "rights_rectifications":
        r, c = rights_rectifications.c, rights_cases.c
        stmt = (select(r.id, r.field, r.changed_at.label("recorded_at"), c.customer_id)
                .select_from(rights_rectifications.join(rights_cases, r.case_id == c.id))
                .where(where))
    else:
        stmt = select(table).where(where, _relevant(ledger))
    return [int(i) for i in ids], list(conn.execute(stmt.order_by(table.c.id)))


def _news(ledger: str, rows: list[Any]) -> list[News]:
    if ledger == "consent_events":
        return [n for n in map(_consent_news, rows) if n]
    if ledger == "preference_events":
        return [n for n in map(_preference_news, rows) if n]
    by_customer: dict[tuple[int, int], list[Any]] = {}
    for row in rows:  # one notice per customer and batch of rectified fields
        if row.customer_id is not None:
            by_customer.setdefault((int(row.customer_id), int(row.id)), []).append(row)
    out = []
    for (cid, rid), group in by_customer.items():
        fields = tuple(sorted({g.field for g in group}))
        out.append(News("rectification", rid, cid, group[0].recorded_at, "rectification",
                        "rectified", fields=fields))
    return out


def _advance(position: int, gaps: dict[int, float], seen: list[int], now: float) -> tuple[int, dict[int, float]]:
    """The new position and the ids still missing below it (with when they went missing)."""
    kept = {g: t for g, t in gaps.items() if g not in seen and now - t < GAP_SECONDS}
    top = max([position, *seen])
    present = set(seen)
    for missing in range(position + 1, top):
        if missing not in present and top - missing <= GAP_WINDOW:
            kept.setdefault(missing, now)
    return top, kept


def _state(conn: Connection, ledger: str) -> tuple[int, dict[int, float]]:
    w = activation_watch.c
    row = conn.execute(select(w.position, w.gaps).where(w.ledger == ledger)).first()
    if row is None:
        return 0, {}
    return int(row.position), {int(g): float(t) for g, t in row.gaps}


def _save(conn: Connection, ledger: str, position: int, gaps: dict[int, float], now: datetime) -> None:
    builder: Any = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    values = {"ledger": ledger, "position": position, "gaps": sorted([g, t] for g, t in gaps.items()),
              "updated_at": now}
    stmt = builder(activation_watch).values(**values)
    conn.execute(stmt.on_conflict_do_update(index_elements=["ledger"], set_={
        k: stmt.excluded[k] for k in ("position", "gaps", "updated_at")}))


def watch(conn: Connection, activation: Activation) -> int:
    """Read what the ledgers gained since the last pass; enqueue the notices. How many."""
    destinations = list_destinations(conn)
    enqueued = 0
    for ledger in LEDGERS:
        position, gaps = _state(conn, ledger)
        while True:
            ids, rows = _read(conn, ledger, position, sorted(gaps))
            if not ids and not gaps:
                break
            news = _news(ledger, rows)
            if news and destinations:
                enqueued += tell(conn, activation, destinations, news)
            position, gaps = _advance(position, gaps, ids, time.time())
            if conn.dialect.name == "sqlite":
                gaps = {}  # one writer at a time: ids commit in order, a hole is a rollback
            _save(conn, ledger, position, gaps, activation.clock.now())
            if len(ids) < READ_LIMIT:
                break
    return enqueued


def _receivers(conn: Connection, customer_ids: list[int]) -> dict[int, dict[int, datetime]]:
    """For each customer: the destinations that received (or were tried with) them, and
    the first time they were (sent, or planned for a try that may have arrived)."""
    first = func.min(func.coalesce(m.sent_at, m.planned_at))
    out: dict[int, dict[int, datetime]] = {}
    for start in range(0, len(customer_ids), 5000):
        chunk = customer_ids[start:start + 5000]
        rows = conn.execute(
            select(m.customer_id, m.destination_id, first.label("first"))
            .where(m.customer_id.in_(chunk), m.kind == "message",
                   or_(m.status == "sent", m.attempts > 0))
            .group_by(m.customer_id, m.destination_id))
        for row in rows:
            out.setdefault(int(row.customer_id), {})[int(row.destination_id)] = row.first
    return out


def tell(conn: Connection, activation: Activation, destinations: Iterable[Destination],
         news: list[News]) -> int:
    """Enqueue a notice of each change to each destination it concerns that received the
    customer before the change."""
    by_id = {d.id: d for d in destinations}
    now = activation.clock.now()
    received = _receivers(conn, sorted({n.customer_id for n in news}))
    rows = []
    for item in news:
        for dest_id, since in received.get(item.customer_id, {}).items():
            destination = by_id.get(dest_id)
            if destination is None or since >= item.recorded_at:
                continue
            purpose = activation.purposes.by_name.get(destination.purpose)
            if purpose is None or not concerns(item, destination, purpose):
                continue
            fields = sorted(set(item.fields) & set(destination.fields))
            rows.append(_notice_row(destination, now, f"n{item.ledger[0]}{item.event_id}:{dest_id}",
                                    {"type": item.type, "reason": item.reason, "fields": fields or None,
                                     "occurred_at": item.recorded_at.isoformat()},
                                    customer_id=item.customer_id))
    return _insert_notices(conn, rows)


def _notice_row(destination: Destination, now: datetime, dedupe: str, notice: dict[str, Any],
                *, customer_id: int | None = None, recipient: str | None = None) -> dict[str, Any]:
    return {
        "kind": "notice", "dedupe": dedupe, "destination_id": destination.id,
        "customer_id": customer_id, "recipient": recipient, "channel": destination.channel,
        "purpose": destination.purpose, "notice": notice, "status": "pending",
        "not_before": now, "next_attempt_at": now, "attempts": 0, "planned_at": now,
    }


def _insert_notices(conn: Connection, rows: list[dict[str, Any]]) -> int:
    """Insert notices not yet enqueued (a ledger event read twice enqueues once)."""
    builder: Any = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    done = 0
    for row in rows:  # few at a time: one per change and destination that received the customer
        stmt = builder(activation_messages).values(**row).on_conflict_do_nothing(
            index_elements=["dedupe"]).returning(activation_messages.c.id)
        done += len(conn.execute(stmt).all())  # rowcount: none on PostgreSQL here
    return done


def tell_erasure(conn: Connection, customer_id: int) -> int:
    """Enqueue a deletion notice to every destination that received the customer (erasure).

    The notice names the customer by the pseudonym the destination got with their messages
    (kept on the rows that were tried), held until the notice is delivered: the customer
    row, and the internal id, are about to go.
    """
    now = utcnow()
    found = conn.execute(select(m.destination_id, m.recipient).where(
        m.customer_id == customer_id, m.kind == "message", m.recipient.is_not(None),
        or_(m.status == "sent", m.attempts > 0)).distinct()).all()
    by_id = {d.id: d for d in list_destinations(conn)}
    rows = []
    for dest_id, recipient in sorted(set(found)):
        destination = by_id.get(int(dest_id))
        if destination is None:
            continue
        rows.append(_notice_row(destination, now, f"e{uuid.uuid4().hex}",
                                {"type": "deletion", "reason": "erased", "fields": None,
                                 "occurred_at": now.isoformat()}, recipient=recipient))
    if rows:
        conn.execute(insert(activation_messages), rows)
    return len(rows)


def forget(conn: Connection, customer_id: int) -> int:
    """Unlink the outbox from an erased customer, keeping the proof of what was sent.

    Messages not yet sent are cancelled (NOT_FOUND: nobody to send to any more); every row
    loses its customer id, and its key (which named the customer) becomes the row's own id.
    """
    conn.execute(update(activation_messages).where(
        m.customer_id == customer_id, m.status.in_(("pending", "sending"))).values(
        status="cancelled", reason="NOT_FOUND", lease_until=None))
    result = conn.execute(update(activation_messages).where(m.customer_id == customer_id).values(
        customer_id=None, dedupe="x" + m.id.cast(String), recipient=None))
    return int(result.rowcount or 0)
