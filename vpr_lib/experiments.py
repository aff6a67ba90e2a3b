"""Experiments: a params file's variants × seeds → runs (trained or reused) → tidy tables.

This is what the study notebooks call: one call, then tables and plots from the returned frames.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from vpr_lib.analysis import STALLED_POINTS, stalled_variants
from vpr_lib.brief import versus_agreement
from vpr_lib.comparisons import chance_levels, findings, versus
from vpr_lib.config import load_params, run_configs, study_params
from vpr_lib.data import PlacesDataset
from vpr_lib.data.roots import resolve_data_root
from vpr_lib.data.layout import data_label
from vpr_lib.errors import VPRInputError
from vpr_lib.family import descriptive_variants, family_size
from vpr_lib.models import VPRModel
from vpr_lib.models.backbones import stage_names
from vpr_lib.models.cache import cache_applies
from vpr_lib.models.costs import variant_costs
from vpr_lib.results import save_table
from vpr_lib.seeds import reference_numbers
from vpr_lib.train.run import train
from vpr_lib.train.checks import validate
from vpr_lib.train.initial import initial_recalls
from vpr_lib.settings import TRIPLET_KWARGS


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
        run_dir = train(config, progress=progress)
        metrics = json.loads((run_dir / "metrics.json").read_text())
        key = {"variant": config["variant"], "seed": config["seed"]}
        commit = json.loads((run_dir / "env.json").read_text()).get("git_commit")
        runs.append(dict(key, run_id=run_dir.name, best_epoch=metrics["best_epoch"],
                         train_seconds=metrics["train_seconds"], commit=commit, profile=config["profile"],
                         data=data_label(config["data_root"], config["profile"]),
                         threshold_m=config["positive_dist_threshold"]))
        for test_set, recalls in metrics["test"].items():
            results.append(dict(key, run_id=run_dir.name, set=test_set, **recalls))
        for test_set, recalls in initial_recalls(config, run_dir).items():
            initial.append(dict(key, run_id=run_dir.name, set=test_set, **recalls))
        epochs.append(pd.read_csv(run_dir / "epochs.csv").assign(**key))
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


def _other_seeds(params: dict) -> str:
    """' (`v`: 1 seed)' for the variants that run another number of seeds than the notebook's, or ''."""
    n = len(params.get("seeds", [0]))
    other = [f"`{v}`: {_plural(len(c['seeds']), 'seed')}" for v, c in params["variants"].items()
             if "seeds" in (c or {}) and len(c["seeds"]) != n]
    return f" ({'; '.join(other)})" if other else ""


def summarise(results: pd.DataFrame, metrics=("R@1", "R@5")) -> pd.DataFrame:
    """'mean ± std' cells (over seeds) per variant (rows) and test set × metric (columns)."""
    table = results.groupby(["variant", "set"], sort=False)[list(metrics)].agg(_cell).unstack("set")
    table.columns = [f"{s} {m}" for m, s in table.columns]
    order = [f"{s} {m}" for s in results.set.unique() for m in metrics]
    return table[order]


def count_places(config: dict, generate_missing: bool = True) -> int | None:
    """Places of a run's training set (None when the data is not there; a missing SynthCity is generated first
    unless `generate_missing` is False)."""
    try:
        root = resolve_data_root(config["data_root"], config["profile"], generate_missing)
        return len(PlacesDataset.from_folder(root / config["train_set"], img_per_place=config["img_per_place"],
                                             min_img_per_place=config["min_img_per_place"]))
    except VPRInputError:
        return None


def below_start(epochs: pd.DataFrame, metric: str = "R@1"):
    """In words (Markdown): the variants that end below their epoch 0 or barely above it (validation, mean over
    seeds): their comparison with the others says that they did not train in this budget, not how good they are."""
    from IPython.display import Markdown
    below, stalled, last = stalled_variants(epochs, metric)
    listed = lambda rows: "; ".join(f"`{v}` ({start:.1f} → {end:.1f})" for v, start, end in rows)
    parts = [f"**Training progress** (SF-XS val {metric} at epoch 0 → epoch {last}, mean over seeds):"]
    if below:
        parts.append(f"below its own start: {listed(below)}.")
    if stalled:
        parts.append(f"less than {STALLED_POINTS:g} points above its own start: {listed(stalled)}.")
    if below or stalled:
        one = len(below) + len(stalled) == 1
        parts.append(("By its last epoch this variant had not improved on its start in this budget: its gap to the "
                      "others reflects that, " if one else "By their last epoch these had not improved on their start "
                      "in this budget: their gap to the others reflects that, ") + "not the method at convergence (the "
                     "tested checkpoint is each run's best SF-XS val epoch, which may lie earlier). Every other "
                     f"variant ends at least {STALLED_POINTS:g} points above its epoch 0 on SF-XS val.")
    else:
        parts.append(f"every variant ends at least {STALLED_POINTS:g} points above its own epoch 0 on SF-XS val (the "
                     "test sets' epoch 0 is in the table of test recalls).")
    return Markdown(" ".join(parts))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _batch_words(config: dict) -> str:
    """A batch of a place-based or self-supervised sampler in words."""
    if config["sampler"] == "self_supervised":
        return (f"{config['places_per_batch']} images × {config['img_per_place']} augmented views of each, labelled "
                f"by image (no place labels)")
    return f"{config['places_per_batch']} places × {config['img_per_place']} images"


def regime_note(params: dict, name: str = ""):
    """The training regime of a notebook's profile in words (Markdown), generated from its resolved params:
    backbone, weights, input and map sizes, frozen and trained parts, budget, seeds; and, outside the full
    profile, the full profile's (params file `name`)."""
    from IPython.display import Markdown

    configs = run_configs(params)
    config = configs[0]
    if "loss" not in config:
        return Markdown("")
    model = VPRModel.from_config(config, pretrained="none")
    names = stage_names(config["backbone"])
    stages = names[: names.index(config["last_stage"]) + 1]
    frozen, trained = stages[: config["frozen_stages"]], stages[config["frozen_stages"]:]
    size, batches = config["image_size"], config["limit_train_batches"]
    per_epoch = (_plural(batches, "batch").replace("batchs", "batches") if isinstance(batches, int) else
                 "one pass over the training set" if batches == 1 else f"{batches:.0%} of a pass over the training set")
    weights = "ImageNet weights" if config["pretrained"] == "imagenet" else f"initial weights: {config['pretrained']}"
    parts = [f"**Training regime ({config['profile']} profile, read from the params).** {config['backbone']} ({weights}) "
             f"cut after {config['last_stage']}: {' × '.join(map(str, model.feature_shape))} maps (C × H × W) at "
             f"{size[0]} × {size[1]} px."]
    if frozen:
        cached = ", computed once per image and cached" if cache_applies(config) else ""
        blocks = f"the first {model.backbone.prefix_len} of the {len(model.backbone.body)} modules of torchvision's " \
                 f"{config['backbone']} up to {config['last_stage']}"
        parts.append(f"Frozen: {', '.join(frozen)} ({blocks}){cached}; trained: {', '.join(trained) or 'no trunk stage'} "
                     f"and the aggregator.")
    else:
        parts.append("The whole trunk trains with the aggregator.")
    draws = ""
    if config["sampler"] == "triplets":
        kwargs = {**TRIPLET_KWARGS, **config["sampler_kwargs"]}
        per_epoch = f"{kwargs['queries_per_epoch']} queries"
        batch = (f"{kwargs['queries_per_batch']} queries × (query, positive, {kwargs['negatives']} mined negatives), "
                 f"the cache of triplets refreshed every {kwargs['cache_refresh']} queries")
    else:
        batch = _batch_words(config)
        places = count_places(config, generate_missing=False)  # a note does not generate data
        if places:
            full = places // config["places_per_batch"]
            steps = config["epochs"] * (batches if isinstance(batches, int) else int(full * batches))
            draws = (f"Each of the {places:,} training places is drawn about "
                     f"{steps * config['places_per_batch'] / places:.1f} times in the whole run.")
    parts.append(f"{_plural(config['epochs'], 'epoch')} of {per_epoch} in batches of {batch}, {config['optimizer']} lr "
                 f"{config['optimizer_kwargs'].get('lr')}, augmentation {config['augment']}, "
                 f"{_plural(len(params.get('seeds', [0])), 'seed')} per variant{_other_seeds(params)}. {draws} A "
                 f"variant's own settings (the params file) override these.".replace("  ", " "))
    samplers = {c["variant"]: c for c in configs if c["sampler"] not in (config["sampler"], "triplets")}
    parts += [f"`{variant}` draws batches of {_batch_words(c)}." for variant, c in samplers.items()
              if _batch_words(c) != batch]
    if config["profile"] != "full" and name:
        full = run_configs(load_params(name, "full"))[0]
        per_epoch = (f"{ {**TRIPLET_KWARGS, **full['sampler_kwargs']}['queries_per_epoch']:,} mined queries"
                     if full["sampler"] == "triplets" else f"{full['places_per_batch']} × {full['img_per_place']} batches")
        parts.append(f"The full profile (`--profile full --data-root …`, the real datasets) trains {full['backbone']} "
                     f"from {'ImageNet weights' if full['pretrained'] == 'imagenet' else full['pretrained']} at "
                     f"{full['image_size'][0]} px for {_plural(full['epochs'], 'epoch')} of {per_epoch}, as the "
                     f"course does.")
    return Markdown(" ".join(parts))
