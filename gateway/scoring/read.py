"""The read path's loaders of scoring's Customer fields: scores (with their explanations)
and nextBestAction (decided now, from the customer's current choices)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from gateway.config import Settings
from gateway.consent.purposes import Purposes
from gateway.profile.nested import register
from gateway.profile.reader import Reader
from gateway.scoring.nba import Offer, load_offers, next_actions
from gateway.scoring.score import scores_of


def scores(conn: Connection, ids: list[int], reader: Reader) -> dict[int, list[dict[str, Any]]]:
    """Each customer's scores, each with the factors that drove it."""
    return {cid: [asdict(s) for s in found] for cid, found in scores_of(conn, ids).items()}


_OFFERS: dict[tuple[Path, int], tuple[Purposes, tuple[Offer, ...]]] = {}


def offers_for(purposes: Purposes) -> tuple[Offer, ...]:
    """The catalogue of the configured policy directory (GATEWAY_POLICY_DIR), loaded once
    per set of purposes (it refers to them)."""
    key = (Settings.from_env().policy_dir, id(purposes))
    found = _OFFERS.get(key)
    if found is None or found[0] is not purposes:
        if len(_OFFERS) > 16:
            _OFFERS.clear()
        found = _OFFERS[key] = (purposes, load_offers(key[0], purposes))
    return found[1]


def next_best_action(conn: Connection, ids: list[int], reader: Reader) -> dict[int, list[dict[str, Any]]]:
    """The next best action of each customer (a one-item list), decided now."""
    profiling = reader.purposes.get("profiling")
    if profiling is None:
        return {}
    found = next_actions(conn, ids, offers_for(reader.purposes), reader.purposes, profiling, reader.now)
    return {cid: [asdict(action)] for cid, action in found.items()}


register("scores", scores)
register("nextBestAction", next_best_action)
