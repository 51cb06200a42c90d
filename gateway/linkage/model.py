"""The probabilistic model: Splink on DuckDB, in process, trained by EM on the data itself.

`train` estimates the prior, the u probabilities (random pairs) and the m probabilities
(EM, several passes on different blocks) and returns the model as JSON (parameters only: no
term-frequency tables, which would hold names). `predict` scores the candidate pairs of a
frame under a model and returns them with their match weight and the comparison levels
that drove it. The frame lives in an in-memory DuckDB for the run only.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

from gateway.linkage.comparisons import blocking_rules, comparisons, training_rules

COMPARISON_NAMES = ("first_name", "last_name", "birth_date", "email", "phone", "address",
                    "unit", "postcode", "city", "region", "loyalty_card", "sex")
# EM on more records than this samples them: the parameters do not need a million. u is
# estimated on U_PAIRS random pairs: 2,000,000 took 26 s of a 100,000-record run for the
# same pairwise F1 as 500,000 (bench/README.md).
TRAIN_RECORDS = 150_000
U_PAIRS = 500_000
EM_PAIRS = 1_500_000
SEED = 42
MIN_TRAIN_RECORDS = 1000
DEFAULT_MODEL = Path(__file__).with_name("default_model.json")
MIN_EM_PAIRS = 200
MODEL_FORMAT = 1


def _quiet() -> None:
    for name in ("splink", "splink.internals"):
        logging.getLogger(name).setLevel(logging.ERROR)


def settings(probability: float = 1e-4) -> SettingsCreator:
    """The Splink settings of the production model (untrained)."""
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=comparisons(),
        blocking_rules_to_generate_predictions=blocking_rules(),
        probability_two_random_records_match=probability,
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
        additional_columns_to_retain=[],
        max_iterations=20,
    )


def _linker(frame: pd.DataFrame, model: SettingsCreator | dict[str, Any], threads: int | None = None) -> Linker:
    _quiet()
    con = duckdb.connect()
    if threads:
        con.execute(f"SET threads TO {int(threads)}")
    db_api = DuckDBAPI(connection=con)
    return Linker(db_api.register(frame), model)


@dataclass(frozen=True)
class TrainedModel:
    """A trained model: Splink's JSON of the parameters, and how it was trained."""

    settings: dict[str, Any]
    records: int

    def to_json(self) -> str:
        return json.dumps({"format": MODEL_FORMAT, "records": self.records, "settings": self.settings},
                          sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> TrainedModel:
        data = json.loads(text)
        return cls(settings=data["settings"], records=int(data["records"]))


def prior(frame: pd.DataFrame, recall: float = 0.6) -> float:
    """How likely two random records are one person: the pairs that agree on first name,
    last name and birth date (or email), divided by the recall such a rule has.

    Computed here rather than by Splink's estimator, which gave 0.998 on FEBRL4 when the
    email column is empty.
    """
    n = len(frame)
    total = n * (n - 1) / 2
    if total <= 0:
        return 1e-4
    found = 0.0
    for keys in (["fn", "ln", "dob"], ["fn", "ln", "email"], ["ln", "dob", "postcode"]):
        sizes = frame.dropna(subset=keys).groupby(keys).size()
        found = max(found, float((sizes * (sizes - 1) / 2).sum()))
    return min(0.5, max(1.0 / total, found / recall / total))


def _conditions(model_settings: dict[str, Any]) -> list[list[str]]:
    return [[str(level.get("sql_condition")) for level in c.get("comparison_levels", [])]
            for c in model_settings.get("comparisons", [])]


def is_current(model: TrainedModel) -> bool:
    """Whether a stored model was trained on the comparisons of this code: one trained on
    older comparison levels would score with its own SQL in Splink while the online scorer
    mirrors the new levels, so it is replaced by a new version rather than used."""
    return _conditions(model.settings) == _conditions(settings().create_settings_dict(sql_dialect_str="duckdb"))


def default_model() -> TrainedModel:
    """The parameters trained on 30,000 generated records (`python -m gateway.linkage.model`),
    for data sets too small to train on."""
    return TrainedModel.from_json(DEFAULT_MODEL.read_text(encoding="utf-8"))


def materialise(linker: Linker, model: dict[str, Any]) -> dict[str, Any]:
    """Every level's m and u as Splink uses them (it fills levels training did not reach
    with its defaults; stored that way, the online scorer uses the same numbers)."""
    used = {c.output_column_name: c for c in linker._settings_obj.comparisons}
    for comparison in model.get("comparisons", []):
        found = used.get(comparison["output_column_name"])
        if found is None:
            continue
        for level, live in zip(comparison["comparison_levels"], found.comparison_levels, strict=True):
            if live.is_null_level:
                continue
            level["m_probability"] = float(live.m_probability or 0.0)
            level["u_probability"] = float(live.u_probability or 0.0)
    return model


def _fill_untrained(model: dict[str, Any], fallback: dict[str, Any]) -> None:
    """Levels EM could not estimate (no pair reached them) take the default's values."""
    defaults = {c["output_column_name"]: c for c in fallback.get("comparisons", [])}
    for comparison in model.get("comparisons", []):
        other = defaults.get(comparison["output_column_name"])
        if other is None:
            continue
        for level, default in zip(comparison["comparison_levels"], other["comparison_levels"], strict=False):
            for key in ("m_probability", "u_probability"):
                if level.get("is_null_level"):
                    continue
                if not level.get(key) and default.get(key):
                    level[key] = default[key]


def train(frame: pd.DataFrame, *, seed: int = SEED) -> TrainedModel:
    """Estimate the model's parameters on `frame` (sampled above `TRAIN_RECORDS` rows).

    Below `MIN_TRAIN_RECORDS` records the default model is used with this frame's prior.
    """
    if len(frame) < MIN_TRAIN_RECORDS and DEFAULT_MODEL.exists():
        fallback = default_model()
        fallback.settings["probability_two_random_records_match"] = prior(frame)
        return TrainedModel(settings=fallback.settings, records=len(frame))
    sample = frame if len(frame) <= TRAIN_RECORDS else frame.sample(TRAIN_RECORDS, random_state=seed)
    linker = _linker(sample, settings(prior(sample)))
    training = linker.training
    training.estimate_u_using_random_sampling(max_pairs=U_PAIRS, seed=seed)
    for columns in training_rules():
        # A pass over too few pairs would fail (or learn noise): skip it; the next one may do.
        sizes = sample.dropna(subset=list(columns)).groupby(list(columns)).size()
        if float((sizes * (sizes - 1) / 2).sum()) < MIN_EM_PAIRS:
            continue
        training.estimate_parameters_using_expectation_maximisation(
            block_on(*columns), estimate_without_term_frequencies=True, max_pairs=EM_PAIRS)
    model = linker.misc.save_model_to_json()
    if DEFAULT_MODEL.exists():
        _fill_untrained(model, default_model().settings)
    model = materialise(_linker(sample.head(2), model), model)
    # The prior was estimated on the sample: scale it to the whole frame's pairs.
    if len(sample) != len(frame) and len(sample) > 1:
        ratio = (len(sample) - 1) / (len(frame) - 1)
        model["probability_two_random_records_match"] *= ratio
    return TrainedModel(settings=model, records=len(frame))


def without_term_frequencies(settings: dict[str, Any]) -> dict[str, Any]:
    """The model without term-frequency adjustments: a handful of records (an online match,
    a small batch against a few candidates) says nothing about how common a name is."""
    copy = json.loads(json.dumps(settings))
    for comparison in copy.get("comparisons", []):
        for level in comparison.get("comparison_levels", []):
            level.pop("tf_adjustment_column", None)
            level.pop("tf_adjustment_weight", None)
    return dict(copy)


def predict(frame: pd.DataFrame, model: TrainedModel, *, min_weight: float = -2.0,
            threads: int | None = None) -> pd.DataFrame:
    """Scored candidate pairs: `unique_id_l`, `unique_id_r`, `match_weight`,
    `match_probability` and one `gamma_<comparison>` level per comparison."""
    settings = model.settings
    if len(frame) < MIN_TRAIN_RECORDS:
        settings = without_term_frequencies(settings)
    linker = _linker(frame, settings, threads)
    result = linker.inference.predict(threshold_match_weight=min_weight)
    columns = ["unique_id_l", "unique_id_r", "match_weight", "match_probability",
               *(f"gamma_{c}" for c in COMPARISON_NAMES)]
    table: pd.DataFrame = result.as_pandas_dataframe()  # type: ignore[no-untyped-call]
    return table[[c for c in columns if c in table.columns]]


if __name__ == "__main__":  # regenerate default_model.json
    from gateway.linkage.prepare import frame_of as frame_of_records
    from gateway.linkage.synth import generate

    records = generate(30_000, 1234)[0]
    DEFAULT_MODEL.write_text(train(frame_of_records(records)).to_json(), encoding="utf-8")
