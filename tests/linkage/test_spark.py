"""The production model on Spark (local mode): the same pairs and weights as DuckDB.

Marked `spark` and switched on with GATEWAY_TEST_SPARK=1 where Java and pyspark are installed
(`pip install -e '.[spark]'`): starting Spark and running the model takes about five minutes
on this 2-core machine, so the default suite (and CI) leaves it out.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from gateway.linkage.model import default_model, predict
from gateway.linkage.prepare import frame_of
from gateway.linkage.synth import generate

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    if not os.environ.get("GATEWAY_TEST_SPARK"):
        pytest.skip("Spark starts in minutes on this machine: run with GATEWAY_TEST_SPARK=1")
    if shutil.which("java") is None:
        pytest.skip("Java is not installed")
    pytest.importorskip("pyspark")
    from gateway.linkage.spark import spark_session

    session = spark_session("local[2]")
    yield session
    session.stop()


def test_spark_scores_the_same_pairs_with_the_same_weights_as_duckdb(spark: Any) -> None:
    # given: generated records and the production model
    from gateway.linkage.spark import predict_spark

    frame = frame_of(generate(600, seed=12)[0])
    model = default_model()
    # when
    on_spark = predict_spark(frame, model, spark)
    on_duckdb = predict(frame, model)
    # then
    key = ["unique_id_l", "unique_id_r"]
    left = on_spark.sort_values(key).reset_index(drop=True)
    right = on_duckdb.sort_values(key).reset_index(drop=True)
    assert len(left) == len(right) > 300
    assert left[key].to_numpy().tolist() == right[key].to_numpy().tolist()
    assert left["match_weight"].tolist() == pytest.approx(right["match_weight"].tolist(), abs=1e-3)
