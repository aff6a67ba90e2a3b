"""Variants against a baseline, from the runs' saved per-query predictions (vpr_lib.stats), and the findings in
words: every sentence is generated from the comparison table, so it follows the data it describes."""
from __future__ import annotations

import numpy as np
import pandas as pd

from vpr_lib.analysis import correct_at, load_predictions
from vpr_lib.data.layout import TEST_SETS
from vpr_lib.errors import VPRInputError
from vpr_lib.stats import ALPHA, chance_recall, holm, paired_difference, verdict

SELECTION_SET = "SF-XS val"  # picks each run's checkpoint: its differences are optimistic


def saved_correctness(run_id: str, test_set: str, metric: str = "R@1") -> np.ndarray:
    """Per query of a run's saved predictions on a test set (display name), whether it is correct at N."""
    return correct_at(load_predictions(run_id, TEST_SETS.get(test_set, test_set)), int(metric.split("@")[1]))


def chance_levels(run_id: str, test_sets, metrics=("R@1", "R@5")) -> dict:
    """{'<set> R@N': expected recall of a random ranking} from a run's saved positives (the same for every run
    of the same data)."""
    levels = {}
    for test_set in test_sets:
        data = load_predictions(run_id, TEST_SETS.get(test_set, test_set))
        for metric in metrics:
            n = int(metric.split("@")[1])
            levels[f"{test_set} {metric}"] = round(chance_recall(data["positives"], len(data["database_paths"]), n), 1)
    return levels


def _stack(results: pd.DataFrame, variant: str, test_set: str, seeds, metric: str, correct) -> np.ndarray:
    rows = results[(results.variant == variant) & (results.set == test_set)].set_index("seed")
    return np.stack([correct(rows.loc[s, "run_id"], test_set, metric) for s in seeds])


def versus(results: pd.DataFrame, baseline: str, metric: str = "R@1", correct=saved_correctness) -> pd.DataFrame:
    """Every variant against `baseline` on each set, paired on their common seeds and on the queries: the
    difference of the means, its 95 % interval, the bootstrap p, Holm's p over the whole table, and a verdict
    (better | worse | within noise).  `results` holds one row per run and set with its run_id."""
    others = [v for v in results.variant.unique() if v != baseline]
    if baseline not in set(results.variant) or not others:  # a profile or a notebook that ran only some variants
        empty = pd.DataFrame(index=pd.Index([], name="variant"))
        empty.attrs.update(baseline=baseline, metric=metric, missing=baseline not in set(results.variant))
        return empty
    rows, cells = [], []
    for variant in others:
        row = {"variant": variant}
        for test_set in results.set.unique():
            seeds = sorted(set(results[(results.variant == baseline) & (results.set == test_set)].seed)
                           & set(results[(results.variant == variant) & (results.set == test_set)].seed))
            if not seeds:
                raise VPRInputError(f"{variant!r} and {baseline!r} share no seed on {test_set}: nothing to pair.")
            found = paired_difference(_stack(results, baseline, test_set, seeds, metric, correct),
                                      _stack(results, variant, test_set, seeds, metric, correct))
            row[f"{test_set} Δ {metric}"] = round(found["delta"], 1)
            row[f"{test_set} 95% CI"] = f"[{found['low']:+.1f}, {found['high']:+.1f}]"
            row[f"{test_set} p"] = round(found["p"], 4)
            row[f"{test_set} seeds"] = found["seeds"]
            cells.append((len(rows), test_set, found["p"]))
        rows.append(row)
    adjusted = holm([p for _, _, p in cells])
    for (index, test_set, _), p in zip(cells, adjusted):
        rows[index][f"{test_set} p Holm"] = round(float(p), 4)
        rows[index][f"{test_set} verdict"] = verdict(rows[index][f"{test_set} Δ {metric}"], p)
    table = pd.DataFrame(rows).set_index("variant")
    sets = list(results.set.unique())
    order = [f"{s} {c}" for s in sets for c in (f"Δ {metric}", "95% CI", "p", "p Holm", "verdict", "seeds")]
    table = table[order]
    table.attrs.update(baseline=baseline, metric=metric)  # for findings
    return table


def findings(table: pd.DataFrame) -> str:
    """A `versus` table in words (Markdown): what is better, what is worse, and that the rest is within noise;
    the selection set apart."""
    metric, baseline = table.attrs["metric"], table.attrs["baseline"]
    if table.attrs.get("missing"):
        return f"**No comparison:** the baseline `{baseline}` has no runs here (the variants picked for this run)."
    if table.empty:
        return f"**No comparison:** only `{baseline}` ran here (the profile's or the picked variants)."
    sets = [c[: -len(" verdict")] for c in table.columns if c.endswith(" verdict")]
    said = {"better": [], "worse": []}
    for test_group in ([s for s in sets if s != SELECTION_SET], [s for s in sets if s == SELECTION_SET]):
        for variant, row in table.iterrows():
            for test_set in test_group:
                word = row[f"{test_set} verdict"]
                if word in said:
                    said[word].append(f"`{variant}` on {test_set} ({row[f'{test_set} Δ {metric}']:+.1f} "
                                      f"{row[f'{test_set} 95% CI']}, Holm p = {row[f'{test_set} p Holm']:.3f})")
    n = len(table) * len(sets)
    seeds = int(min(table[f"{s} seeds"].min() for s in sets))
    parts = [f"**Against `{baseline}`** ({metric}, difference in points with its 95 % interval; paired bootstrap "
             f"over the {seeds} seed{'s' if seeds > 1 else ''} both sides ran and the queries; the verdict uses Holm's "
             "correction over "
             f"{n} comparisons at {ALPHA:g}, the interval does not, so an interval that excludes 0 may still be "
             "within noise):"]
    parts.append(f"better: {'; '.join(said['better']) or 'none'}.")
    parts.append(f"Worse: {'; '.join(said['worse']) or 'none'}.")
    rest = n - len(said["better"]) - len(said["worse"])
    if rest == 1:
        parts.append("The only comparison is within noise." if n == 1 else "The one other comparison is within noise.")
    elif rest:
        parts.append(f"{'All' if rest == n else 'The other'} {rest} comparisons are within noise.")
    else:
        parts.append("No comparison is within noise.")
    if SELECTION_SET in sets:
        parts.append(f"{SELECTION_SET} picked each run's checkpoint, so its differences are optimistic; the test "
                     "sets are the evidence.")
    if seeds == 1:
        parts.append("With one seed, the interval covers the sampling of the queries only, not the seed.")
    return " ".join(parts)
