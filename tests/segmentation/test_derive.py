"""RFM, life-cycle stage, email rates and milestones on hand-computed fixtures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gateway.segmentation.config import ConfigError, SegmentationConfig, load_config, parse_config
from gateway.segmentation.derive import DAY, Facts, derive, quintile_cuts

REPO = Path(__file__).resolve().parents[2]
NOW = 2_000_000_000.0
NAN = float("nan")


@pytest.fixture(scope="module")
def config() -> SegmentationConfig:
    return load_config(REPO / "policies")


def facts(purchases: list[int], spent: list[float], first: list[float], last: list[float],
          prev: list[float], created: list[float] | None = None, opens: list[int] | None = None,
          clicks: list[int] | None = None, campaigns: list[int] | None = None,
          sent: list[int] | None = None) -> Facts:
    n = len(purchases)

    def days_ago(values: list[float]) -> np.ndarray:  # type: ignore[type-arg]
        return np.array([NOW - d * DAY if not np.isnan(d) else NAN for d in values])

    return Facts(
        purchases=np.array(purchases), spent_eur=np.array(spent, dtype=float),
        first_at=days_ago(first), last_at=days_ago(last), prev_at=days_ago(prev),
        created_at=days_ago(created or [1000.0] * n),
        email_opens=np.array(opens or [0] * n), email_clicks=np.array(clicks or [0] * n),
        email_campaigns=np.array(campaigns or [0] * n), campaigns_sent=np.array(sent or [0] * n),
    )


def test_rfm_quintiles_and_cells(config: SegmentationConfig) -> None:
    # given: five buyers (days since last purchase 10..400, 1..8 purchases, 20..1000 EUR)
    # and a prospect. By hand: the recency cuts are 34, 76, 140, 240 days (linear
    # interpolation over 10, 40, 100, 200, 400), the frequency cuts 1.8, 2.6, 3.8, 5.6.
    f = facts([1, 2, 3, 5, 8, 0], [20, 50, 100, 300, 1000, 0], [10, 400, 500, 600, 700, NAN],
              [10, 40, 100, 200, 400, NAN], [NAN, 300, 150, 250, 450, NAN])
    assert quintile_cuts(np.array([10.0, 40, 100, 200, 400])).tolist() == pytest.approx([34, 76, 140, 240])
    # when
    out = derive(f, NOW, config)
    # then: R falls with the days, F and M rise with purchases and money
    assert out.recency_days.tolist() == [10, 40, 100, 200, 400, -1]
    assert out.r.tolist() == [5, 4, 3, 2, 1, 0]
    assert out.f.tolist() == [1, 2, 3, 4, 5, 0]
    assert out.m.tolist() == [1, 2, 3, 4, 5, 0]
    # and: the cells of the configured table, first match (fm = mean of F and M)
    assert out.cell.tolist() == ["new_customer", "potential_loyalist", "loyal", "cannot_lose",
                                 "cannot_lose", None]


def test_ties_share_a_score(config: SegmentationConfig) -> None:
    # given: six buyers, four with one purchase
    f = facts([1, 1, 1, 1, 2, 6], [10] * 6, [5] * 6, [5] * 6, [NAN] * 6)
    # then: the same number of purchases, the same score
    assert derive(f, NOW, config).f.tolist() == [1, 1, 1, 1, 4, 5]


def test_lifecycle_stages(config: SegmentationConfig) -> None:
    # given (new 90 days, active 90, lapsed 180): first / last / previous purchase, days ago
    f = facts(
        purchases=[1, 3, 2, 2, 2, 0, 3],
        spent=[10] * 7,
        first=[10, 400, 500, 600, 700, NAN, 700],
        last=[10, 40, 100, 200, 400, NAN, 30],
        prev=[NAN, 300, 150, 250, 450, NAN, 60],
    )
    # when
    stages = derive(f, NOW, config).lifecycle.tolist()
    # then: new (first 10 days ago), won back (40 days ago after a 260-day gap), at risk
    # (100 days), lapsed (200, 400), prospect (none), active (30 days, 30-day gap)
    assert stages == ["new", "won_back", "at_risk", "lapsed", "lapsed", "prospect", "active"]


def test_boundaries_are_inclusive(config: SegmentationConfig) -> None:
    # given: last purchase exactly 90 and 180 days ago, first exactly 90 days ago
    f = facts([2, 2, 1], [10] * 3, [400, 400, 90], [90, 180, 90], [100, 300, NAN])
    # then
    assert derive(f, NOW, config).lifecycle.tolist() == ["active", "at_risk", "new"]


def test_email_rates_and_milestones(config: SegmentationConfig) -> None:
    # given: opened 4 of 10 campaigns with 8 opens and 2 clicks; one never emailed
    f = facts([5, 0], [600, 0], [300, NAN], [20, NAN], [40, NAN], created=[400, 100],
              opens=[8, 0], clicks=[2, 0], campaigns=[4, 0], sent=[10, 0])
    # when
    out = derive(f, NOW, config)
    # then
    assert out.open_rate[0] == pytest.approx(0.4) and np.isnan(out.open_rate[1])
    assert out.click_rate[0] == pytest.approx(0.25) and np.isnan(out.click_rate[1])
    assert out.milestones == [["first_purchase", "purchases_5", "spent_500_eur", "member_1_year"], []]


def test_config_problems_are_listed_with_their_place() -> None:
    # when: a config with three problems
    with pytest.raises(ConfigError) as raised:
        parse_config({"currency_per_eur": {"EUR": 0}, "lifecycle": {"new_days": "x"},
                      "rfm_cells": [{"name": "bogus"}]})
    # then: each at its place
    text = "; ".join(raised.value.problems)
    assert "currency_per_eur" in text and "lifecycle.new_days" in text and "rfm_cells[0].name" in text
