"""Power of the study's comparisons: how wide a difference's 95 % interval is, and whether seeds or queries make it.

    python bench/power.py probe [--params 07_mixvpr] [--pair avg_layer3_adamw,gem_layer3_adamw] [--seeds 5]
                                [--epochs 4]
    python bench/power.py tables [--results DIR]

`probe` trains (or reuses, from the results store) two variants of one notebook on the profile's regime, once per
number of epochs, and splits the interval of their difference on each test set into its two sources: the seeds
(bootstrap over seeds, every query kept) and the queries (bootstrap over queries, every seed kept). It also prints
each variant's seed std, whether val R@1 still rises at the last epoch (training too short to settle), and the
half-width projected for other numbers of seeds and queries (each source's variance scaled by 1/n: an estimate).
The 4-epoch runs are the study's own runs (same run ids), so the study reuses them.

`tables` reads a results store's versus tables and prints the median test-set half-width, the share of decided
comparisons, and whether one threshold holds across all of them (no decided comparison with a larger p than an
undecided one). Both print the CPU model.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from vpr_lib.comparisons import DESCRIPTIVE, saved_correctness
from vpr_lib.experiments import run_experiment
from vpr_lib.plan import cpu_model
from vpr_lib.stats import REPLICATES, _replicates

TEST_SETS = ("SF-XS test", "Tokyo-XS")


def sources(base: np.ndarray, other: np.ndarray, seed: int = 0) -> dict:
    """Half-widths (95 %, points) of other - base from the seeds alone, the queries alone, and both."""
    rng = np.random.default_rng(seed)
    n_seeds, n_queries = base.shape
    diff = other.astype(float) - base.astype(float)
    every_seed = np.tile(np.arange(n_seeds), (REPLICATES, 1))
    every_query = [np.arange(n_queries)] * REPLICATES
    draw_seeds = rng.integers(0, n_seeds, (REPLICATES, n_seeds))
    draw_queries = rng.integers(0, n_queries, (REPLICATES, n_queries))
    half = lambda r: float(np.subtract(*np.percentile(r, [97.5, 2.5])) / 2)
    return {"seeds": half(_replicates(diff, draw_seeds, every_query)),
            "queries": half(_replicates(diff, every_seed, draw_queries)),
            "both": half(_replicates(diff, draw_seeds, draw_queries)), "n_seeds": n_seeds, "n_queries": n_queries}


def projected(found: dict, seeds: int, queries: int) -> float:
    return float(np.hypot(found["seeds"] * np.sqrt(found["n_seeds"] / seeds),
                          found["queries"] * np.sqrt(found["n_queries"] / queries)))


def probe(args) -> None:
    base_name, other_name = args.pair.split(",")
    rows = []
    for epochs in [int(e) for e in args.epochs.split(",")]:
        start = time.time()
        exp = run_experiment(args.params, args.profile, overrides={"epochs": epochs}, variants=[base_name, other_name],
                             seeds=list(range(args.seeds)), progress=False, save=False)
        seconds = time.time() - start
        last = exp.epochs[exp.epochs.epoch == epochs].groupby("variant")["R@1"].mean()
        before = exp.epochs[exp.epochs.epoch == epochs - 1].groupby("variant")["R@1"].mean()
        for test_set in TEST_SETS:
            stack = {}
            for variant in (base_name, other_name):
                rows_v = exp.results[(exp.results.variant == variant) & (exp.results.set == test_set)].sort_values("seed")
                stack[variant] = np.stack([saved_correctness(r, test_set) for r in rows_v.run_id])
            found = sources(stack[base_name], stack[other_name])
            rows.append({"epochs": epochs, "set": test_set,
                         "Δ R@1": round(100 * (stack[other_name].mean() - stack[base_name].mean()), 1),
                         **{f"{v} seed std": round(float(100 * stack[v].mean(axis=1).std(ddof=1)), 1)
                            for v in (base_name, other_name)},
                         "half-width seeds": round(found["seeds"], 1), "queries": round(found["queries"], 1),
                         "both": round(found["both"], 1),
                         "projected 10 seeds": round(projected(found, 10, found["n_queries"]), 1),
                         "val R@1 last epoch rise": round(float((last - before).mean()), 1),
                         "minutes (this call)": round(seconds / 60, 1)})
    print(f"{args.params}: {other_name} - {base_name}, {args.seeds} seeds, profile {args.profile}; "
          f"{cpu_model()}, {time.strftime('%Y-%m-%d')}")
    print(pd.DataFrame(rows).to_string(index=False))


def tables(args) -> None:
    folder = Path(args.results) / "tables"
    cells = []
    for path in sorted(folder.glob("*_versus.csv")):
        table = pd.read_csv(path)
        for test_set in TEST_SETS:
            if f"{test_set} verdict" not in table:
                continue
            for _, row in table.iterrows():
                low, high = (float(x) for x in row[f"{test_set} 95% CI"].strip("[]").split(","))
                cells.append({"table": path.stem, "variant": row["variant"], "set": test_set,
                              "half-width": (high - low) / 2, "p": row[f"{test_set} p"],
                              "verdict": row[f"{test_set} verdict"]})
    cells = pd.DataFrame(cells)
    if cells.empty:
        raise SystemExit(f"no versus table in {folder}")
    tested = cells[cells.verdict != DESCRIPTIVE]
    decided = tested[tested.verdict != "within noise"]
    undecided = tested[tested.verdict == "within noise"]
    holds = decided.empty or undecided.empty or decided.p.max() <= undecided.p.min()
    print(f"{folder}: {len(tested)} test-set comparisons in {cells.table.nunique()} versus tables "
          f"({len(cells) - len(tested)} descriptive); {cpu_model()}")
    print(f"median 95% half-width: {tested['half-width'].median():.1f} R@1 points "
          f"(quartiles {tested['half-width'].quantile(0.25):.1f}-{tested['half-width'].quantile(0.75):.1f})")
    print(f"decided: {len(decided)} of {len(tested)}; one threshold across every table: {holds} "
          f"(largest decided p {decided.p.max() if len(decided) else float('nan'):.2g}, smallest undecided p "
          f"{undecided.p.min() if len(undecided) else float('nan'):.2g})")
    print(tested.groupby("table")["half-width"].median().round(1).to_string())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("probe")
    p.add_argument("--params", default="07_mixvpr")
    p.add_argument("--pair", default="avg_layer3_adamw,gem_layer3_adamw", help="baseline,variant")
    p.add_argument("--profile", default="study")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--epochs", default="4", help="comma-separated numbers of epochs, e.g. 4,8")
    t = sub.add_parser("tables")
    t.add_argument("--results", default="results")
    args = ap.parse_args()
    probe(args) if args.command == "probe" else tables(args)


if __name__ == "__main__":
    main()
