from __future__ import annotations

import json

from gateway.linkage.model import TrainedModel, default_model, is_current


def test_the_shipped_default_model_was_trained_on_the_current_comparisons() -> None:
    # given / when / then
    assert is_current(default_model())


def test_a_model_trained_on_older_comparison_levels_is_not_current() -> None:
    # given: the default model with one level's SQL as an older version wrote it
    stale = json.loads(json.dumps(default_model().settings))
    level = stale["comparisons"][0]["comparison_levels"][4]
    level["sql_condition"] = '"fn_l" = "ln_r" OR "ln_l" = "fn_r"'
    # when
    current = is_current(TrainedModel(stale, 10))
    # then
    assert not current
