"""The person's export holds their segments, scores and explanations; erasure deletes them."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
from sqlalchemy import func, insert, select

from gateway.rights.erase import erase_customer
from gateway.rights.export import build
from gateway.rights.subjects import find_by_id
from gateway.scoring.model import fit
from gateway.scoring.tables import customer_scores
from gateway.scoring.train import store
from gateway.segmentation.compute import compute
from gateway.segmentation.config import load_config
from gateway.segmentation.tables import customer_attributes
from gateway.store.types import utcnow
from tests.api.support import add_person, unique
from tests.harness import REPO, Gateway
from tests.segmentation.support import purpose, save

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _held(gw: Gateway, cid: int) -> tuple[int, int]:
    with gw.engine.connect() as conn:
        return (
            conn.execute(select(func.count()).select_from(customer_attributes)
                         .where(customer_attributes.c.customer_id == cid)).scalar_one(),
            conn.execute(select(func.count()).select_from(customer_scores)
                         .where(customer_scores.c.customer_id == cid)).scalar_one(),
        )


def test_export_and_erasure_of_derived_data(fresh_gateway: Gateway) -> None:
    gw = fresh_gateway
    # given: a customer with computed attributes, a segment and an explained score
    city = unique("City")
    cid, _ = add_person(gw, city=city)
    gw.consent(cid, "marketing_email")
    compute(gw.engine, load_config(REPO / "policies"), purpose(gw, "profiling"), NOW)
    rng = np.random.default_rng(2)
    trained = store(gw.engine, fit("churn", rng.random((40, 9)), (rng.random(40) > 0.5).astype(np.int64)),
                    {}, NOW, NOW)
    with gw.engine.begin() as conn:
        conn.execute(insert(customer_scores).values(customer_id=cid, model="churn", version=trained.version,
                                                    value=0.4, scored_at=utcnow()))
        name = unique("seg")
        save(gw, conn, name, f'city = "{city}"')
    assert _held(gw, cid) == (1, 1)
    # when: exporting the person's document
    with gw.engine.connect() as conn:
        person = find_by_id(conn, cid)
        assert person is not None
        doc = build(conn, gw.services.vault, gw.services.pseudonyms.for_audit(), gw.services.purposes,
                    person, "export")
    # then: attributes, memberships, the score with reasons in words, the action with reasons
    assert doc["segments"]["attributes"]["purchases"] == 1
    assert doc["segments"]["memberships"] == [{"segment": name, "version": 1, "rule": f'city = "{city}"'}]
    (score,) = doc["scores"]["scores"]
    assert score["model"] == "churn" and len(score["explanation"]) == 3
    assert all("the chance of no purchase in the next 90 days" in f["text"] for f in score["explanation"])
    assert doc["scores"]["next_best_action"]["explanation"][0]["text"]
    # when: erasing them
    with gw.engine.begin() as conn:
        done = erase_customer(conn, gw.services.vault, cid, subject_ref="ref", actor="test",
                              jurisdiction="gdpr")
    # then: nothing derived is left
    assert done.counts["segments"] == 1 and done.counts["scores"] == 1
    assert _held(gw, cid) == (0, 0)
