"""Variants against a baseline, from the runs' saved per-query predictions (vpr_lib.stats), and the findings in
words: every sentence is generated from the comparison table, so it follows the data it describes."""
from __future__ import annotations

import numpy as np
import pandas as pd

from vpr_lib.analysis import correct_at
from vpr_lib.runs import Run
from vpr_lib.data.layout import TEST_SETS
from vpr_lib.errors import VPRInputError
from vpr_lib.stats import ALPHA, chance_recall, corrected, paired_difference, verdict

SELECTION_SET = "SF-XS val"  # picks each run's checkpoint: its differences are optimistic, and not tested
DESCRIPTIVE = "descriptive"  # the verdict of a variant run on fewer seeds (vpr_lib.family): outside the family


def saved_correctness(run_id: str, test_set: str, metric: str = "R@1") -> np.ndarray:
    """Per query of a run's saved predictions on a test set (display name), whether it is correct at N."""
    return correct_at(Run(run_id).predictions(TEST_SETS.get(test_set, test_set)), int(metric.split("@")[1]))


def chance_levels(run_id: str, test_sets, metrics=("R@1", "R@5")) -> dict:
    """{'<set> R@N': expected recall of a random ranking} from a run's saved positives (the same for every run
    of the same data)."""
    levels = {}
    for test_set in test_sets:
        data = Run(run_id).predictions(TEST_SETS.get(test_set, test_set))
        for metric in metrics:
            n = int(metric.split("@")[1])
            levels[f"{test_set} {metric}"] = round(chance_recall(data["positives"], len(data["database_paths"]), n), 1)
    return levels


def _stack(results: pd.DataFrame, variant: str, test_set: str, seeds, metric: str, correct) -> np.ndarray:
    rows = results[(results.variant == variant) & (results.set == test_set)].set_index("seed")
    return np.stack([correct(rows.loc[s, "run_id"], test_set, metric) for s in seeds])


def versus(results: pd.DataFrame, baseline: str, metric: str = "R@1", correct=saved_correctness, *, family: int,
           descriptive=frozenset()) -> pd.DataFrame:
    """Every variant against `baseline` on each set, paired on their common seeds and on the queries: the
    difference of the means, its 95 % interval and p; on a test set also the p corrected for the study's `family`
    of comparisons (vpr_lib.stats) and a verdict (better | worse | within noise; `descriptive` for a variant run on
    fewer seeds, outside the family). The selection set (SF-XS val) gets no verdict: it picked the checkpoints.
    `results` holds one row per run and set with its run_id."""
    others = [v for v in results.variant.unique() if v != baseline]
    if baseline not in set(results.variant) or not others:  # a profile or a notebook that ran only some variants
        empty = pd.DataFrame(index=pd.Index([], name="variant"))
        empty.attrs.update(baseline=baseline, metric=metric, missing=baseline not in set(results.variant),
                           family=family)
        return empty
    sets = list(results.set.unique())
    rows = []
    for variant in others:
        row = {"variant": variant}
        for test_set in sets:
            seeds = sorted(set(results[(results.variant == baseline) & (results.set == test_set)].seed)
                           & set(results[(results.variant == variant) & (results.set == test_set)].seed))
            if not seeds:
                raise VPRInputError(f"{variant!r} and {baseline!r} share no seed on {test_set}: nothing to pair.")
            found = paired_difference(_stack(results, baseline, test_set, seeds, metric, correct),
                                      _stack(results, variant, test_set, seeds, metric, correct))
            delta = round(found["delta"], 1)
            row[f"{test_set} Δ {metric}"] = delta
            row[f"{test_set} 95% CI"] = f"[{found['low']:+.1f}, {found['high']:+.1f}]"
            row[f"{test_set} p"] = round(found["p"], 5)
            if test_set != SELECTION_SET:
                tested = variant not in descriptive
                p = corrected(found["p"], family) if tested else np.nan
                row[f"{test_set} p corrected"] = round(p, 4)
                row[f"{test_set} verdict"] = verdict(delta, p) if tested else DESCRIPTIVE
            row[f"{test_set} seeds"] = found["seeds"]
        rows.append(row)
    table = pd.DataFrame(rows).set_index("variant")
    table.attrs.update(baseline=baseline, metric=metric, family=family)  # for findings
    return table


def interval(cell) -> tuple[float, float]:
    """'[-3.2, +2.5]' (a versus table's 95 % CI) → (-3.2, 2.5)."""
    low, high = str(cell).strip("[] ").split(",")
    return float(low), float(high)


def p_words(p: float) -> str:
    """A corrected p as the text gives it: 'corrected p < 0.001', else to 3 decimals."""
    return "corrected p < 0.001" if p < 0.001 else f"corrected p = {p:.3f}"


def verdict_words(word: str, ci) -> str:
    """A verdict as said beside its uncorrected interval: a 'within noise' whose interval excludes 0 says that the
    study-wide correction made it so."""
    if word == "within noise" and isinstance(ci, str) and (interval(ci)[0] > 0 or interval(ci)[1] < 0):
        return "within noise after the study-wide correction"
    return word


def findings(table: pd.DataFrame, rule: bool = True) -> str:
    """A `versus` table in words (Markdown): what is better, what is worse, that the rest is within noise, and
    the descriptive rows apart; the selection set is not tested. `rule=False` leaves out the statistical rule and
    the note on the selection set (the report states both once, in its method)."""
    metric, baseline = table.attrs["metric"], table.attrs["baseline"]
    if table.attrs.get("missing"):
        return f"**No comparison:** the baseline `{baseline}` has no runs here (the variants picked for this run)."
    if table.empty:
        return f"**No comparison:** only `{baseline}` ran here (the profile's or the picked variants)."
    sets = [c[: -len(" verdict")] for c in table.columns if c.endswith(" verdict")]
    said = {"better": [], "worse": [], DESCRIPTIVE: []}
    for variant, row in table.iterrows():
        for test_set in sets:
            word = row[f"{test_set} verdict"]
            if word in said:
                p = "" if word == DESCRIPTIVE else f", {p_words(row[f'{test_set} p corrected'])}"
                said[word].append(f"`{variant}` on {test_set} ({row[f'{test_set} Δ {metric}']:+.1f} "
                                  f"{row[f'{test_set} 95% CI']}{p})")
    deciding = [v for v, row in table.iterrows() if row[f"{sets[0]} verdict"] != DESCRIPTIVE] if sets else []
    n = len(deciding) * len(sets)
    seeds = int(table.loc[deciding or list(table.index), [c for c in table.columns if c.endswith(" seeds")]].min().min())
    family = table.attrs["family"]
    parts = [f"**Against `{baseline}`** ({metric}, difference in points with its 95 % interval; paired bootstrap "
             f"over the {seeds} seed{'s' if seeds > 1 else ''} both sides ran and the queries; a verdict needs "
             f"p × {family} < {ALPHA:g}, Bonferroni over the {family} test-set comparisons of the whole study, the "
             "same rule in every notebook, so an interval that excludes 0 may still be within noise):" if rule else
             f"**Against `{baseline}`** ({metric} points, uncorrected 95 % interval over {seeds} "
             f"seed{'s' if seeds > 1 else ''} and the queries; verdicts by the study's one corrected rule, so an "
             "interval that excludes 0 may still be within noise):"]
    parts.append(f"better: {'; '.join(said['better']) or 'none'}.")
    parts.append(f"Worse: {'; '.join(said['worse']) or 'none'}.")
    rest = n - len(said["better"]) - len(said["worse"])
    if rest == 1:
        parts.append("The only comparison is within noise." if n == 1 else "The one other comparison is within noise.")
    elif rest:
        parts.append(f"{'All' if rest == n else 'The other'} {rest} comparisons are within noise.")
    elif n:
        parts.append("No comparison is within noise.")
    else:
        parts.append("No comparison is tested here.")
    if said[DESCRIPTIVE]:
        parts.append(f"Descriptive, fewer seeds than the others (no verdict, outside the family): "
                     f"{'; '.join(said[DESCRIPTIVE])}.")
    if rule and any(c.startswith(f"{SELECTION_SET} ") for c in table.columns):
        parts.append(f"{SELECTION_SET} picked each run's checkpoint: its differences are in the table, not tested.")
    if seeds == 1:
        parts.append("With one seed, the interval covers the sampling of the queries only, not the seed.")
    return " ".join(parts)
