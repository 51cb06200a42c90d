"""The production model on Spark, for the batch that outgrows one machine.

The same Splink settings and trained parameters as the DuckDB path (gateway/linkage/model.py)
score the candidate pairs on a Spark cluster; training can stay on a DuckDB sample (the
parameters do not need every record), and the pairs above the weight floor come back for
the same non-chaining clustering. Install with `pip install -e '.[spark]'` (pyspark and
Splink's Spark extras; Java 17).

Where Spark runs: `GATEWAY_SPARK_MASTER` (default `local[2]`: in process, for tests and
one machine), e.g. `spark://host:7077` for a standalone cluster, `yarn`, or
`k8s://https://api.example:6443` with the usual `spark.kubernetes.*` settings passed as
`GATEWAY_SPARK_CONF="key=value,key=value"`. Splink's similarity UDF jar (Jaro-Winkler,
Damerau-Levenshtein) is added to `spark.jars` here, so executors get it from the driver.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

import numpy as np
import pandas as pd

from gateway.linkage.cluster import DEFAULT_THRESHOLD, TraitScorer, cluster, traits_of
from gateway.linkage.model import COMPARISON_NAMES, TrainedModel, train

PAIR_COLUMNS = ["unique_id_l", "unique_id_r", "match_weight", "match_probability"]


def spark_session(master: str | None = None, app_name: str = "consent-gateway-linkage") -> Any:
    """A SparkSession with Splink's UDFs (`GATEWAY_SPARK_MASTER`, `GATEWAY_SPARK_CONF`)."""
    from pyspark.sql import SparkSession
    from splink.backends.spark import similarity_jar_location

    builder = (SparkSession.builder.master(master or os.environ.get("GATEWAY_SPARK_MASTER") or "local[2]")
               .appName(app_name)
               .config("spark.jars", similarity_jar_location())
               .config("spark.sql.shuffle.partitions", os.environ.get("GATEWAY_SPARK_PARTITIONS", "8"))
               .config("spark.ui.enabled", "false"))
    for item in filter(None, (os.environ.get("GATEWAY_SPARK_CONF") or "").split(",")):
        key, _, value = item.partition("=")
        builder = builder.config(key.strip(), value.strip())
    session = builder.getOrCreate()
    # Splink checkpoints intermediate tables; on a cluster point this at shared storage.
    session.sparkContext.setCheckpointDir(os.environ.get("GATEWAY_SPARK_CHECKPOINT_DIR")
                                          or tempfile.mkdtemp(prefix="linkage-spark-"))
    return session


def predict_spark(frame: pd.DataFrame, model: TrainedModel, spark: Any, *, min_weight: float = -2.0) -> pd.DataFrame:
    """Scored candidate pairs of `frame` computed on Spark (columns as `model.predict`)."""
    from splink import Linker, SparkAPI

    db_api = SparkAPI(spark_session=spark)  # type: ignore[no-untyped-call]
    table = spark.createDataFrame(frame.astype(object).where(frame.notna(), None))
    linker = Linker(db_api.register(table), model.settings)
    result = linker.inference.predict(threshold_match_weight=min_weight)
    pairs: pd.DataFrame = result.as_pandas_dataframe()  # type: ignore[no-untyped-call]
    keep = [c for c in PAIR_COLUMNS + [f"gamma_{c}" for c in COMPARISON_NAMES] if c in pairs.columns]
    return pairs[keep]


def resolve_spark(frame: pd.DataFrame, spark: Any, *, model: TrainedModel | None = None,
                  threshold: float = DEFAULT_THRESHOLD) -> tuple[np.ndarray, TrainedModel]:
    """Train on DuckDB (sampled), score on Spark, cluster as the production path does."""
    trained = model or train(frame)
    pairs = predict_spark(frame, trained, spark)
    labels = cluster(len(frame), pairs, traits_of(frame), TraitScorer(trained.settings), threshold=threshold)
    return labels, trained
