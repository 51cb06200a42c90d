"""Group commit: concurrent entries share transactions, the chain stays one ordered list, and
no answer leaves before its entry is committed."""

from __future__ import annotations

import itertools
import multiprocessing
import threading
import time
from concurrent.futures import Future
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from gateway.app import build_services
from gateway.audit import group as group_module
from gateway.audit.group import GroupCommitter
from gateway.audit.service import AuditEntry, checkpoint_policy, prepare, write_entry
from gateway.audit.tables import audit_events
from tests.audit.support import head, verify
from tests.consent.http import CALL_EVIDENCE, RECORD_CONSENT
from tests.harness import Gateway, settings_for

THREADS = 6
PER_THREAD = 30
READ = "{ customers(first: 2) { nodes { id } } }"


def _entry(name: str, i: int) -> AuditEntry:
    return AuditEntry(actor_type="app", actor=name, action="read", operation=f"op{i}",
                      subjects=[(i % 5 + 1, "ALLOWED")], fields={"city": "ALLOWED"})


def _committer(gw: Gateway, every: int = 7) -> GroupCommitter:
    settings = replace(gw.services.settings, audit_checkpoint_every=every)
    return GroupCommitter(gw.engine, gw.services.signer, checkpoint_policy(settings))


def _rows_after(gw: Gateway, before: int) -> list[Any]:
    with gw.engine.connect() as conn:
        return conn.execute(select(audit_events.c.seq, audit_events.c.actor, audit_events.c.operation,
                                   audit_events.c.request_id)
                            .where(audit_events.c.seq > before).order_by(audit_events.c.seq)).all()


def test_threads_submitting_at_once_share_groups_and_keep_one_ordered_chain(fresh_gateway: Gateway) -> None:
    # given: a committer and the place the chain is at
    gw = fresh_gateway
    committer = _committer(gw)
    audit = gw.services.pseudonyms.for_audit()
    before = int(head(gw).seq)
    answered: dict[str, int] = {}
    start = threading.Barrier(THREADS)

    def client(n: int) -> None:
        start.wait()
        for i in range(PER_THREAD):
            entry = _entry(f"thread-{n}", i)
            answered[entry.request_id] = committer.submit(prepare(entry, audit)).result(timeout=60)

    # when: several threads submit entries at once, each waiting for its own
    threads = [threading.Thread(target=client, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    committer.close()

    # then: every entry has the place its future said, the places are contiguous, each
    # thread's entries are in its order, groups held several entries, the chain verifies
    rows = _rows_after(gw, before)
    total = THREADS * PER_THREAD
    assert [r.seq for r in rows] == list(range(before + 1, before + total + 1))
    assert {r.request_id: r.seq for r in rows} == answered
    for n in range(THREADS):
        ops = [r.operation for r in rows if r.actor == f"thread-{n}"]
        assert ops == [f"op{i}" for i in range(PER_THREAD)]
    assert committer.entries == total
    assert committer.batches < total  # grouped: fewer transactions than entries
    assert int(head(gw).seq) == before + total
    result = verify(gw)
    assert result.ok, result.problem


def test_single_appends_and_groups_interleave_on_one_chain(fresh_gateway: Gateway) -> None:
    # given: a committer and a writer that appends inside its own transactions (as writes do)
    gw = fresh_gateway
    committer = _committer(gw, every=3)
    audit = gw.services.pseudonyms.for_audit()
    before = int(head(gw).seq)

    def writer() -> None:
        for i in range(40):
            with gw.engine.begin() as conn:
                write_entry(conn, _entry("writer", i), audit, gw.services.signer, gw.services.settings)

    # when: both run at once
    thread = threading.Thread(target=writer)
    thread.start()
    futures = [committer.submit(prepare(_entry("reader", i), audit)) for i in range(120)]
    seqs = [f.result(timeout=60) for f in futures]
    thread.join(timeout=60)
    committer.close()

    # then: one contiguous chain holding both, each in its order
    rows = _rows_after(gw, before)
    assert [r.seq for r in rows] == list(range(before + 1, before + 161))
    assert seqs == sorted(seqs)
    assert [r.operation for r in rows if r.actor == "reader"] == [f"op{i}" for i in range(120)]
    assert [r.operation for r in rows if r.actor == "writer"] == [f"op{i}" for i in range(40)]
    result = verify(gw)
    assert result.ok, result.problem


def _process(url: str, workdir: str, name: str, count: int, start: Any) -> None:
    services = build_services(replace(settings_for(url, Path(workdir)), audit_checkpoint_every=11))
    audit = services.pseudonyms.for_audit()
    committer = GroupCommitter(services.engine, services.signer, checkpoint_policy(services.settings))
    start.wait(timeout=60)
    futures: list[Future[int]] = []
    for i in range(count):
        futures.append(committer.submit(prepare(_entry(name, i), audit)))
        if i % 10 == 9:  # requests arrive in bursts, not all at once
            [f.result(timeout=60) for f in futures]
            time.sleep(0.005)
    [f.result(timeout=60) for f in futures]
    committer.close()
    services.engine.dispose()


def test_committers_of_two_processes_extend_one_chain(fresh_gateway: Gateway, tmp_path: Path) -> None:
    # given: two processes, each with its own committer (as two uvicorn workers)
    gw = fresh_gateway
    before = int(head(gw).seq)
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(2)
    workers = [ctx.Process(target=_process, args=(gw.url, str(tmp_path), f"worker-{n}", 200, start))
               for n in range(2)]

    # when: both commit groups at once
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=180)

    # then: contiguous places, each worker's entries in its order, interleaved, valid chain
    assert [w.exitcode for w in workers] == [0, 0]
    rows = _rows_after(gw, before)
    assert [r.seq for r in rows] == list(range(before + 1, before + 401))
    for n in range(2):
        assert [r.operation for r in rows if r.actor == f"worker-{n}"] == [f"op{i}" for i in range(200)]
    actors = [r.actor for r in rows]
    assert sum(a != b for a, b in itertools.pairwise(actors)) > 1
    with gw.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(audit_events)).scalar() == before + 400
    result = verify(gw)
    assert result.ok, result.problem


def _failing_after_insert(monkeypatch: pytest.MonkeyPatch) -> None:
    """Groups are inserted, then their transaction fails (as a commit that fails would)."""
    real = group_module.append_many

    def append_then_fail(*args: Any) -> list[int]:
        real(*args)
        raise RuntimeError("disk full")

    monkeypatch.setattr(group_module, "append_many", append_then_fail)


def test_a_group_that_cannot_commit_fails_every_waiter(fresh_gateway: Gateway,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # given: a committer whose transaction fails after the inserts
    gw = fresh_gateway
    committer = _committer(gw)
    audit = gw.services.pseudonyms.for_audit()
    before = int(head(gw).seq)
    _failing_after_insert(monkeypatch)

    # when: entries are submitted
    futures = [committer.submit(prepare(_entry("app", i), audit)) for i in range(20)]

    # then: each waiter gets the failure, nothing was kept, the chain is as it was
    for future in futures:
        with pytest.raises(RuntimeError, match="disk full"):
            future.result(timeout=30)
    committer.close()
    assert _rows_after(gw, before) == []
    assert int(head(gw).seq) == before
    assert verify(gw).ok


def test_a_read_whose_entry_cannot_be_committed_is_not_answered(fresh_gateway: Gateway,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # given: the control, answered while the committer works
    gw = fresh_gateway
    control = gw.post(READ)
    assert control.status_code == 200 and control.json()["data"]["customers"]["nodes"]
    _failing_after_insert(monkeypatch)

    # when: the same read while the group's transaction fails
    response = gw.post(READ)

    # then: an error with its code, no data, no entry
    body = response.json()
    assert response.status_code == 503
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == "AUDIT_UNAVAILABLE"
    with gw.engine.connect() as conn:
        found = conn.execute(select(func.count()).select_from(audit_events).where(
            audit_events.c.request_id == response.headers["x-request-id"])).scalar()
    assert found == 0


def test_an_answer_leaves_only_after_its_entry_is_committed(fresh_gateway: Gateway,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    # given: an app that listed once (its first listing stored its order and committed that
    # write with its own entry, as writes do), and a committer held back before it writes
    gw = fresh_gateway
    assert gw.post(READ).status_code == 200
    release = threading.Event()
    real = group_module.append_many

    def held(*args: Any) -> list[int]:
        release.wait(timeout=30)
        return real(*args)

    monkeypatch.setattr(group_module, "append_many", held)
    answers: list[Any] = []

    # when: a read is sent
    thread = threading.Thread(target=lambda: answers.append(gw.post(READ)))
    thread.start()
    time.sleep(0.5)

    # then: no answer while the entry is not committed; once it is, the answer comes and
    # its entry is already in the log
    assert answers == []
    release.set()
    thread.join(timeout=30)
    assert answers[0].status_code == 200
    entry = gw.audit_entry(answers[0].headers["x-request-id"])
    assert entry.operation == "customers"
    assert verify(gw).ok


def test_a_mutation_keeps_its_entry_in_its_own_transaction(fresh_gateway: Gateway,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    # given: group commits that would fail
    gw = fresh_gateway
    _failing_after_insert(monkeypatch)

    # when: a mutation runs (a consent recorded by the call center)
    cid = gw.add_customer()
    given = {"customerId": gw.pseudonym(cid, "call_center"), "purpose": "marketing_email",
             "noticeVersion": 2, "action": "grant", "sourceChannel": "call_center",
             "evidence": CALL_EVIDENCE}
    response = gw.post(RECORD_CONSENT, app="call_center", purpose="support",
                       variables={"input": given})

    # then: it does not go through the group committer: its entry is written with it
    assert response.status_code == 200, response.text
    assert "errors" not in response.json(), response.text
    assert gw.audit_entry(response.headers["x-request-id"]).action == "consent.record"
