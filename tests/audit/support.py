"""Helpers of the audit tests: append entries fast, and tamper with the stored log."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import delete, insert, select, update

from gateway.audit.service import AuditEntry, write_entry
from gateway.audit.tables import audit_chain_head, audit_checkpoints, audit_events
from gateway.audit.verify import VerifyResult, verify_chain
from tests.harness import Gateway

SHIFT = 10_000_000  # larger than any seq a test makes: renumbering never collides


def append_entries(gw: Gateway, n: int, *, every: int = 5, subjects: list[int] | None = None) -> list[int]:
    """Append `n` entries through `write_entry` (one transaction each); their seqs."""
    settings = replace(gw.services.settings, audit_checkpoint_every=every,
                       audit_checkpoint_seconds=3600)
    seqs = []
    for i in range(n):
        entry = AuditEntry(actor_type="app", actor="test-app", action="read", role="support",
                           purpose="support", operation=f"op{i}",
                           subjects=[(c, "ALLOWED") for c in subjects or []],
                           fields={"city": "ALLOWED"})
        with gw.engine.begin() as conn:
            seqs.append(write_entry(conn, entry, gw.services.pseudonyms.for_audit(),
                                    gw.services.signer, settings))
    return seqs


def verify(gw: Gateway, *, full: bool = True) -> VerifyResult:
    """Verify the gateway's log with its own public key."""
    return verify_chain(gw.engine, gw.services.signer.jwks(), full=full)


def spot(result: VerifyResult) -> tuple[int, str] | None:
    """(seq, kind) of the problem found, or None."""
    return None if result.problem is None else (result.problem.seq, result.problem.kind)


def row(gw: Gateway, seq: int) -> dict[str, Any]:
    """The stored entry at `seq`, as a dict without its id."""
    with gw.engine.connect() as conn:
        found = conn.execute(select(audit_events).where(audit_events.c.seq == seq)).one()
    values = dict(found._mapping)
    values.pop("id")
    return values


def execute(gw: Gateway, *statements: Any) -> None:
    """Run tampering statements in one transaction."""
    with gw.engine.begin() as conn:
        for statement in statements:
            conn.execute(statement)


def modify(gw: Gateway, seq: int) -> None:
    execute(gw, update(audit_events).where(audit_events.c.seq == seq).values(actor="someone-else"))


def remove(gw: Gateway, seq: int) -> None:
    execute(gw, delete(audit_events).where(audit_events.c.seq == seq))


def renumber(gw: Gateway, from_seq: int, by: int) -> None:
    """Move every entry from `from_seq` on by `by` places (in two steps: seq is unique)."""
    e = audit_events.c
    execute(
        gw,
        update(audit_events).where(e.seq >= from_seq).values(seq=e.seq + SHIFT),
        update(audit_events).where(e.seq >= SHIFT).values(seq=e.seq - SHIFT + by),
    )


def swap(gw: Gateway, seq: int) -> None:
    """Swap the entries at `seq` and `seq + 1`."""
    e = audit_events.c
    execute(
        gw,
        update(audit_events).where(e.seq == seq).values(seq=-1),
        update(audit_events).where(e.seq == seq + 1).values(seq=seq),
        update(audit_events).where(e.seq == -1).values(seq=seq + 1),
    )


def insert_forged(gw: Gateway, seq: int, **values: Any) -> None:
    """Insert a copy of the entry at `seq - 1` (altered by `values`) at `seq`."""
    forged = {**row(gw, seq - 1), "seq": seq, "actor": "forger", **values}
    execute(gw, insert(audit_events).values(**forged))


def truncate(gw: Gateway, after: int) -> None:
    execute(gw, delete(audit_events).where(audit_events.c.seq > after))


def alter_checkpoint(gw: Gateway, seq: int, **values: Any) -> None:
    execute(gw, update(audit_checkpoints).where(audit_checkpoints.c.seq == seq).values(**values))


def head(gw: Gateway) -> Any:
    with gw.engine.connect() as conn:
        return conn.execute(select(audit_chain_head)).one()


def checkpoint_seqs(gw: Gateway) -> list[int]:
    """The seqs of the stored checkpoints, in order."""
    with gw.engine.connect() as conn:
        return [int(s) for s in conn.execute(
            select(audit_checkpoints.c.seq).order_by(audit_checkpoints.c.seq)).scalars()]
