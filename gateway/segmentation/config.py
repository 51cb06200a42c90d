"""The thresholds of segmentation, from `segmentation.yaml` in the policy directory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gateway.segmentation.vocabulary import LIFECYCLE_STAGES, RFM_CELLS

FILE = "segmentation.yaml"
MILESTONE_KEYS = ("purchases", "spent_eur", "tenure_days")


class ConfigError(ValueError):
    """`segmentation.yaml` is invalid; `problems` lists each issue with its place."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Cell:
    """A named RFM cell: inclusive bounds on r, fm and (optionally) the number of purchases."""

    name: str
    r: tuple[int, int]
    fm: tuple[int, int]
    orders: tuple[int, int] | None = None


@dataclass(frozen=True)
class Milestone:
    """A loyalty milestone: every given threshold reached."""

    name: str
    purchases: int | None = None
    spent_eur: float | None = None
    tenure_days: int | None = None


@dataclass(frozen=True)
class SegmentationConfig:
    """Everything `segments compute` and `segments personas` read."""

    not_purchases: tuple[str, ...]
    currency_per_eur: dict[str, float]
    new_days: int
    active_days: int
    lapsed_days: int
    cells: tuple[Cell, ...]
    milestones: tuple[Milestone, ...]
    persona_k: int = 5
    persona_sample: int = 20_000
    silhouette_sample: int = 3000
    persona_seed: int = 11


def _int(raw: Any, where: str, problems: list[str], low: int = 0) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < low:
        problems.append(f"{where}: a whole number of at least {low}")
        return low
    return raw


def _bounds(raw: Any, where: str, problems: list[str]) -> tuple[int, int]:
    if (not isinstance(raw, list) or len(raw) != 2 or not all(isinstance(v, int) for v in raw)
            or raw[0] > raw[1]):
        problems.append(f"{where}: [low, high], whole numbers, low <= high")
        return (0, 0)
    return (raw[0], raw[1])


def _cells(raw: Any, problems: list[str]) -> tuple[Cell, ...]:
    cells = []
    for i, item in enumerate(raw if isinstance(raw, list) else []):
        where = f"rfm_cells[{i}]"
        name = item.get("name") if isinstance(item, dict) else None
        if name not in RFM_CELLS:
            problems.append(f"{where}.name: one of {', '.join(RFM_CELLS)}")
            continue
        orders = _bounds(item["orders"], f"{where}.orders", problems) if "orders" in item else None
        cells.append(Cell(name, _bounds(item.get("r"), f"{where}.r", problems),
                          _bounds(item.get("fm"), f"{where}.fm", problems), orders))
    if not cells:
        problems.append("rfm_cells: at least one cell")
    return tuple(cells)


def _milestones(raw: Any, problems: list[str]) -> tuple[Milestone, ...]:
    found = []
    for i, item in enumerate(raw if isinstance(raw, list) else []):
        where = f"milestones[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            problems.append(f"{where}: a mapping with a name")
            continue
        given = {k: item[k] for k in MILESTONE_KEYS if k in item}
        if not given or set(item) - {"name", *MILESTONE_KEYS}:
            problems.append(f"{where}: a name and some of {', '.join(MILESTONE_KEYS)}")
            continue
        found.append(Milestone(item["name"], given.get("purchases"), given.get("spent_eur"),
                               given.get("tenure_days")))
    return tuple(found)


def parse_config(document: Any) -> SegmentationConfig:
    """The configuration in `document` (parsed YAML); ConfigError listing every problem."""
    problems: list[str] = []
    doc = document if isinstance(document, dict) else {}
    life: dict[str, Any] = doc["lifecycle"] if isinstance(doc.get("lifecycle"), dict) else {}
    rates = doc.get("currency_per_eur")
    if not isinstance(rates, dict) or not all(
            isinstance(v, (int, float)) and v > 0 for v in rates.values()):
        problems.append("currency_per_eur: a mapping of currency code to a positive rate")
        rates = {}
    personas: dict[str, Any] = doc["personas"] if isinstance(doc.get("personas"), dict) else {}
    config = SegmentationConfig(
        not_purchases=tuple(str(s) for s in doc.get("not_purchases") or ()),
        currency_per_eur={str(k): float(v) for k, v in rates.items()},
        new_days=_int(life.get("new_days"), "lifecycle.new_days", problems, 1),
        active_days=_int(life.get("active_days"), "lifecycle.active_days", problems, 1),
        lapsed_days=_int(life.get("lapsed_days"), "lifecycle.lapsed_days", problems, 1),
        cells=_cells(doc.get("rfm_cells"), problems),
        milestones=_milestones(doc.get("milestones"), problems),
        persona_k=_int(personas.get("k", 5), "personas.k", problems, 2),
        persona_sample=_int(personas.get("sample", 20_000), "personas.sample", problems, 10),
        silhouette_sample=_int(personas.get("silhouette_sample", 3000),
                               "personas.silhouette_sample", problems, 10),
        persona_seed=_int(personas.get("seed", 11), "personas.seed", problems, 0),
    )
    if config.lapsed_days < config.active_days:
        problems.append("lifecycle.lapsed_days: at least active_days")
    if problems:
        raise ConfigError(problems)
    return config


def load_config(policy_dir: Path) -> SegmentationConfig:
    """`segmentation.yaml` of `policy_dir`."""
    return parse_config(yaml.safe_load((policy_dir / FILE).read_text(encoding="utf-8")))


assert set(LIFECYCLE_STAGES) >= {"prospect", "new", "won_back", "active", "at_risk", "lapsed"}
