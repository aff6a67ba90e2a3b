"""Do the study's verdicts survive another machine? Re-run every run of the study with another thread count (1
instead of 2: the recalls change with it, as with another CPU) into a separate store, recompute every versus table,
and count the verdicts that changed, by kind.

    python bench/verdict_stability.py [--profile study] [--threads 1] [--store results/threads1] [--reference results]

The reference is a results store whose versus tables came from a run of the same profile at the same code (the
committed study: results/). The re-run trains into --store (its own runs: a run id does not name the thread
count, so the two must not share a store) and writes nothing else. Goal (issue 28): no flip between better and
worse, and at most 1 in 10 between decided and within noise. Prints the CPU model.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import pandas as pd

TEST_SETS = ("SF-XS test", "Tokyo-XS")


def verdicts(tables: dict) -> pd.DataFrame:
    """One row per (notebook, variant, test set) with its verdict, from {notebook: versus table}."""
    rows = [{"notebook": name, "variant": variant, "set": s, "verdict": row[f"{s} verdict"], "p": row[f"{s} p"],
             "Δ": row[f"{s} Δ R@1"]}
            for name, table in tables.items() for variant, row in table.iterrows() for s in TEST_SETS
            if f"{s} verdict" in table]
    return pd.DataFrame(rows).set_index(["notebook", "variant", "set"])


def kind(before: str, after: str) -> str:
    if before == after:
        return "same"
    if {before, after} == {"better", "worse"}:
        return "better <-> worse"
    return f"{before} -> {after}"


def rerun(profile: str) -> dict:
    """Every versus table of the profile, from runs trained (or reused) in this process's stores."""
    from vpr_lib.config import load_params, notebook_paths, trains
    from vpr_lib.experiments import run_experiment
    from vpr_lib.family import descriptive_variants, family_size
    from vpr_lib.comparisons import versus
    tables = {}
    for path in notebook_paths():
        params = load_params(path.stem, profile)
        if not trains(params) or len(params["variants"]) < 2:
            continue
        start = time.time()
        exp = run_experiment(path.stem, profile, progress=False, save=False)
        tables[path.stem] = versus(exp.results, exp.results.variant.iloc[0], family=family_size(profile),
                                   descriptive=descriptive_variants(exp.params))
        print(f"  {path.stem}: {len(exp.runs)} runs, {time.time() - start:.0f} s", flush=True)
    return tables


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="study")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--store", default="results/threads1")
    ap.add_argument("--reference", default="results")
    args = ap.parse_args()
    reference = Path(args.reference).resolve()
    if not list((reference / "tables").glob("*_versus.csv")):
        raise SystemExit(f"no versus tables in {reference / 'tables'}: run ./run_all.sh --profile {args.profile} first")
    store = Path(args.store).resolve()
    if store == reference:
        raise SystemExit("--store must differ from --reference: a run id does not name the thread count")
    os.environ.update(VPR_RESULTS=str(store), VPR_RUNS=str(store / "runs"), VPR_NO_PROGRESS="1")
    import torch
    from vpr_lib.plan import cpu_model
    torch.set_num_threads(args.threads)
    start = time.time()
    print(f"re-running the {args.profile} profile's compared runs with {args.threads} thread(s) into {store}")
    again = verdicts(rerun(args.profile))
    before = verdicts({p.name[: -len("_versus.csv")]: pd.read_csv(p).set_index("variant")
                       for p in sorted((reference / "tables").glob("*_versus.csv"))})
    both = before.join(again, lsuffix=" before", rsuffix=" after", how="inner")
    both["change"] = [kind(b, a) for b, a in zip(both["verdict before"], both["verdict after"])]
    counted = both[both["verdict before"] != "descriptive"]
    changed = counted[counted.change != "same"]
    decided_flips = changed[changed.change != "better <-> worse"]
    print(f"\n{cpu_model()}, {args.threads} thread(s) against {reference} ({time.strftime('%Y-%m-%d')}); "
          f"{(time.time() - start) / 60:.0f} min")
    print(f"{len(counted)} test-set comparisons (descriptive ones left out); changed: {len(changed)}")
    print(counted.change.value_counts().to_string())
    print(f"better <-> worse: {int((counted.change == 'better <-> worse').sum())} (goal 0); decided <-> within noise: "
          f"{len(decided_flips)} of {len(counted)} ({100 * len(decided_flips) / max(1, len(counted)):.0f} %, goal "
          "at most 10 %)")
    if len(changed):
        print(changed[["Δ before", "p before", "verdict before", "Δ after", "p after", "verdict after"]].to_string())
    missing = len(before) - len(both)
    if missing:
        print(f"{missing} comparison(s) of the reference have no counterpart here (another profile or code?)",
              file=sys.stderr)


if __name__ == "__main__":
    main()
