"""The outbox worker: plan what is due, tell recipients, deliver batches, retry, dead-letter.

One pass: plan the scheduled campaigns whose time came; turn new ledger events into
recipient notices (gateway/activation/notices.py); take over batches whose worker died;
then, destination by destination, claim a batch, decide it at the gate, deliver it and
record the outcome, until nothing is due. `consent-gateway activation work` runs passes in
a loop; `serve` runs the same loop in a thread when GATEWAY_ACTIVATION_WORKER is on.

Each batch goes through three short transactions: claim (commit), decide and count the
attempt (commit), record the delivery with one audit entry (commit). The delivery itself
runs with no transaction open. A crash between any two leaves the batch `sending` with a
lease; the next worker takes it over after the lease, decides it again, and delivers it
with the same message ids, so nothing is lost and the destination drops duplicates.
"""

from __future__ import annotations

import logging
import random
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, select

from gateway.activation.campaigns import due_campaigns, plan_campaign
from gateway.activation.decide import BatchGate, digest
from gateway.activation.delivery import Deliverer
from gateway.activation.destinations import get_destination
from gateway.activation.notices import watch
from gateway.activation.outbox import (
    assign,
    batch_rows,
    claim,
    expired_batches,
    mark_attempt,
    mark_failed,
    mark_sent,
    settle,
    take_over,
)
from gateway.activation.service import WORKER, Activation
from gateway.activation.tables import activation_destinations
from gateway.errors import ServiceError

logger = logging.getLogger("gateway.activation")


@dataclass
class PassReport:
    """What one pass did: counts only."""

    planned: int = 0
    notices: int = 0
    handled: int = 0  # messages and notices decided
    batches: int = 0
    sent: int = 0
    held_out: int = 0
    retried: int = 0
    dead: int = 0
    excluded: Counter[str] = field(default_factory=Counter)

    def add(self, other: PassReport) -> None:
        """Sum another report into this one."""
        for name in ("planned", "notices", "handled", "batches", "sent", "held_out", "retried",
                     "dead"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.excluded.update(other.excluded)


class Worker:
    """Delivers the outbox of one database; safe to run in several processes at once."""

    def __init__(self, engine: Engine, activation: Activation, deliverer: Deliverer | None = None,
                 *, max_batches: int | None = None) -> None:
        self.engine = engine
        self.activation = activation
        self.deliverer = deliverer or Deliverer(activation)
        self.max_batches = max_batches
        self.on_batch: Callable[[PassReport], None] | None = None  # progress of a pass
        settings = activation.settings
        self.lease = timedelta(seconds=settings.activation_lease_seconds)
        self._stop = threading.Event()

    def close(self) -> None:
        self.deliverer.close()

    def stop(self) -> None:
        """Ask a running loop to finish its batch and return."""
        self._stop.set()

    def backoff(self, tries: int) -> timedelta:
        """Exponential backoff with jitter, capped."""
        s = self.activation.settings
        delay = min(s.activation_retry_base_seconds * 2 ** (tries - 1), s.activation_retry_max_seconds)
        return timedelta(seconds=delay * random.uniform(0.8, 1.2))

    # --- one pass ---------------------------------------------------------------------------

    def run_once(self) -> PassReport:
        """One pass over everything due; returns what it did."""
        report = PassReport()
        report.planned = self._plan_due()
        with self.engine.begin() as conn:
            report.notices = watch(conn, self.activation)
        now = self.activation.clock.now()
        with self.engine.begin() as conn:
            stale = expired_batches(conn, now)
        for stale_batch in stale:
            with self.engine.begin() as conn:
                mine = take_over(conn, stale_batch, now, self.lease)
            if mine:
                report.add(self._batch(stale_batch))
        for destination_id in self._destinations():
            while not self._stop.is_set():
                if self.max_batches is not None and report.batches >= self.max_batches:
                    return report
                with self.engine.begin() as conn:
                    destination = get_destination(conn, destination_id=destination_id)
                    batch = claim(conn, destination_id, destination.batch_size,
                                  self.activation.clock.now(), self.lease)
                if batch is None:
                    break
                report.add(self._batch(batch))
        return report

    def _plan_due(self) -> int:
        with self.engine.connect() as conn:
            refs = due_campaigns(conn, self.activation.clock.now())
        planned = 0
        for ref in refs:
            try:
                with self.engine.begin() as conn:
                    planned += plan_campaign(conn, self.activation, WORKER, ref).enqueued
            except ServiceError as exc:
                logger.warning("scheduled campaign %s not planned: %s", ref, exc.code.value)
        return planned

    def _destinations(self) -> list[int]:
        d = activation_destinations.c
        with self.engine.connect() as conn:
            return list(conn.execute(select(d.id).where(d.disabled_at.is_(None)).order_by(d.id))
                        .scalars())

    # --- one batch --------------------------------------------------------------------------

    def _batch(self, batch: str) -> PassReport:
        done = self._process(batch)
        if self.on_batch is not None:
            self.on_batch(done)
        return done

    def _process(self, batch: str) -> PassReport:
        report = PassReport(batches=1)
        activation = self.activation
        with self.engine.begin() as conn:
            rows = batch_rows(conn, batch)
            if not rows:
                return report
            destination = get_destination(conn, destination_id=rows[0].destination_id)
            now = activation.clock.now()
            decided = BatchGate(conn, activation, destination, rows, now).decide()
            settle(conn, decided.outcomes)
            assign(conn, decided.arms)
            mark_attempt(conn, {i: p["recipient"] for i, p in decided.payloads.items()})
        report.handled = len(rows)
        report.excluded.update(decided.excluded)
        report.held_out = sum(1 for s, _ in decided.outcomes.values() if s == "held_out")
        sending = [r for r in rows if r.id in decided.payloads]
        payloads = [decided.payloads[r.id] for r in sending]
        outcome = None
        if payloads:
            outcome = self.deliverer.deliver(destination, batch, payloads, now.isoformat())
        with self.engine.begin() as conn:
            if outcome is not None and outcome.ok:
                names = destination.pseudonyms(activation)
                sent = {r.id: (sorted((p.get("data") or {}).keys()), digest(names, p))
                        for r, p in zip(sending, payloads, strict=True)}
                mark_sent(conn, sent, activation.clock.now(),
                          [r.id for r in sending if r.customer_id is None])
                report.sent = len(sent)
            elif outcome is not None:
                # A client error (4xx) does not heal by waiting: straight to the dead letters.
                attempts = 1 if outcome.permanent else destination.max_attempts
                report.retried, report.dead = mark_failed(
                    conn, sending, outcome.error or "error", activation.clock.now(), attempts,
                    self.backoff)
            activation.audit(conn, "send", WORKER, detail=_detail(destination.name, batch, report,
                                                                  rows, outcome))
        return report

    # --- the loop ---------------------------------------------------------------------------

    def run_forever(self, poll_seconds: float | None = None) -> None:
        """Passes until `stop()`; sleeps `poll_seconds` when a pass found nothing to do."""
        poll = poll_seconds if poll_seconds is not None else self.activation.settings.activation_poll_seconds
        while not self._stop.is_set():
            try:
                report = self.run_once()
            except Exception:
                logger.exception("activation pass failed; retrying after the poll interval")
                report = PassReport()
            if report.batches == 0 and report.notices == 0:
                self._stop.wait(poll)


def _detail(destination: str, batch: str, report: PassReport, rows: list[Any],
            outcome: Any) -> dict[str, Any]:
    kinds = Counter(str(r.kind) for r in rows)
    return {
        "destination": destination, "batch": batch, "messages": kinds.get("message", 0),
        "notices": kinds.get("notice", 0), "sent": report.sent, "held_out": report.held_out,
        "excluded": dict(sorted(report.excluded.items())), "retried": report.retried,
        "dead": report.dead, "error": outcome.error if outcome is not None else None,
    }


def start_in_thread(engine: Engine, activation: Activation) -> tuple[Worker, threading.Thread]:
    """The worker loop in a daemon thread (for `serve`)."""
    worker = Worker(engine, activation)
    thread = threading.Thread(target=worker.run_forever, name="activation-worker", daemon=True)
    thread.start()
    return worker, thread
