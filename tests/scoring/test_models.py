"""Propensity models: a planted signal is recovered (and a shuffled label is not), with a
time split, versioned artifacts and explanations that name the planted feature."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Engine, delete, insert, select

from gateway.consent.ledger import append_preference
from gateway.consent.purposes import Purpose, load_purposes
from gateway.profile.tables import customers, interactions, orders
from gateway.scoring.features import raw_features
from gateway.scoring.model import ArtifactError, LinearModel, explain, fit, metrics
from gateway.scoring.score import score_all, scores_of
from gateway.scoring.tables import customer_scores, score_models
from gateway.scoring.train import MODELS, dataset, facts_at, train
from gateway.segmentation.compute import compute
from gateway.segmentation.config import load_config
from gateway.segmentation.tables import customer_attributes
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from tests.databases import DatabaseFactory
from tests.harness import REPO

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
PEOPLE = 700
CONFIG = load_config(REPO / "policies")


def _profiling() -> Purpose:
    found = load_purposes(REPO / "policies" / "purposes.yaml").get("profiling")
    assert found is not None
    return found


def _plant(engine: Engine, seed: int = 5) -> None:
    """Customers whose web visits (all before both cutoffs) drive their purchases after them."""
    rng = random.Random(seed)
    people, bought, seen = [], [], []
    for cid in range(1, PEOPLE + 1):
        created = NOW - timedelta(days=700)
        people.append({"id": cid, "created_at": created, "updated_at": created, "jurisdiction": "gdpr",
                       "order_count": 0, "total_spent_cents": 0})
        visits = rng.randint(0, 12)
        for _ in range(visits):
            seen.append({"customer_id": cid, "kind": "web_visit", "channel": "web", "device": "mobile",
                         "occurred_at": NOW - timedelta(days=rng.uniform(62, 200))})
        for _ in range(rng.randint(1, 2)):  # history that says nothing
            bought.append((cid, NOW - timedelta(days=rng.uniform(250, 600))))
        chance = 1 / (1 + np.exp(3.0 - 0.55 * visits))
        for start in (60, 30):  # the training window and the evaluation window
            if rng.random() < chance:
                bought.append((cid, NOW - timedelta(days=start - rng.uniform(0.5, 29))))
    with engine.begin() as conn:
        conn.execute(insert(customers), people)
        conn.execute(insert(interactions), seen)
        conn.execute(insert(orders), [
            {"customer_id": cid, "number": f"P-{n}", "ordered_at": at, "status": "delivered",
             "channel": "web", "item_count": 1, "total_cents": 3000, "currency": "EUR"}
            for n, (cid, at) in enumerate(bought)])


def _shuffled_controls(name: str, x_train: Any, y_train: Any, x_test: Any, y_test: Any,
                       runs: int = 20) -> list[float]:
    """AUCs of models fitted on shuffled labels, scored against shuffled labels: the null
    (labels independent of the features). Scored against the true labels instead, a model
    fitted on noise ranks by a random direction of strong features, and its AUC lands
    anywhere between 0.2 and 0.85 (measured): no control at all."""
    out = []
    for seed in range(runs):
        rng = np.random.default_rng(seed)
        out.append(float(metrics(fit(name, x_train, rng.permutation(y_train)), x_test,
                                 rng.permutation(y_test))["auc"]))
    return out


@pytest.fixture
def planted(databases: DatabaseFactory) -> Iterator[Engine]:
    url = databases.new()
    upgrade(url)
    engine = make_engine(url)
    _plant(engine)
    yield engine
    engine.dispose()


def test_a_planted_signal_is_recovered_and_a_shuffled_label_is_not(planted: Engine) -> None:
    # given: the purchase model's training (now - 60 days) and evaluation (now - 30) sets
    spec = MODELS["purchase_30d"]
    with planted.connect() as conn:
        x_train, y_train = dataset(conn, CONFIG, spec, _profiling(), NOW, NOW - timedelta(days=60))
        x_test, y_test = dataset(conn, CONFIG, spec, _profiling(), NOW, NOW - timedelta(days=30))
    assert 0.15 < y_train.mean() < 0.85 and x_train.shape == (PEOPLE, 9)
    # when: fitting on the true labels and on shuffled ones (the control)
    real = metrics(fit("purchase_30d", x_train, y_train), x_test, y_test)
    controls = _shuffled_controls("purchase_30d", x_train, y_train, x_test, y_test)
    # then: the signal is found out of time, the shuffled labels find nothing
    assert real["auc"] > 0.75, real
    assert abs(float(np.mean(controls)) - 0.5) < 0.05, controls
    assert real["auc"] - max(controls) > 0.2, (real["auc"], controls)
    assert real["lift_top_decile"] > 1.5 and real["brier"] < 0.25
    assert len(real["calibration"]) >= 5


def test_train_score_and_explain(planted: Engine) -> None:
    # given: computed facts, then a trained model
    compute(planted, CONFIG, _profiling(), NOW)
    trained = train(planted, CONFIG, "purchase_30d", _profiling(), NOW)
    # then: version 1, stored with its hash, active
    assert trained.version == 1 and trained.metrics["auc"] > 0.75
    with planted.connect() as conn:
        row = conn.execute(select(score_models)).one()
    assert row.active and row.artifact_sha256 == trained.sha256
    assert row.cutoff == NOW - timedelta(days=60)
    # when: scoring everyone and reading one frequent visitor's score
    report = score_all(planted, _profiling(), NOW)
    assert report.scored == PEOPLE and report.models == ("purchase_30d",)
    with planted.connect() as conn:
        visits = _visits(conn)
        frequent = max(visits, key=lambda c: visits[c])
        found = scores_of(conn, [frequent])[frequent]
    # then: the explanation names the planted feature first, in plain words
    (score,) = found
    assert score.model == "purchase_30d" and score.version == 1 and score.value > 0.5
    assert score.explanation[0].feature == "web_visits"
    assert score.explanation[0].text.startswith("Visits to our website: 12")
    assert "raises the chance of a purchase in the next 30 days" in score.explanation[0].text
    # and: a retrained model is version 2, and only it is active
    again = train(planted, CONFIG, "purchase_30d", _profiling(), NOW)
    with planted.connect() as conn:
        active = conn.execute(select(score_models.c.version).where(score_models.c.active.is_(True))).all()
    assert again.version == 2 and active == [(2,)]


def _visits(conn: Any) -> dict[int, int]:
    from sqlalchemy import func

    return dict(conn.execute(select(interactions.c.customer_id, func.count())
                             .group_by(interactions.c.customer_id)).all())


def test_an_artifact_that_does_not_match_its_hash_is_refused() -> None:
    # given: a model's artifact
    rng = np.random.default_rng(1)
    model = fit("churn", rng.random((50, 9)), (rng.random(50) > 0.5).astype(np.int64))
    data = model.to_bytes()
    import hashlib

    digest = hashlib.sha256(data).hexdigest()
    assert LinearModel.from_bytes(data, digest) == model  # the control
    # when / then: one byte changed
    with pytest.raises(ArtifactError):
        LinearModel.from_bytes(data.replace(b'"churn"', b'"chur_"'), digest)


def test_scores_run_removes_the_scores_of_whom_may_no_longer_be_profiled(planted: Engine) -> None:
    # given: every customer scored by a trained model
    compute(planted, CONFIG, _profiling(), NOW)
    train(planted, CONFIG, "purchase_30d", _profiling(), NOW)
    assert score_all(planted, _profiling(), NOW).scored == PEOPLE
    objector, without_facts, control = 1, 2, 3
    # when: one objects to profiling, another's facts are gone, and the scores run again
    later = NOW + timedelta(hours=1)
    with planted.begin() as conn:
        append_preference(conn, customer_id=objector, kind="objection", key="profiling", value="on",
                          source_channel="api")
        conn.execute(delete(customer_attributes).where(customer_attributes.c.customer_id == without_facts))
    report = score_all(planted, _profiling(), later)
    # then: the objector's score is gone from storage, and so is the one without facts
    with planted.connect() as conn:
        stored = dict(conn.execute(select(customer_scores.c.customer_id, customer_scores.c.scored_at)).all())
    assert report.removed == 1 and report.scored == PEOPLE - 2
    assert objector not in stored and without_facts not in stored
    # and: everyone else holds one score of this run (the control)
    assert len(stored) == PEOPLE - 2 and stored[control] == later


def _plant_churn(engine: Engine, seed: int = 11) -> dict[int, int]:
    """Buyers whose clicks in emails (all before both cutoffs) keep them buying; their clicks."""
    rng = random.Random(seed)
    people, bought, clicked, clicks = [], [], [], {}
    for cid in range(1, PEOPLE + 1):
        created = NOW - timedelta(days=800)
        people.append({"id": cid, "created_at": created, "updated_at": created, "jurisdiction": "gdpr",
                       "order_count": 0, "total_spent_cents": 0})
        clicks[cid] = rng.randint(0, 12)
        for _ in range(clicks[cid]):
            clicked.append({"customer_id": cid, "kind": "email_click", "channel": "email",
                            "device": "mobile", "campaign": "news",
                            "occurred_at": NOW - timedelta(days=rng.uniform(200, 400))})
        for _ in range(rng.randint(1, 2)):  # every one a buyer before both cutoffs
            bought.append((cid, NOW - timedelta(days=rng.uniform(420, 700))))
        chance = 1 / (1 + np.exp(2.5 - 0.5 * clicks[cid]))
        for start in (180, 90):  # the training window and the evaluation window (90 days each)
            if rng.random() < chance:
                bought.append((cid, NOW - timedelta(days=start - rng.uniform(0.5, 89))))
    with engine.begin() as conn:
        conn.execute(insert(customers), people)
        conn.execute(insert(interactions), clicked)
        conn.execute(insert(orders), [
            {"customer_id": cid, "number": f"C-{n}", "ordered_at": at, "status": "delivered",
             "channel": "web", "item_count": 1, "total_cents": 3000, "currency": "EUR"}
            for n, (cid, at) in enumerate(bought)])
    return clicks


def test_a_planted_churn_signal_is_recovered_and_explained(databases: DatabaseFactory) -> None:
    # given: buyers who churn unless they click in emails, the churn model's training
    # (now - 180 days) and evaluation (now - 90) sets
    url = databases.new()
    upgrade(url)
    engine = make_engine(url)
    try:
        clicks = _plant_churn(engine)
        spec = MODELS["churn"]
        with engine.connect() as conn:
            x_train, y_train = dataset(conn, CONFIG, spec, _profiling(), NOW, NOW - timedelta(days=180))
            x_test, y_test = dataset(conn, CONFIG, spec, _profiling(), NOW, NOW - timedelta(days=90))
            ids = list(range(1, PEOPLE + 1))
            at_now = raw_features(facts_at(conn, CONFIG, ids, NOW), NOW.timestamp())
    finally:
        engine.dispose()
    assert 0.15 < y_train.mean() < 0.85 and x_train.shape == (PEOPLE, 9)
    # when: fitting on the true labels and on shuffled ones (the control)
    model = fit("churn", x_train, y_train)
    real = metrics(model, x_test, y_test)
    controls = _shuffled_controls("churn", x_train, y_train, x_test, y_test)
    # then: the signal is found out of time, clearly above every shuffled-label control
    assert real["auc"] > 0.8, real
    assert abs(float(np.mean(controls)) - 0.5) < 0.05, controls
    assert real["auc"] - max(controls) > 0.2, (real["auc"], controls)
    assert real["lift_top_decile"] > 1.2
    # and: for the most and the least clicking customer, the clicks come first, each way
    most, least = max(ids, key=lambda c: clicks[c]), min(ids, key=lambda c: clicks[c])
    what = spec.description
    top = explain(model, at_now[most - 1], what)[0]
    assert (top.feature, top.text.endswith(f"This lowers {what}.")) == ("email_clicks", True), top
    bottom = explain(model, at_now[least - 1], what)[0]
    assert (bottom.feature, bottom.text.endswith(f"This raises {what}.")) == ("email_clicks", True), bottom
