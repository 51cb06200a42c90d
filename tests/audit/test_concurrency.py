"""Writers in several OS processes extend one chain: no gap, no fork, no reordering."""

from __future__ import annotations

import itertools
import multiprocessing
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from gateway.app import build_services
from gateway.audit.service import AuditEntry, write_entry
from gateway.audit.tables import audit_events
from tests.audit.support import head, verify
from tests.harness import Gateway, settings_for

PER_PROCESS = 150
PROCESSES = 2


def _writer(url: str, workdir: str, name: str, count: int, start: Any) -> None:
    services = build_services(replace(settings_for(url, Path(workdir)), audit_checkpoint_every=7))
    audit = services.pseudonyms.for_audit()
    start.wait(timeout=60)  # both processes write at the same time
    for i in range(count):
        entry = AuditEntry(actor_type="app", actor=name, action="read", operation=f"op{i}",
                           subjects=[(i % 5 + 1, "ALLOWED")])
        with services.engine.begin() as conn:
            write_entry(conn, entry, audit, services.signer, services.settings)
        # A worker's requests do not come back to back: without a pause, SQLite's busy
        # handler lets one process take the write lock again and again (no interleaving).
        time.sleep(0.002)
    services.engine.dispose()


def test_two_processes_append_one_valid_chain(fresh_gateway: Gateway, tmp_path: Path) -> None:
    # given: the entries already there
    gw = fresh_gateway
    before = int(head(gw).seq)
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(PROCESSES)
    workers = [
        ctx.Process(target=_writer,
                    args=(gw.url, str(tmp_path), f"writer-{n}", PER_PROCESS, start))
        for n in range(PROCESSES)
    ]

    # when: both processes append at once
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)

    # then: every entry got its own place, the places are contiguous, the chain verifies
    assert [w.exitcode for w in workers] == [0] * PROCESSES
    with gw.engine.connect() as conn:
        count, low, high = conn.execute(
            select(func.count(), func.min(audit_events.c.seq), func.max(audit_events.c.seq))
        ).one()
        order = list(conn.execute(select(audit_events.c.actor).order_by(audit_events.c.seq)
                                  .where(audit_events.c.seq > before)).scalars())
    assert count == before + PROCESSES * PER_PROCESS
    assert (low or 1, high) == (1, before + PROCESSES * PER_PROCESS)
    assert set(order) == {f"writer-{n}" for n in range(PROCESSES)}
    assert sum(a != b for a, b in itertools.pairwise(order)) > 1  # interleaved
    assert int(head(gw).seq) == high
    result = verify(gw)
    assert result.ok, result.problem
    assert result.entries == count
