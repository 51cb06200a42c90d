"""Online matching: the Python scorer gives Splink's weights; one record finds its person."""

from __future__ import annotations

import pytest

from gateway.linkage.ingest import Ingestion, ingest, latest_model
from gateway.linkage.mapping import identity_mapping
from gateway.linkage.model import TrainedModel, default_model, predict, without_term_frequencies
from gateway.linkage.online import PairScorer, match_one
from gateway.linkage.prepare import frame_of
from gateway.linkage.survivorship import Survivorship
from gateway.linkage.synth import generate
from tests.harness import Gateway


def test_the_python_scorer_gives_splinks_weights_on_every_pair() -> None:
    # given: generated records scored by Splink (DuckDB) under the default model
    records, _, _ = generate(800, seed=31)
    frame = frame_of(records)
    model = default_model()
    pairs = predict(frame, TrainedModel(without_term_frequencies(model.settings), model.records),
                    min_weight=-40)
    rows = frame.to_dict("records")
    scorer = PairScorer(model)
    # when
    ours = [scorer.weight(rows[a], rows[b])[0] for a, b in zip(pairs["unique_id_l"], pairs["unique_id_r"],
                                                               strict=True)]
    # then
    assert len(ours) > 500
    assert ours == pytest.approx(pairs["match_weight"].tolist(), abs=1e-6)


def test_one_record_is_matched_online_to_its_person_and_a_stranger_is_not(fresh_gateway: Gateway) -> None:
    # given: stored persons
    gw = fresh_gateway
    rows = [{"record_id": "c-1", "first_name": "Petra", "last_name": "Novak", "birth_date": "1975-06-30",
             "email": "petra.novak@example.cz", "postcode": "11000"},
            {"record_id": "c-2", "first_name": "Jan", "last_name": "Novak", "birth_date": "1972-01-15",
             "email": "petra.novak@example.cz", "postcode": "11000"}]
    with gw.engine.begin() as conn:
        report = ingest(conn, Ingestion(gw.services.vault, Survivorship()), "crm", rows,
                        identity_mapping(sorted(rows[0]), "crm"))
    # when
    with gw.engine.connect() as conn:
        found = latest_model(conn)
        assert found is not None
        model = found[1]
        petra = match_one(conn, gw.services.vault, model, {"first_name": "Petra", "last_name": "Nowak",
                                                          "birth_date": "30.06.1975", "postcode": "11000"})
        husband_like = match_one(conn, gw.services.vault, model, {"first_name": "Jan", "last_name": "Novak",
                                                                  "email": "petra.novak@example.cz"})
        stranger = match_one(conn, gw.services.vault, model, {"first_name": "Olaf", "last_name": "Berg",
                                                              "email": "olaf@example.no"})
    # then: Petra found through name and birth date; the shared email does not make Jan Petra
    assert petra.customer_id == report.customer_of["c-1"] and petra.levels["birth_date"] == 1
    assert husband_like.customer_id == report.customer_of["c-2"]
    assert stranger.customer_id is None and stranger.candidates == 0
