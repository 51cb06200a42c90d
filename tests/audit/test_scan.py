"""The span scan (worker processes, spans joined at their boundaries) finds what the walk finds.

The chain is verified in spans of `SPAN` entries by two worker processes; tampering in the
middle of a span, at its first or last entry, or across the boundary of two spans must be
found at the same place and of the same kind as by the sequential walk alone (`workers=0`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from gateway.audit.tables import audit_events, audit_subjects
from gateway.audit.verify import VerifyResult, verify_chain
from tests.audit.support import (
    alter_checkpoint,
    append_entries,
    checkpoint_seqs,
    execute,
    head,
    modify,
    remove,
    spot,
    swap,
)
from tests.harness import Gateway

SPAN = 8


def _parallel(gw: Gateway, progress: list[tuple[int, int]] | None = None) -> VerifyResult:
    return verify_chain(gw.engine, gw.services.signer.jwks(), workers=2, span=SPAN,
                        parallel_from=0, remember=False,
                        progress=None if progress is None else lambda *p: progress.append(p))


def _walk(gw: Gateway) -> VerifyResult:
    return verify_chain(gw.engine, gw.services.signer.jwks(), workers=0, remember=False)


def _boundary(gw: Gateway) -> int:
    """The first seq of a span (spans start at seq 1) with two whole spans of new entries
    before it and after it."""
    base = int(head(gw).seq)
    append_entries(gw, 5 * SPAN, every=5, subjects=[1, 2])
    return (base // SPAN + 3) * SPAN + 1


def _drop_index_row(gw: Gateway, seq: int) -> None:
    with gw.engine.connect() as conn:
        audit_id = conn.execute(select(audit_events.c.id).where(audit_events.c.seq == seq)).scalar_one()
    execute(gw, delete(audit_subjects).where(audit_subjects.c.audit_id == audit_id))


def _rewrite_checkpoint(gw: Gateway, boundary: int) -> int:
    seq = next(s for s in checkpoint_seqs(gw) if s > boundary)
    alter_checkpoint(gw, seq, entry_hash="0" * 64)
    return seq


def test_an_untouched_chain_verifies_in_spans_as_in_one_walk(fresh_gateway: Gateway) -> None:
    # given: a chain of several spans
    gw = fresh_gateway
    _boundary(gw)

    # when
    spans: list[tuple[int, int]] = []
    parallel, walk = _parallel(gw, spans), _walk(gw)

    # then: the same verdict, entries and checkpoints; every span was joined by the scan
    assert [checked for checked, _ in spans][:-1] == list(range(SPAN, int(head(gw).seq), SPAN))
    assert parallel.ok and walk.ok, (parallel.problem, walk.problem)
    assert parallel.entries == walk.entries == parallel.last_seq == int(head(gw).seq)
    assert parallel.checkpoints == walk.checkpoints > 0


Tamper = Callable[[Gateway, int], Any]
CASES: list[tuple[str, Tamper, int, str]] = [
    ("middle of a span", lambda gw, b: modify(gw, b + 3), 3, "modified"),
    ("first entry of a span", lambda gw, b: modify(gw, b), 0, "modified"),
    ("last entry of a span", lambda gw, b: modify(gw, b - 1), -1, "modified"),
    ("deleted at a boundary", lambda gw, b: remove(gw, b), 0, "deleted"),
    ("swapped across a boundary", lambda gw, b: swap(gw, b - 1), -1, "reordered"),
    ("index row dropped at a boundary", lambda gw, b: _drop_index_row(gw, b), 0, "index_mismatch"),
    ("JSON rewritten in a later span", lambda gw, b: execute(
        gw, update(audit_events).where(audit_events.c.seq == b + SPAN + 2)
        .values(detail={"fields": {"city": "POLICY_DENIED"}, "errors": {}})), SPAN + 2, "modified"),
]


@pytest.mark.parametrize(("tamper", "offset", "kind"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_tampering_in_any_span_is_found_where_the_walk_finds_it(
        fresh_gateway: Gateway, tamper: Tamper, offset: int, kind: str) -> None:
    # given: a chain of several spans, tampered with around a boundary
    gw = fresh_gateway
    boundary = _boundary(gw)
    tamper(gw, boundary)

    # when
    parallel, walk = _parallel(gw), _walk(gw)

    # then: found at the same place, of the same kind, after the same entries
    assert spot(parallel) == spot(walk) == (boundary + offset, kind)
    assert parallel.entries == walk.entries
    assert parallel.last_seq == walk.last_seq == boundary + offset - 1


def test_a_rewritten_checkpoint_in_a_later_span_is_found(fresh_gateway: Gateway) -> None:
    # given: a checkpoint whose hash is no longer its entry's
    gw = fresh_gateway
    seq = _rewrite_checkpoint(gw, _boundary(gw))

    # when
    parallel, walk = _parallel(gw), _walk(gw)

    # then
    assert spot(parallel) == spot(walk)
    assert spot(parallel) == (seq, "checkpoint_invalid")
