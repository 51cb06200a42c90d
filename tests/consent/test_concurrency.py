"""Two processes recording consents for one customer at once lose nothing and stay consistent."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from sqlalchemy import select

from gateway.consent.sealing import open_evidence
from gateway.consent.tables import consent_events, consent_state
from gateway.privacy.datakeys import DataKeys
from tests.api.support import add_person
from tests.consent.writers import record_many
from tests.harness import Gateway

PER_WRITER = 40


def test_concurrent_writers_lose_nothing_and_state_is_the_latest_event(
    fresh_gateway: Gateway, tmp_path: Path
) -> None:
    # given: one customer and two writer processes released together
    gw = fresh_gateway
    cid, _ = add_person(gw)
    spawn = multiprocessing.get_context("spawn")
    barrier = spawn.Barrier(2)
    writers = [
        spawn.Process(target=record_many, args=(gw.url, str(tmp_path), cid, PER_WRITER, barrier, offset))
        for offset in (0, 1)
    ]

    # when
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=120)

    # then: both finished, every event is there, and the state is the latest event
    assert [w.exitcode for w in writers] == [0, 0]
    with gw.engine.connect() as conn:
        events = conn.execute(
            select(consent_events.c.id, consent_events.c.action, consent_events.c.occurred_at,
                   consent_events.c.evidence)
            .where(consent_events.c.customer_id == cid)
        ).all()
        state = conn.execute(select(consent_state).where(consent_state.c.customer_id == cid)).one()
    assert len(events) == 2 * PER_WRITER
    with gw.engine.connect() as conn:
        keys = DataKeys(conn, gw.services.vault)
        evidence = {open_evidence(keys, "consent_events", cid, e.evidence) for e in events}
    assert evidence == {f"writer-{o}-{n}" for o in (0, 1) for n in range(PER_WRITER)}
    latest = max(events, key=lambda e: (e.occurred_at, e.id))
    assert state.occurred_at == latest.occurred_at
    assert (state.event_id, state.action) == (latest.id, latest.action)
