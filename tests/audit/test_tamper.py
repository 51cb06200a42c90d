"""Verification finds every kind of tampering with the stored log and names the spot."""

from __future__ import annotations

from sqlalchemy import delete, select, update

from gateway.audit.chain import entry_hash
from gateway.audit.tables import audit_chain_head, audit_checkpoints, audit_events, audit_subjects
from tests.audit.support import (
    alter_checkpoint,
    append_entries,
    checkpoint_seqs,
    execute,
    head,
    insert_forged,
    modify,
    remove,
    renumber,
    row,
    spot,
    swap,
    truncate,
    verify,
)
from tests.harness import Gateway

N = 23


def test_an_untouched_log_verifies(fresh_gateway: Gateway) -> None:
    # given
    seqs = append_entries(fresh_gateway, N)
    # when
    result = verify(fresh_gateway)
    # then
    assert result.ok, result.problem
    assert result.last_seq == seqs[-1] == head(fresh_gateway).seq
    assert result.entries == seqs[-1]
    assert result.checkpoints >= N // 5


def test_a_modified_field_is_found(fresh_gateway: Gateway) -> None:
    # given
    append_entries(fresh_gateway, N)
    # when
    modify(fresh_gateway, 7)
    # then
    assert spot(verify(fresh_gateway)) == (7, "modified")


def test_a_modified_json_field_is_found(fresh_gateway: Gateway) -> None:
    # given
    append_entries(fresh_gateway, N)
    # when: a denied field is rewritten as allowed
    execute(fresh_gateway, update(audit_events).where(audit_events.c.seq == 11)
            .values(detail={"fields": {"city": "POLICY_DENIED"}, "errors": {}}))
    # then
    assert spot(verify(fresh_gateway)) == (11, "modified")


def test_a_deleted_entry_is_found(fresh_gateway: Gateway) -> None:
    # given
    append_entries(fresh_gateway, N)
    # when
    remove(fresh_gateway, 9)
    # then
    assert spot(verify(fresh_gateway)) == (9, "deleted")


def test_a_deleted_entry_is_found_after_renumbering(fresh_gateway: Gateway) -> None:
    # given
    append_entries(fresh_gateway, N)
    # when: the gap is closed by moving the later entries down
    remove(fresh_gateway, 9)
    renumber(fresh_gateway, 10, -1)
    # then
    assert spot(verify(fresh_gateway)) == (9, "deleted")


def test_a_forged_entry_is_found(fresh_gateway: Gateway) -> None:
    # given
    append_entries(fresh_gateway, N)
    # when: later entries are moved up to make room for a forged one
    renumber(fresh_gateway, 12, +1)
    insert_forged(fresh_gateway, 12)
    # then
    assert spot(verify(fresh_gateway)) == (12, "inserted")


def test_a_well_hashed_forged_entry_is_found(fresh_gateway: Gateway) -> None:
    # given
    append_entries(fresh_gateway, N)
    renumber(fresh_gateway, 12, +1)
    # when: the forger even chains the forged entry correctly to its predecessor
    prev = row(fresh_gateway, 11)["entry_hash"]
    forged = {**row(fresh_gateway, 11), "seq": 12, "actor": "forger", "prev_hash": prev}
    insert_forged(fresh_gateway, 12, prev_hash=prev, entry_hash=entry_hash(forged))
    # then
    assert spot(verify(fresh_gateway)) == (12, "inserted")


def test_an_entry_appended_beyond_the_head_is_found(fresh_gateway: Gateway) -> None:
    # given
    append_entries(fresh_gateway, N)
    # when
    last = row(fresh_gateway, N)
    forged = {**last, "seq": N + 1, "actor": "forger", "prev_hash": last["entry_hash"]}
    insert_forged(fresh_gateway, N + 1, prev_hash=last["entry_hash"], entry_hash=entry_hash(forged))
    # then
    assert spot(verify(fresh_gateway)) == (N + 1, "inserted")


def test_swapped_entries_are_found(fresh_gateway: Gateway) -> None:
    # given
    append_entries(fresh_gateway, N)
    # when
    swap(fresh_gateway, 14)
    # then
    assert spot(verify(fresh_gateway)) == (14, "reordered")


def test_a_truncated_tail_is_found(fresh_gateway: Gateway) -> None:
    # given
    append_entries(fresh_gateway, N)
    # when
    truncate(fresh_gateway, 17)
    # then
    assert spot(verify(fresh_gateway)) == (18, "truncated")


def test_a_checkpoint_with_an_altered_hash_is_found(fresh_gateway: Gateway) -> None:
    # given: checkpoints every 5 entries
    append_entries(fresh_gateway, N)
    # when
    cp = checkpoint_seqs(fresh_gateway)[1]
    alter_checkpoint(fresh_gateway, cp, entry_hash="f" * 64)
    # then
    assert spot(verify(fresh_gateway)) == (cp, "checkpoint_invalid")


def test_a_checkpoint_with_an_altered_signature_is_found(fresh_gateway: Gateway) -> None:
    # given
    append_entries(fresh_gateway, N)
    # when
    cp = checkpoint_seqs(fresh_gateway)[2]
    alter_checkpoint(fresh_gateway, cp, signature="A" * 86)
    # then
    assert spot(verify(fresh_gateway)) == (cp, "checkpoint_invalid")


def test_a_deleted_last_checkpoint_is_found(fresh_gateway: Gateway) -> None:
    # given
    append_entries(fresh_gateway, N)
    last = checkpoint_seqs(fresh_gateway)[-1]
    # when
    execute(fresh_gateway, delete(audit_checkpoints).where(audit_checkpoints.c.seq == last))
    # then
    assert spot(verify(fresh_gateway)) == (last, "checkpoint_invalid")


def test_a_deleted_customer_index_row_is_found(fresh_gateway: Gateway) -> None:
    # given: entries naming customers (what officers filter on)
    append_entries(fresh_gateway, N, subjects=[1, 2])
    # when: one entry is hidden from the per-customer filter
    execute(fresh_gateway, delete(audit_subjects).where(audit_subjects.c.audit_id.in_(
        select(audit_events.c.id).where(audit_events.c.seq == 8).scalar_subquery()))
        .where(audit_subjects.c.ref == fresh_gateway.audit_ref(2)))
    # then
    assert spot(verify(fresh_gateway)) == (8, "index_mismatch")


def test_a_customer_index_row_moved_to_another_entry_is_found(fresh_gateway: Gateway) -> None:
    # given
    append_entries(fresh_gateway, N, subjects=[3])
    # when: the read at seq 6 is made to look like it touched nobody (its index row moved to 5)
    with fresh_gateway.engine.connect() as conn:
        five, six = (conn.execute(select(audit_events.c.id).where(audit_events.c.seq == s)).scalar_one()
                     for s in (5, 6))
    execute(fresh_gateway, update(audit_subjects).where(audit_subjects.c.audit_id == six).values(audit_id=five))
    # then: a customer filter would miss seq 6
    assert spot(verify(fresh_gateway)) == (6, "index_mismatch")


def test_a_rewritten_and_rechained_tail_is_found_at_the_next_checkpoint(fresh_gateway: Gateway) -> None:
    # given: checkpoints every 5 entries
    gw = fresh_gateway
    append_entries(gw, N)
    cps = checkpoint_seqs(gw)
    after = next(s for s in cps if s > 7)
    # when: seq 7 is changed and every later entry re-hashed and re-linked, head included
    prev = row(gw, 6)["entry_hash"]
    for seq in range(7, N + 1):
        values = {**row(gw, seq), "prev_hash": prev}
        if seq == 7:
            values["actor"] = "someone-else"
        prev = entry_hash(values)
        execute(gw, update(audit_events).where(audit_events.c.seq == seq)
                .values(actor=values["actor"], prev_hash=values["prev_hash"], entry_hash=prev))
    execute(gw, update(audit_chain_head).values(head_hash=prev))
    # then: the signed checkpoint after it no longer matches (the forger has no key)
    problem = verify(gw).problem
    assert problem is not None and (problem.seq, problem.kind) == (after, "checkpoint_invalid")
    assert f"between seq {max(s for s in cps if s < after) + 1} and {after}" in problem.message
