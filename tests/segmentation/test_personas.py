"""Personas: clusters found with their fit metrics, readable profiles, stable keys on refit."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime

import numpy as np
import pytest
from sqlalchemy import Engine, delete, insert, select

from gateway.profile.tables import customers
from gateway.segmentation.config import load_config
from gateway.segmentation.personas import fit_personas
from gateway.segmentation.tables import customer_attributes, persona_models, personas
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from tests.databases import DatabaseFactory
from tests.harness import REPO

NOW = datetime(2026, 11, 20, tzinfo=UTC)
CONFIG = dataclasses.replace(load_config(REPO / "policies"), persona_k=3, persona_sample=1000,
                             silhouette_sample=500)
# Three kinds of customers: loyal big spenders on mobile, email readers, lapsed one-offs.
KINDS = {
    "loyal": {"r": 5, "f": 5, "m": 5, "opens": 0.1, "clicks": 0.0, "web": 20, "device": "mobile"},
    "readers": {"r": 3, "f": 2, "m": 2, "opens": 0.9, "clicks": 0.6, "web": 2, "device": "desktop"},
    "lapsed": {"r": 1, "f": 1, "m": 1, "opens": 0.0, "clicks": 0.0, "web": 0, "device": "desktop"},
}


def _fill(engine: Engine, seed: int) -> dict[int, str]:
    rng = np.random.default_rng(seed)
    kinds: dict[int, str] = {}
    people, attrs = [], []
    for cid in range(1, 301):
        kind = list(KINDS)[cid % 3]
        k = KINDS[kind]
        kinds[cid] = kind
        people.append({"id": cid, "created_at": NOW, "updated_at": NOW, "jurisdiction": "gdpr",
                       "order_count": 0, "total_spent_cents": 0})
        jitter = rng.normal(0, 0.05)
        attrs.append({"customer_id": cid, "computed_at": NOW, "orders_seen": 0, "interactions_seen": 0,
                      "purchases": 1, "spent_eur_cents": 0, "email_opens": 0, "email_clicks": 0,
                      "email_campaigns": 0, "web_visits": int(k["web"]), "calls": 0,
                      "preferred_device": k["device"], "r_score": k["r"], "f_score": k["f"],
                      "m_score": k["m"], "email_open_rate": max(0.0, float(k["opens"]) + jitter),
                      "email_click_rate": float(k["clicks"]), "milestones": []})
    with engine.begin() as conn:
        conn.execute(delete(customer_attributes))
        if not conn.execute(select(customers.c.id).limit(1)).first():
            conn.execute(insert(customers), people)
        conn.execute(insert(customer_attributes), attrs)
    return kinds


@pytest.fixture
def engine(databases: DatabaseFactory) -> Iterator[Engine]:
    url = databases.new()
    upgrade(url)
    found = make_engine(url)
    yield found
    found.dispose()


def _keys(engine: Engine) -> dict[int, int]:
    a = customer_attributes.c
    with engine.connect() as conn:
        return dict(conn.execute(select(a.customer_id, a.persona_key)).all())


def test_personas_are_found_described_and_stable(engine: Engine) -> None:
    # given: three kinds of customers
    kinds = _fill(engine, 1)
    # when
    first = fit_personas(engine, CONFIG, NOW)
    # then: three personas, well separated, each customer of a kind in one persona
    assert first.version == 1 and first.silhouette is not None and first.silhouette > 0.6
    keys = _keys(engine)
    by_kind = {kind: {keys[c] for c, k in kinds.items() if k == kind} for kind in KINDS}
    assert all(len(v) == 1 for v in by_kind.values()) and len(set.union(*by_kind.values())) == 3
    # and: a readable profile: the loyal ones are named by what sets them apart, with numbers
    loyal = next(p for p in first.personas if p["key"] == next(iter(by_kind["loyal"])))
    assert loyal["size"] == 100 and "mobile" in loyal["description"]
    assert any(w in loyal["name"].lower() for w in ("recent", "frequent", "big spenders", "web", "mobile"))
    # when: refitting on new data of the same kinds (another sample, another order)
    _fill(engine, 2)
    second = fit_personas(engine, CONFIG, NOW)
    # then: version 2, and each kind keeps its persona key
    keys = _keys(engine)
    again = {kind: {keys[c] for c, k in kinds.items() if k == kind} for kind in KINDS}
    assert second.version == 2 and again == by_kind
    with engine.connect() as conn:
        assert conn.execute(select(persona_models.c.version)).scalars().all() == [1, 2]
        assert len(conn.execute(select(personas).where(personas.c.version == 2)).all()) == 3
