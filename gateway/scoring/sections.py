"""What scoring holds about a person, for their export, and its erasure: each score with
its model version and the reasons behind it in plain words (Art. 15(1)(h), Art. 22), and
the next best action the gateway would choose now, with its reasons."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sqlalchemy import Connection, delete

from gateway.config import Settings
from gateway.consent.purposes import load_purposes
from gateway.consent.state import subject_allows
from gateway.privacy.vault import Vault
from gateway.profile.tables import customers
from gateway.rights.sections import Section, register
from gateway.scoring.nba import load_offers, next_actions
from gateway.scoring.score import scores_of
from gateway.scoring.tables import customer_scores
from gateway.segmentation.members import profiling_purpose
from gateway.store.types import utcnow


def export(conn: Connection, _vault: Vault, customer_id: int) -> dict[str, Any]:
    """The person's scores with their explanations, and their next best action now."""
    found = [asdict(s) for s in scores_of(conn, [customer_id]).get(customer_id, [])]
    profiling, now = profiling_purpose(), utcnow()
    from sqlalchemy import select

    allowed = conn.execute(select(customers.c.id).where(
        customers.c.id == customer_id, subject_allows(customers.c.id, profiling, now))).first()
    action = None
    if allowed is not None:
        policy_dir = Settings.from_env().policy_dir
        purposes = load_purposes(policy_dir / "purposes.yaml")
        offers = load_offers(policy_dir, purposes)
        chosen = next_actions(conn, [customer_id], offers, purposes, profiling, now)
        action = asdict(chosen[customer_id]) if customer_id in chosen else None
    return {"scores": found, "next_best_action": action}


def erase(conn: Connection, _vault: Vault, customer_id: int) -> int:
    """Delete the person's scores."""
    if not conn.dialect.has_table(conn, "customer_scores"):
        return 0  # a database migrated only up to an older revision (migration tests)
    s = customer_scores.c
    return int(conn.execute(delete(customer_scores).where(s.customer_id == customer_id)).rowcount or 0)


register(Section("scores", export, erase,
                 "propensity scores with their model versions and explanations, and the next "
                 "best action with its reasons (gateway/scoring)"))
