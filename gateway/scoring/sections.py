"""What scoring holds about a person, for their export, and its erasure: each score with
its model version and the reasons behind it in plain words (Art. 15(1)(h), Art. 22), and
the next best action the gateway would choose now, with its reasons."""

from __future__ import annotations

import os
from dataclasses import asdict
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Integer, Select, bindparam, delete, select

from gateway.config import Settings
from gateway.consent.purposes import Purpose, Purposes, load_purposes
from gateway.consent.state import subject_allows
from gateway.privacy.vault import Vault
from gateway.profile.tables import customers
from gateway.rights.sections import Section, register
from gateway.scoring.nba import FILE as OFFERS_FILE
from gateway.scoring.nba import Offer, load_offers, next_actions
from gateway.scoring.score import scores_of
from gateway.scoring.tables import customer_scores
from gateway.segmentation.members import profiling_purpose
from gateway.store.types import UTCDateTime, utcnow


@lru_cache(maxsize=4)
def _catalogue_at(policy_dir: Path, _stamps: tuple[int, int]) -> tuple[Purposes, tuple[Offer, ...]]:
    purposes = load_purposes(policy_dir / "purposes.yaml")
    return purposes, load_offers(policy_dir, purposes)


def _catalogue(policy_dir: Path) -> tuple[Purposes, tuple[Offer, ...]]:
    """The purposes and offers of `policy_dir`, parsed once per version of the files (their
    YAML took about 100 ms a read: most of a portal page showing everything held)."""
    stamps = (os.stat(policy_dir / "purposes.yaml").st_mtime_ns,
              os.stat(policy_dir / OFFERS_FILE).st_mtime_ns)
    return _catalogue_at(policy_dir, stamps)


@lru_cache(maxsize=8)
def _profiled_statement(profiling: Purpose) -> Select[Any]:
    """Whether one customer (`cid`) may be profiled at `now`: built once, bound when run."""
    return select(customers.c.id).where(
        customers.c.id == bindparam("cid", type_=Integer()),
        subject_allows(customers.c.id, profiling, bindparam("now", type_=UTCDateTime())))


def export(conn: Connection, _vault: Vault, customer_id: int) -> dict[str, Any]:
    """The person's scores with their explanations, and their next best action now."""
    found = [asdict(s) for s in scores_of(conn, [customer_id]).get(customer_id, [])]
    profiling, now = profiling_purpose(), utcnow()
    allowed = conn.execute(_profiled_statement(profiling), {"cid": customer_id, "now": now}).first()
    action = None
    if allowed is not None:
        purposes, offers = _catalogue(Settings.from_env().policy_dir)
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
