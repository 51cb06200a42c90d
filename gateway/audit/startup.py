"""Policy and key changes: what a starting gateway loads, compared with what the log last saw.

A gateway process records `policy.change` when the policy files it loaded (the casbin model,
the policy table, the purposes and notices) hash differently from the last recorded state,
and `key.change` when its signing key (the `kid` checkpoints and receipts carry) differs.
The first start records both. Several workers starting at once take the head lock before
comparing, so one change is recorded once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, Text, cast, select, update

from gateway.audit.service import record_event
from gateway.audit.tables import audit_chain_head, audit_events
from gateway.audit.writer import SignerLike
from gateway.config import Settings
from gateway.privacy.pseudonyms import Pseudonymizer

POLICY_FILES = ("model.conf", "policy.csv", "purposes.yaml")


@dataclass(frozen=True)
class StartupRecord:
    """The seqs of what was recorded (None: unchanged since the last record)."""

    policy_seq: int | None
    key_seq: int | None


def policy_state(policy_dir: Path) -> dict[str, Any]:
    """SHA-256 of each policy file and one digest over all of them."""
    files = {name: hashlib.sha256((policy_dir / name).read_bytes()).hexdigest()
             for name in POLICY_FILES if (policy_dir / name).exists()}
    digest = hashlib.sha256("".join(f"{n}:{h}\n" for n, h in sorted(files.items())).encode()).hexdigest()
    return {"digest": digest, "files": files}


def _last(conn: Connection, action: str, key: str) -> str | None:
    detail = conn.execute(
        select(cast(audit_events.c.detail, Text)).where(audit_events.c.action == action)
        .order_by(audit_events.c.seq.desc()).limit(1)
    ).scalar()
    if detail is None:
        return None
    value = orjson.loads(detail).get(key)
    return None if value is None else str(value)


def record_startup(
    engine: Engine, settings: Settings, signer: SignerLike, audit: Pseudonymizer,
) -> StartupRecord:
    """Record the loaded policy and signing key if they changed since the last record."""
    state = policy_state(settings.policy_dir)
    with engine.begin() as conn:
        # Take the head lock first: concurrent workers compare one after the other.
        conn.execute(update(audit_chain_head).where(audit_chain_head.c.id == 1)
                     .values(seq=audit_chain_head.c.seq))
        policy_seq = key_seq = None
        previous = _last(conn, "policy.change", "digest")
        if previous != state["digest"]:
            policy_seq = record_event(conn, "policy.change", audit=audit, signer=signer,
                                      settings=settings, operation="startup",
                                      detail={**state, "previous": previous})
        previous_kid = _last(conn, "key.change", "kid")
        if previous_kid != signer.kid:
            key_seq = record_event(conn, "key.change", audit=audit, signer=signer,
                                   settings=settings, operation="startup",
                                   detail={"kid": signer.kid, "previous": previous_kid})
    return StartupRecord(policy_seq, key_seq)
