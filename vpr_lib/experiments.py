"""Experiments: a params file's variants × seeds → runs (trained or reused) → tidy tables.

This is what the study notebooks call: one call, then tables and plots from the returned frames.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from vpr_lib.brief import versus_agreement
from vpr_lib.comparisons import chance_levels, findings, versus
from vpr_lib.config import run_configs, study_params
from vpr_lib.data.layout import data_label
from vpr_lib.errors import VPRInputError
from vpr_lib.family import descriptive_variants, family_size
from vpr_lib.models.costs import variant_costs
from vpr_lib.results import save_table
from vpr_lib.runs import Run
from vpr_lib.seeds import reference_numbers
from vpr_lib.train.run import train
from vpr_lib.train.checks import validate
from vpr_lib.train.initial import initial_recalls


@dataclass
class Experiment:
    name: str
    params: dict
    runs: pd.DataFrame  # per run: variant, seed, run_id, best_epoch, train_seconds, commit, profile, data, threshold_m
    results: pd.DataFrame  # one row per run and test set: R@1, R@5, R@10, R@20
    epochs: pd.DataFrame  # one row per run and epoch: train_loss, lr, val R@N
    initial: pd.DataFrame | None = None  # as results, for each run's model before training (epoch 0; train/initial.py)
    versus_first: pd.DataFrame | None = field(default=None, repr=False)  # every variant against the first (saved)

    def summary(self, metrics=("R@1", "R@5")) -> pd.DataFrame:
        """Mean ± std over seeds per variant and test set (a wide table, variants as rows); after each set's
        recalls, each variant's R@1 there before training (epoch 0); and a last row `chance`: the exact
        expectation of a random ranking."""
        table = summarise(self.results, metrics)
        chance = chance_levels(self.runs.run_id.iloc[0], self.results.set.unique(), metrics)
        start = summarise(self.initial, metrics[:1])
        for test_set in self.results.set.unique():
            column = f"{test_set} {metrics[0]} {EPOCH0}"
            table.insert(list(table.columns).index(f"{test_set} {metrics[-1]}") + 1, column,
                         start[f"{test_set} {metrics[0]}"].reindex(table.index))
            chance[column] = chance.get(f"{test_set} {metrics[0]}", np.nan)
        table = table.astype(object)
        table.loc["chance"] = [chance.get(c, np.nan) for c in table.columns]
        return table

    def compare(self, baseline: str | None = None, variants: list | None = None) -> "Comparison":
        """Every variant (or those in `variants`) against `baseline` (default: the first variant, the notebook's
        baseline, whose table run_experiment saved as <name>_versus.csv): the paired table of `versus` and its
        findings in words, shown together in a notebook."""
        first = self.results.variant.iloc[0]
        if (baseline is None or baseline == first) and variants is None and self.versus_first is not None:
            return Comparison(self.versus_first)
        baseline = baseline or first
        rows = self.results if variants is None else self.results[self.results.variant.isin({baseline, *variants})]
        return Comparison(versus(rows, baseline, family=family_size(self.params["profile"]),
                                 descriptive=descriptive_variants(self.params)))

    def findings(self) -> "Findings":
        """The notebook's findings in words, generated as the report's are: each comparison against the baseline
        with its difference, interval and verdict (comparisons.findings), and where a course report compares the
        same variants, its difference and whether the kit agrees (brief.versus_agreement)."""
        if self.versus_first is None:
            return Findings(f"**No comparison:** only `{self.results.variant.iloc[0]}` ran here.")
        parts = [findings(self.versus_first)]
        baseline = self.results.variant.iloc[0]
        pairs = versus_agreement(self.name, self.versus_first, baseline, reference_numbers())
        if pairs:
            parts.append("**Beside the course's reports** (their single runs: direction only): " + "; ".join(
                f"{p['source']} report `{p['variant']}` {p['report Δ']:+.1f} over `{baseline}` on {p['report set']}, "
                f"the kit {p['kit Δ']:+.1f} on {p['kit set']} ({p['kit verdict']}): {p['agreement']}" for p in pairs)
                + ".")
        else:
            parts.append("No course report compares these variants (docs/seeds_reference.csv).")
        return Findings("\n\n".join(parts))

    def costs(self, **kwargs) -> pd.DataFrame:
        """Descriptor size, parameters, FLOPs and extraction time of each variant that ran (models.costs)."""
        ran = set(self.results.variant)
        return variant_costs([c for c in run_configs(self.params) if c["variant"] in ran], **kwargs)

    def setting(self, key: str) -> pd.Series:
        """The resolved value of a parameter for each variant (e.g. its train-time positive radius)."""
        return pd.Series({c["variant"]: c[key] for c in run_configs(self.params)}, name=key)


EPOCH0 = "at epoch 0"  # the summary's column of a set's R@1 before training: '<set> R@1 at epoch 0'


@dataclass
class Findings:
    """A notebook's generated findings (Markdown), shown as Markdown in a notebook."""
    text: str

    def _ipython_display_(self):
        from IPython.display import Markdown, display
        display(Markdown(self.text))


@dataclass
class Comparison:
    """A `versus` table and its findings (comparisons.findings); a notebook cell shows both."""
    table: pd.DataFrame

    @property
    def text(self) -> str:
        return findings(self.table)

    def _ipython_display_(self):
        from IPython.display import Markdown, display
        display(self.table, Markdown(self.text))


def run_experiment(name: str, profile: str = "demo", data_root: str = "", overrides: dict | None = None,
                   variants: list | None = None, seeds: list | None = None,
                   progress: bool | None = None, save: bool = True) -> Experiment:
    """Train (or reuse) every run of params/<name>.yaml and save its tables under results/tables/.

    `variants` and `seeds` run only those of the profile's (a notebook's parameters cell sets them: a student with
    a few GPU hours picks `["gem", "mixvpr"]` and `[0]`); the tables then hold exactly what ran.
    Progress bars show unless `progress` is False or VPR_NO_PROGRESS is set (as run_all does).  A notebook that
    analyses another's runs (03, 12) passes save=False: the tables of that experiment stay its own notebook's."""
    if progress is None:
        progress = not os.environ.get("VPR_NO_PROGRESS")
    changes = dict(overrides or {})
    if seeds is not None:
        changes["seeds"] = list(seeds)
    params = study_params(name, profile, data_root, changes)
    if variants is not None:
        unknown = sorted(set(variants) - set(params["variants"]))
        if unknown or not variants:
            raise VPRInputError(f"variants {list(variants)!r} of {name}: expected a non-empty list among the "
                                f"{profile} profile's {list(params['variants'])}.")
        params["variants"] = {v: params["variants"][v] for v in params["variants"] if v in set(variants)}
    configs = run_configs(params)
    for config in configs:  # a bad name in any variant stops before anything trains
        validate(config)
    runs, results, epochs, initial = [], [], [], []
    for config in configs:
        run = Run.at(train(config, progress=progress))
        metrics = run.metrics()
        key = {"variant": config["variant"], "seed": config["seed"]}
        runs.append(dict(key, run_id=run.id, best_epoch=metrics["best_epoch"],
                         train_seconds=metrics["train_seconds"], commit=run.env().get("git_commit"), profile=config["profile"],
                         data=data_label(config["data_root"], config["profile"]),
                         threshold_m=config["positive_dist_threshold"]))
        for test_set, recalls in metrics["test"].items():
            results.append(dict(key, run_id=run.id, set=test_set, **recalls))
        for test_set, recalls in initial_recalls(config, run).items():
            initial.append(dict(key, run_id=run.id, set=test_set, **recalls))
        epochs.append(run.epochs().assign(**key))
    exp = Experiment(name, params, pd.DataFrame(runs), pd.DataFrame(results), pd.concat(epochs, ignore_index=True),
                     pd.DataFrame(initial))
    if not save:
        return exp
    save_table(exp.runs, f"{name}_runs")
    save_table(exp.results, f"{name}_results")
    save_table(exp.epochs, f"{name}_epochs")
    save_table(exp.initial, f"{name}_epoch0")
    save_table(exp.summary().reset_index(), f"{name}_summary")
    if exp.results.variant.nunique() > 1:  # every variant against the first one, the notebook's baseline
        exp.versus_first = versus(exp.results, configs[0]["variant"], family=family_size(profile),
                                  descriptive=descriptive_variants(params))
        save_table(exp.versus_first.reset_index(), f"{name}_versus")
    return exp


def _cell(values) -> str:
    """'mean ± std' over seeds; one seed has no spread: 'value (1 seed)'."""
    values = np.asarray(values, float)
    if len(values) == 1:
        return f"{values[0]:.1f} (1 seed)"
    return f"{values.mean():.1f} ± {values.std(ddof=1):.1f}"


def summarise(results: pd.DataFrame, metrics=("R@1", "R@5")) -> pd.DataFrame:
    """'mean ± std' cells (over seeds) per variant (rows) and test set × metric (columns)."""
    table = results.groupby(["variant", "set"], sort=False)[list(metrics)].agg(_cell).unstack("set")
    table.columns = [f"{s} {m}" for m, s in table.columns]
    order = [f"{s} {m}" for s in results.set.unique() for m in metrics]
    return table[order]
