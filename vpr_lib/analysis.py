"""Analyses from saved predictions (never re-running a model): correctness per query, by condition."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from vpr_lib.datasets import conditions
from vpr_lib.evaluate import first_correct_rank
from vpr_lib.paths import results_dir


def load_predictions(run_id: str, test_set: str) -> dict:
    """A run's saved predictions on a test set folder (e.g. 'sf_xs/test'), positives unpacked."""
    path = results_dir() / "runs" / run_id / "predictions" / f"{test_set.replace('/', '_')}.npz"
    with np.load(path) as npz:
        data = {k: npz[k] for k in npz.files}
    offsets = data.pop("positives_offsets")
    flat = data.pop("positives")
    data["positives"] = [flat[a:b] for a, b in zip(offsets[:-1], offsets[1:])]
    return data


def correct_at(data: dict, n: int = 1) -> np.ndarray:
    """Per query, whether a positive is among its first n predictions."""
    rank = first_correct_rank(data["predictions"], data["positives"])
    return (rank > 0) & (rank <= n)


def recall_by_condition(runs: pd.DataFrame, test_sets, data_root: Path, by: str = "time_of_day",
                        n: int = 1) -> pd.DataFrame:
    """R@n per test set and query condition (SynthCity's conditions.csv), mean over the given runs."""
    meta = conditions(data_root)
    if meta is None:
        raise FileNotFoundError(f"{data_root} has no conditions.csv (only SynthCity records query conditions).")
    meta = meta.set_index("path")
    rows = []
    for run_id in runs.run_id:
        for test_set in test_sets:
            data = load_predictions(run_id, test_set)
            values = meta.loc[data["queries_paths"], by].to_numpy()
            ok = correct_at(data, n)
            for value in np.unique(values):
                rows.append({"run_id": run_id, "set": test_set, by: value,
                             f"R@{n}": 100.0 * ok[values == value].mean(), "queries": int((values == value).sum())})
    table = pd.DataFrame(rows)
    return table.groupby(["set", by], sort=False).agg({f"R@{n}": "mean", "queries": "first"}).round(1)
