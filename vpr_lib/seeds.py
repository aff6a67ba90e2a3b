"""The course reports' numbers beside the kit's, for the comparisons both make.

`docs/seeds_reference.csv` holds the numbers read from the course's student reports and lecture (one row per
notebook, comparison, variant, source, test set and metric; docs/references.md cites the sources). The kit's side is read
from results/tables/<notebook>_results.csv, so the table always shows the runs of the results store."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from vpr_lib.paths import repo_root, results_dir

KIT_SET = "SF-XS test"  # the kit's column; the reports mostly test on SF-XS test or their own sets
PREFERRED_SETS = ("SF-XS test", "Tokyo-XS", "Pitts30k test", "Pitts30k")


def reference_numbers(path: Path | None = None) -> pd.DataFrame:
    return pd.read_csv(path or repo_root() / "docs" / "seeds_reference.csv")


def _ranks(values: pd.Series) -> pd.Series:
    return values.rank(ascending=False, method="min").astype("Int64")


def seeds_vs_kit(results: Path | None = None, reference: pd.DataFrame | None = None,
                 metric: str = "R@1") -> pd.DataFrame:
    """One row per compared variant: the report's R@1 on its own test set and its rank within the comparison,
    the kit's R@1 on SF-XS test (mean ± std over seeds) and its rank among the same variants. A comparison
    needs two variants on each side; per comparison the first source listed and its preferred test set."""
    tables = Path(results or results_dir()) / "tables"
    reference = reference_numbers() if reference is None else reference
    reference = reference[reference.metric == metric]
    rows = []
    for (notebook, comparison), ref in reference.groupby(["notebook", "comparison"], sort=False):
        kit_file = tables / f"{notebook}_results.csv"
        if not kit_file.is_file():
            continue
        kit = pd.read_csv(kit_file)
        kit = kit[kit.set == KIT_SET].groupby("variant")[metric].agg(["mean", "std", "count"])
        source = ref.source.iloc[0]
        ref = ref[(ref.source == source) & ref.variant.isin(kit.index)]
        sets = [s for s in PREFERRED_SETS if s in set(ref.test_set)] or list(ref.test_set.unique())
        if not sets:
            continue
        ref = ref[ref.test_set == sets[0]].drop_duplicates("variant").set_index("variant")
        if len(ref) < 2:
            continue
        kit = kit.loc[ref.index]
        block = pd.DataFrame({
            "comparison": comparison, "variant": ref.index, "source": source.split(":")[0],
            "report set": ref.test_set.values, f"report {metric}": ref.value.values,
            "report rank": _ranks(ref.value).values,
            f"kit {KIT_SET} {metric}": [f"{m:.1f} ± {s:.1f}" for m, s in zip(kit["mean"], kit["std"].fillna(0))],
            "kit rank": _ranks(kit["mean"]).values, "kit seeds": kit["count"].values})
        rows.append(block)
    columns = ["comparison", "variant", "source", "report set", f"report {metric}", "report rank",
               f"kit {KIT_SET} {metric}", "kit rank", "kit seeds"]
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=columns)
