"""Analyses from saved predictions (never re-running a model): correctness per query, by condition."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from vpr_lib.data.names import parse_name
from vpr_lib.data.layout import conditions
from vpr_lib.errors import VPRInputError
from vpr_lib.evaluate import first_correct_rank
from vpr_lib.runs import Run
from vpr_lib.stats import bootstrap_mean, chance_recall, paired_difference


CONDITION_COLUMNS = ("city", "time_of_day", "fog", "occluders", "heading", "pitch", "capture_year", "camera")
VIEWPOINT_BINS, VIEWPOINT_LABELS = [0, 15, 45, 180], ["< 15 deg", "15-45 deg", "> 45 deg"]


def correct_at(data: dict, n: int = 1) -> np.ndarray:
    """Per query, whether a positive is among its first n predictions."""
    rank = first_correct_rank(data["predictions"], data["positives"])
    return (rank > 0) & (rank <= n)


def query_conditions(data: dict, data_root: Path) -> pd.DataFrame:
    """One row per query of saved predictions: its conditions (SynthCity's conditions.csv; for real data the
    fields of the '@' names: capture year and heading), the smallest heading difference, in degrees, between the
    query and its positives (`heading_diff`, NaN when headings are unknown) and the viewpoint change: the larger
    of that difference and the camera's tilt (the database crops are level; `view_change`, binned in `viewpoint`)."""
    meta = conditions(data_root)
    queries, database = data["queries_paths"], data["database_paths"]
    if meta is not None:
        meta = meta.set_index("path")
        table = meta.loc[queries, [c for c in CONDITION_COLUMNS if c in meta]].reset_index(drop=True)
        db_heading = meta.loc[database, "heading"].to_numpy(float)
    else:
        names = [parse_name(p) for p in queries]
        table = pd.DataFrame({"capture_year": [n.timestamp[:4] or "unknown" for n in names],
                              "heading": [n.heading_deg for n in names]}, dtype=object)
        db_heading = np.array([parse_name(p).heading_deg for p in database], dtype=float)
    heading = pd.to_numeric(table["heading"], errors="coerce").to_numpy(float)
    diffs = np.full(len(queries), np.nan)
    for i, positives in enumerate(data["positives"]):
        if len(positives):  # the most similar view among the positives
            diffs[i] = np.min(np.abs((heading[i] - db_heading[positives] + 180) % 360 - 180))
    table["heading_diff"] = diffs.round(1)
    if "pitch" in table:  # a tilted view changes the viewpoint as a turned one does
        tilt = np.abs(pd.to_numeric(table["pitch"], errors="coerce").to_numpy(float))
        diffs = np.where(np.isnan(diffs), np.nan, np.fmax(diffs, tilt))
    table["view_change"] = diffs.round(1)
    bins = pd.cut(diffs, VIEWPOINT_BINS, labels=VIEWPOINT_LABELS, include_lowest=True)
    table["viewpoint"] = [str(v) if isinstance(v, str) else "unknown" for v in bins]
    return table


def as_text(values) -> np.ndarray:
    """Condition values as strings (missing ones as 'nan'), for grouping and filtering."""
    return np.array([str(v) for v in values])


@dataclass
class QueryHits:
    """Saved predictions of some runs (one per seed), read once: per test set, the (runs, queries) 0/1 array of hits
    at n, the queries' conditions (query_conditions), their positives and the database size; `queries`: the query
    paths per test set."""
    n: int
    seeds: list
    sets: dict
    queries: dict


def query_hits(runs: pd.DataFrame, test_sets, data_root: Path, n: int = 1) -> QueryHits:
    """The runs' hits at n on each test set (every run must hold the same queries); `seeds` pairs them with other
    runs' (runs.seed, or their order without one)."""
    sets, queries = {}, {}
    for test_set in test_sets:
        hits, first = [], None
        for run_id in runs.run_id:
            data = Run(run_id).predictions(test_set)
            if first is None:
                first = data
            elif list(data["queries_paths"]) != list(first["queries_paths"]):
                raise VPRInputError(f"Runs {list(runs.run_id)} hold other queries of {test_set}: recall by condition "
                                    "compares runs on the same data.")
            hits.append(correct_at(data, n))
        if first is not None:
            sets[test_set] = (np.stack(hits), query_conditions(first, data_root), first["positives"],
                              len(first["database_paths"]))
            queries[test_set] = list(first["queries_paths"])
    seeds = list(runs.seed) if "seed" in runs else list(range(len(runs)))
    return QueryHits(n, seeds, sets, queries)


def condition_hits(read: QueryHits, by: str = "time_of_day") -> dict:
    """Per (test set, condition value), in the condition's order: the (runs, queries) hits of the queries holding that
    value, their positives, and the database size."""
    groups = {}
    for test_set, (hits, table, positives, database) in read.sets.items():
        if by not in table:
            raise VPRInputError(f"Unknown condition {by!r}; available: {list(table.columns)}.")
        values = as_text(table[by])
        order = VIEWPOINT_LABELS + ["unknown"] if by == "viewpoint" else []  # bins in their order, not a-z
        for value in sorted(np.unique(values), key=lambda v: (order.index(v) if v in order else len(order), v)):
            inside = values == value
            groups[(test_set, value)] = (hits[:, inside], [positives[i] for i in np.flatnonzero(inside)], database)
    return groups


def recall_by_condition(read: QueryHits, by: str = "time_of_day") -> pd.DataFrame:
    """R@n per test set and query condition (a column of query_conditions): the mean over the runs, its 95 %
    interval (seeds and queries of that condition resampled, vpr_lib.stats.bootstrap_mean), and the condition's
    own chance level (a random ranking of the database for its queries)."""
    rows, n = [], read.n
    for (test_set, value), (hits, positives, database) in condition_hits(read, by).items():
        mean, low, high = bootstrap_mean(hits)
        rows.append({"set": test_set, by: value, f"R@{n}": round(mean, 1), "95% CI": f"[{low:.1f}, {high:.1f}]",
                     "chance": round(chance_recall(positives, database, n), 1), "queries": hits.shape[1]})
    return pd.DataFrame(rows).set_index(["set", by])


def condition_gaps(read: QueryHits, baseline: QueryHits, by: str = "time_of_day") -> pd.DataFrame:
    """Per test set and query condition: R@n of `read`'s runs minus `baseline`'s, paired by seed on the same queries,
    with its 95 % interval (vpr_lib.stats.paired_difference; uncorrected: a diagnosis, not one of the study's
    verdicts)."""
    if read.n != baseline.n or read.queries != baseline.queries:
        raise VPRInputError(f"Condition gaps pair runs on the same queries at the same n: got R@{read.n} on "
                            f"{sorted(read.queries)} against R@{baseline.n} on {sorted(baseline.queries)}, or other "
                            "query lists.")
    common = [seed for seed in read.seeds if seed in baseline.seeds]
    if not common:
        raise VPRInputError(f"No seed in common between runs of seeds {read.seeds} and {baseline.seeds}.")
    mine, theirs = [read.seeds.index(s) for s in common], [baseline.seeds.index(s) for s in common]
    theirs_by = condition_hits(baseline, by)
    rows, n = [], read.n
    for (test_set, value), (hits, _, _) in condition_hits(read, by).items():
        d = paired_difference(theirs_by[(test_set, value)][0][theirs], hits[mine])
        rows.append({"set": test_set, by: value, f"Δ R@{n}": round(d["delta"], 1),
                     "95% CI": f"[{d['low']:+.1f}, {d['high']:+.1f}]", "seeds": d["seeds"], "queries": hits.shape[1]})
    return pd.DataFrame(rows).set_index(["set", by])


# Failure categories of Bracco et al.'s report (section 4), derived from the conditions; they overlap.  A view tilted
# up shows mostly rooftops against the sky, the report's "skyline" case.  Clean queries (day, no occluder, no fog,
# a viewpoint within 15 degrees) have none of these recorded causes; the report's "repetitive structures" would be
# among their failures (SynthCity's façades repeat within a city style), but nothing here detects repetition.
CLEAN = "clean conditions (no recorded cause)"
CATEGORIES = {
    "illumination (sunset / night)": lambda t: t.time_of_day.astype(str) != "day",
    "occlusion": lambda t: pd.to_numeric(t.occluders) > 0,
    "weather (fog)": lambda t: pd.to_numeric(t.fog) > 0,
    "viewpoint change (> 15 deg)": lambda t: t.view_change > 15,
    "skyline (tilted up > 10 deg)": lambda t: pd.to_numeric(t.get("pitch", pd.Series(0.0, t.index))) > 10,
}


def failure_categories(data: dict, data_root: Path) -> pd.DataFrame:
    """Per query: correct at 1, and one boolean column per category (SynthCity only)."""
    table = query_conditions(data, data_root)
    missing = {"time_of_day", "occluders", "fog"} - set(table.columns)
    if missing:
        raise VPRInputError(f"Failure categories need SynthCity's conditions.csv under {data_root} "
                            f"(missing {sorted(missing)}); for real data use recall_by_condition.")
    out = pd.DataFrame({name: rule(table).to_numpy(bool) for name, rule in CATEGORIES.items()})
    out[CLEAN] = ~out.any(axis=1)
    out.insert(0, "correct@1", correct_at(data, 1))
    return out


def failure_table(runs: pd.DataFrame, test_set: str, data_root: Path) -> pd.DataFrame:
    """Per category: queries and their share of all queries, R@1 within it, and its share of all rank-1 failures
    (mean over runs): a category's share of failures means little beside its share of queries."""
    rows = []
    for run_id in runs.run_id:
        cats = failure_categories(Run(run_id).predictions(test_set), data_root)
        failed = ~cats.pop("correct@1").to_numpy()
        for name in cats.columns:
            inside = cats[name].to_numpy()
            rows.append({"category": name, "queries": int(inside.sum()),
                         "share of queries (%)": 100.0 * inside.mean(),
                         "R@1": 100.0 * (~failed[inside]).mean() if inside.any() else np.nan,
                         "share of failures (%)": 100.0 * (inside & failed).sum() / max(failed.sum(), 1)})
    table = pd.DataFrame(rows).groupby("category", sort=False).mean().round(1)
    table["queries"] = table["queries"].round().astype(int)  # the same count in every run
    return table


def recall_at_thresholds(runs: pd.DataFrame, test_sets, thresholds=(5, 10, 25, 50), ns=(1, 5)) -> pd.DataFrame:
    """R@N when a prediction counts as correct within each test-time threshold (metres), from the saved top-20
    predictions and UTMs: one row per run, test set and threshold (no descriptor is recomputed)."""
    rows = []
    for run in runs.itertuples():
        for test_set in test_sets:
            data = Run(run.run_id).predictions(test_set)
            predicted = data["database_utms"][data["predictions"]]              # (Q, 20, 2)
            metres = np.linalg.norm(predicted - data["queries_utms"][:, None, :], axis=2)
            for threshold in thresholds:
                within = metres <= threshold
                rows.append({"variant": run.variant, "seed": run.seed, "set": test_set, "threshold_m": threshold,
                             **{f"R@{n}": 100.0 * within[:, :n].any(axis=1).mean() for n in ns}})
    return pd.DataFrame(rows)


STALLED_POINTS = 3.0  # a variant whose last epoch is less than this above its epoch 0 did not train in its budget


def stalled_variants(epochs: pd.DataFrame, metric: str = "R@1") -> tuple[list, list, int]:
    """From an epochs table (variant, seed, epoch, metric): the variants whose last epoch (mean over seeds) ends
    below their epoch 0, those that end less than STALLED_POINTS above it, each as (variant, start, end), and
    the last epoch."""
    means = epochs.groupby(["variant", "epoch"], sort=False)[metric].mean().unstack()
    last = int(means.columns.max())
    rows = [(variant, row[0], row[last]) for variant, row in means.iterrows()]
    return ([r for r in rows if r[2] < r[1]], [r for r in rows if r[1] <= r[2] < r[1] + STALLED_POINTS], last)


def untrained_on_sets(results: pd.DataFrame, epoch0: pd.DataFrame, metric: str = "R@1") -> set:
    """(variant, set) pairs whose trained recall on that set (mean over seeds) ends below its epoch 0 on the same
    set, or less than STALLED_POINTS above it (results and epoch0: variant, seed, set, metric per run)."""
    end = results.groupby(["variant", "set"])[metric].mean()
    start = epoch0.groupby(["variant", "set"])[metric].mean()
    both = pd.concat({"end": end, "start": start}, axis=1).dropna()
    return {pair for pair, row in both.iterrows() if row["end"] < row["start"] + STALLED_POINTS}
