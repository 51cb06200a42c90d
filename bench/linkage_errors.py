"""Where the linkage goes wrong: false links and missed links broken down by the generator's
truth (household relation, twins, and the noise each record carries).

    python bench/linkage_errors.py --size 10000 --seed 5
    python bench/linkage_errors.py --size 10000 --seed 7 --examples 5

False positives are counted as record pairs put in one cluster while two persons, by how the
two persons relate (twins, couple or parent and child or siblings in one household, strangers)
and by what their records share. False negatives are record pairs of one person left in two
clusters, by the noise kinds of the two records (a pair counts under each kind either carries)
and by the stage that lost them: never a candidate (blocking), scored below the threshold
(model), or scored above it but kept apart by the clustering's veto.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter, defaultdict
from itertools import combinations
from pathlib import Path
from typing import Any

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway.linkage.cluster import DEFAULT_THRESHOLD
from gateway.linkage.metrics import pairwise
from gateway.linkage.prepare import frame_of
from gateway.linkage.resolve import resolve_frame
from gateway.linkage.synth import Person, generate


def _relation(a: Person, b: Person) -> str:
    if a.household is not b.household:
        return "other household"
    if a.birth == b.birth:
        return "twins"
    if abs(a.birth.year - b.birth.year) <= 6 and a.household.members.index(a) < 2 and a.household.members.index(b) < 2:
        return "couple"
    if a.household.members.index(a) >= 2 and a.household.members.index(b) >= 2:
        return "siblings"
    return "parent and child"


def _shared(frame: pd.DataFrame, i: int, j: int) -> list[str]:
    out = []
    for label, cols in (("email", ["email"]), ("phone", ["phone_tail"]), ("address", ["street", "hn"]),
                        ("surname+dob", ["ln", "dob"]), ("first name", ["fn_formal"])):
        values = [(frame.at[i, c], frame.at[j, c]) for c in cols]
        if all(x is not None and x == y for x, y in values):
            out.append(label)
    return out or ["nothing"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--examples", type=int, default=0, help="print this many pairs of each error kind")
    parser.add_argument("--show", default="", help="print stray records whose reason contains this text")
    args = parser.parse_args()
    noise: dict[str, set[str]] = {}
    records, truth, persons = generate(args.size, args.seed, noise=noise)
    by_id = {p.id: p for p in persons}
    frame = frame_of(records)
    start = time.perf_counter()
    result = resolve_frame(frame)
    print(f"resolved {len(frame):,} records in {time.perf_counter() - start:.1f} s")
    labels = result.labels.tolist()
    scores = pairwise(labels, truth)
    print(f"pairwise P {scores.precision:.4f} R {scores.recall:.4f} F1 {scores.f1:.4f}")
    weight: dict[tuple[int, int], float] = {}
    for a, b, w in zip(result.pairs["unique_id_l"].tolist(), result.pairs["unique_id_r"].tolist(),
                       result.pairs["match_weight"].tolist(), strict=True):
        weight[(min(a, b), max(a, b))] = w
    tags = [noise[r["record_id"]] for r in records]
    sources = [r["source"] for r in records]

    by_cluster: dict[int, list[int]] = defaultdict(list)
    by_person: dict[int, list[int]] = defaultdict(list)
    for i, (c, t) in enumerate(zip(labels, truth, strict=True)):
        by_cluster[c].append(i)
        by_person[t].append(i)
    fp_relation: Counter[str] = Counter()
    fp_shared: Counter[str] = Counter()
    examples: dict[str, list[Any]] = defaultdict(list)
    for members in by_cluster.values():
        for i, j in combinations(members, 2):
            if truth[i] == truth[j]:
                continue
            rel = _relation(by_id[truth[i]], by_id[truth[j]])
            fp_relation[rel] += 1
            for s in _shared(frame, i, j):
                fp_shared[s] += 1
            examples[f"FP {rel}"].append((i, j))
    fn_stage: Counter[str] = Counter()
    fn_noise: Counter[str] = Counter()
    fn_sources: Counter[str] = Counter()
    all_noise: Counter[str] = Counter()
    for members in by_person.values():
        for i, j in combinations(members, 2):
            kinds = (tags[i] | tags[j]) - {"household"} or {"clean"}
            for k in kinds:
                all_noise[k] += 1
            if labels[i] == labels[j]:
                continue
            w = weight.get((min(i, j), max(i, j)))
            stage = ("not a candidate" if w is None else
                     "below threshold" if w < DEFAULT_THRESHOLD else "above threshold, kept apart")
            fn_stage[stage] += 1
            for k in kinds:
                fn_noise[k] += 1
            fn_sources["+".join(sorted((sources[i], sources[j])))] += 1
            examples[f"FN {stage}"].append((i, j))
    fp, fn = sum(fp_relation.values()), sum(fn_stage.values())
    print(f"\nfalse links (pairs): {fp}")
    for k, v in fp_relation.most_common():
        print(f"  {k:<28} {v:>6}")
    print("  by what their records share (a pair counts under each):")
    for k, v in fp_shared.most_common():
        print(f"    {k:<26} {v:>6}")
    print(f"\nmissed links (pairs): {fn}")
    for k, v in fn_stage.most_common():
        print(f"  {k:<28} {v:>6}")
    print("  by noise kind (missed / all pairs carrying it):")
    for k, v in fn_noise.most_common():
        print(f"    {k:<26} {v:>6} / {all_noise[k]:>6}  ({v / all_noise[k]:.1%})")
    print("  by sources:")
    for k, v in fn_sources.most_common(8):
        print(f"    {k:<26} {v:>6}")
    # Records away from their person's main cluster, by why (and by how little they carry).
    stray: Counter[str] = Counter()
    best_to_own: dict[int, float] = {}
    for (a, b), w in weight.items():
        if truth[a] == truth[b]:
            best_to_own[a] = max(best_to_own.get(a, -99.0), w)
            best_to_own[b] = max(best_to_own.get(b, -99.0), w)
    strays: list[int] = []
    for members in by_person.values():
        main_label = Counter(labels[i] for i in members).most_common(1)[0][0]
        for i in members:
            if labels[i] == main_label:
                continue
            filled = sum(frame.at[i, c] is not None for c in ("fn", "ln", "dob", "email", "phone_tail", "street", "postcode", "card"))
            w = best_to_own.get(i)
            why = ("no candidate pair with its person" if w is None else
                   "best pair below threshold" if w < DEFAULT_THRESHOLD else "pair above threshold, vetoed or elsewhere")
            alone = sum(1 for j in by_cluster[labels[i]] if truth[j] != truth[i])
            reason = f"{why}; {'joined other person' if alone else 'alone'}; {min(filled, 4)}{'+' if filled >= 4 else ''} fields"
            stray[reason] += 1
            if args.show and args.show in reason:
                strays.append(i)
    print(f"\nrecords outside their person's main cluster: {sum(stray.values())}")
    for k, v in sorted(stray.items()):
        print(f"  {k:<75} {v:>5}")
    for i in strays[: args.examples]:
        print(f"\nSTRAY {i} tags={sorted(tags[i])} best={best_to_own.get(i)}")
        own = by_person[truth[i]] + [j for j in by_cluster[labels[i]] if truth[j] != truth[i]]
        print(frame.loc[own, ["source", "fn", "ln", "dob", "sex", "email", "phone_tail", "hn", "street", "postcode", "card"]].assign(c=[labels[j] for j in own]).to_string(header=False))
    cols = ["source", "fn", "ln", "dob", "sex", "email", "phone_tail", "hn", "street", "postcode", "city", "card"]
    for kind, pairs in examples.items() if not args.show else ():
        for i, j in pairs[: args.examples]:
            w = weight.get((min(i, j), max(i, j)))
            print(f"\n{kind} weight={w} tags={sorted(tags[i])} / {sorted(tags[j])}")
            print(frame.loc[[i, j], cols].to_string(header=False))


if __name__ == "__main__":
    main()
