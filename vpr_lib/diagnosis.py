"""Where the kit disagrees with a course report (vpr_lib.brief: `disagree`, `disagree in size`), the measurements that
bear on why, all read from the results tables: a diagnosis, never a tuned fix. For each disagreement:

- **selection set**: the kit's SF-XS val difference and interval, and the other test set's: does the report's
  direction appear anywhere in the kit?
- **start**: the difference before training (epoch 0) on the same set;
- **settling**: SF-XS val R@1 moved at the last epoch (mean over seeds) by the variant and by its baseline; a move of
  SETTLED_POINTS or more means training had not settled;
- **conditions**, where notebook 03 analysed both (`03_recall_by_<condition>_<variant>`, `03_gap_by_<condition>_<variant>`):
  R@1 by camera, viewpoint change, time of day and occluders, and the gap between them in each, paired by seed, with its 95 %
  interval (uncorrected: it locates the difference);
- **settings**: the report's setting as the course reference records it, beside the kit's (its params);
- **size**, where the notebook ran the variant's aggregator again at its baseline's descriptor size (the costs
  table): that twin against the same baseline.

`what_it_shows` states, from those numbers alone, where the disagreement lies and which checks do not account for it.
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from vpr_lib.stats import cell_mean
from vpr_lib.brief import DISAGREEMENTS, KIT_TEST_SETS, interval
from vpr_lib.comparisons import SELECTION_SET, verdict_words
from vpr_lib.config import load_params, run_configs
from vpr_lib.data.layout import TEST_SETS
from vpr_lib.train.optim import lr_ends_at_zero, scheduler_kwargs
from vpr_lib.train.samplers import sampling

CONDITIONS = ("camera", "viewpoint", "time_of_day", "occluders")
SETTLED_POINTS = 1.0  # SF-XS val R@1 that the last epoch may still move for training to count as settled


def _read(tables: Path, name: str) -> pd.DataFrame | None:
    path = tables / f"{name}.csv"
    return pd.read_csv(path) if path.is_file() else None


def _direction(ci: str) -> int:
    """+1 when the interval lies above 0, -1 below, 0 when it holds 0."""
    low, high = interval(ci)
    return 1 if low > 0 else -1 if high < 0 else 0


def last_epoch_gain(epochs: pd.DataFrame, variant: str, metric: str = "R@1") -> float:
    """SF-XS val R@1 of the last epoch minus the one before (mean over seeds)."""
    means = epochs[epochs.variant == variant].groupby("epoch")[metric].mean().sort_index()
    return float(means.iloc[-1] - means.iloc[-2])


def condition_gaps(tables: Path, variant: str, baseline: str, kit_set: str) -> pd.DataFrame | None:
    """R@1 of variant and baseline per query condition on one set (notebook 03's tables), with the paired gap and its
    95 % interval, for each condition 03 analysed both in against that baseline; None when there is none."""
    rows = []
    for condition in CONDITIONS:
        mine, theirs = _read(tables, f"03_recall_by_{condition}_{variant}"), _read(tables, f"03_recall_by_{condition}_{baseline}")
        gaps = _read(tables, f"03_gap_by_{condition}_{variant}")
        if mine is None or theirs is None or gaps is None or set(gaps.baseline) != {baseline}:
            continue  # a condition the data has not (real data: no camera, no occluders) or 03 did not pair
        both = mine.merge(theirs, on=["set", condition, "queries"], suffixes=(" variant", " baseline")
                          ).merge(gaps, on=["set", condition, "queries"])
        both = both[both.set == TEST_SETS[kit_set]]
        for _, r in both.iterrows():
            rows.append({"condition": condition.replace("_", " "), "value": str(r[condition]),
                         "queries": int(r["queries"]), variant: float(r["R@1 variant"]),
                         baseline: float(r["R@1 baseline"]), "gap": float(r["Δ R@1"]), "gap 95% CI": r["95% CI"]})
    return pd.DataFrame(rows) if rows else None


def size_twin(tables: Path, notebook: str, variant: str, baseline: str) -> str | None:
    """The variant of the same notebook with the same aggregator and backbone at the baseline's descriptor size."""
    costs = _read(tables, f"{notebook}_costs")
    if costs is None or "aggregator" not in costs:
        return None
    costs = costs.set_index("variant")
    if variant not in costs.index or baseline not in costs.index:
        return None
    mine, dim = costs.loc[variant], costs.loc[baseline, "descriptor dim"]
    if mine["descriptor dim"] == dim:
        return None
    twins = costs[(costs.aggregator == mine.aggregator) & (costs.backbone == mine.backbone) &
                  (costs["descriptor dim"] == dim) & (costs["feature map (C, H, W)"] == mine["feature map (C, H, W)"])]
    return twins.index[0] if len(twins) else None


def _configs(notebook: str, profile: str) -> dict:
    """{variant: its resolved params (first seed)} in the profile that ran the notebook."""
    configs = {}
    for config in run_configs(load_params(notebook, profile)):
        configs.setdefault(config["variant"], config)
    return configs


def _lr_ends_at_zero(config: dict | None) -> bool:
    return config is not None and lr_ends_at_zero(config["scheduler"], config["scheduler_kwargs"], config["epochs"])


def kit_setting(notebook: str, profile: str, variant: str, data: str) -> str | None:
    """How the kit trained a variant (its params in the profile that ran it), in the terms a report's setting uses;
    None when those params hold no such variant."""
    config = _configs(notebook, profile).get(variant)
    return None if config is None else _setting_words(config, data)


def _setting_words(config: dict, data: str) -> str:
    def kwargs(values: dict) -> str:
        return f" ({', '.join(f'{k} {v}' for k, v in values.items())})" if values else ""

    scheduler = scheduler_kwargs(config["scheduler"], config["scheduler_kwargs"], config["epochs"])
    share = config["limit_train_batches"]
    per_epoch = f"{share} batches" if isinstance(share, int) else f"{share:.0%} of a pass over the training set"
    miner = "no miner" if config["miner"] == "none" else f"{config['miner']} miner"
    return (f"{config['backbone']} ({'ImageNet weights' if config['pretrained'] == 'imagenet' else config['pretrained']}) "
            f"cut after {config['last_stage']} at {config['image_size'][0]} px, {config['loss']} loss"
            f"{kwargs(config['loss_kwargs'])} with {miner}{kwargs(config['miner_kwargs'])}, batches of "
            f"{sampling(config).batch_words(config)}, {config['optimizer']}{kwargs(config['optimizer_kwargs'])}, "
            f"scheduler {config['scheduler']}{kwargs(scheduler)}, {config['epochs']} epochs of "
            f"{per_epoch}, trained on {data}'s {config['train_set']}")


def diagnose(pair: dict, tables: Path) -> dict:
    """The checks of one disagreement (a row of brief_table's pairs)."""
    name, variant, kit_set = pair["notebook"], pair["variant"], pair["kit set"]
    versus = pd.read_csv(tables / f"{name}_versus.csv").set_index("variant")
    runs = pd.read_csv(tables / f"{name}_runs.csv")
    baseline = runs.variant.iloc[0]
    summary = pd.read_csv(tables / f"{name}_summary.csv").set_index("variant")
    epochs = _read(tables, f"{name}_epochs")
    row = versus.loc[variant]
    other = [s for s in KIT_TEST_SETS if s != kit_set and f"{s} verdict" in versus]
    found = {**pair, "baseline": baseline,
             "val Δ": float(row[f"{SELECTION_SET} Δ R@1"]), "val CI": row[f"{SELECTION_SET} 95% CI"],
             "other set": other[0] if other else None,
             "other Δ": float(row[f"{other[0]} Δ R@1"]) if other else None,
             "other CI": row[f"{other[0]} 95% CI"] if other else None,
             "other verdict": row[f"{other[0]} verdict"] if other else None}
    start = f"{kit_set} R@1 at epoch 0"
    if start in summary:
        found["epoch 0 Δ"] = round(cell_mean(summary.loc[variant, start]) - cell_mean(summary.loc[baseline, start]), 1)
    if epochs is not None and epochs.epoch.nunique() > 1:
        found["last-epoch gain"] = round(last_epoch_gain(epochs, variant), 1)
        found["baseline last-epoch gain"] = round(last_epoch_gain(epochs, baseline), 1)
    first = runs[runs.variant == variant].iloc[0]
    if {"profile", "data"} <= set(runs.columns):
        configs = _configs(name, first.profile)
        found["kit setting"] = _setting_words(configs[variant], first.data) if variant in configs else None
        found["lr ends at 0"] = {who: _lr_ends_at_zero(configs.get(v))
                                 for who, v in (("the variant", variant), ("its baseline", baseline))}
    found["conditions"] = condition_gaps(tables, variant, baseline, kit_set)
    twin = size_twin(tables, name, variant, baseline)
    if twin is not None and twin in versus.index:
        costs = pd.read_csv(tables / f"{name}_costs.csv").set_index("variant")
        found["twin"] = {"variant": twin, "dim": int(costs.loc[twin, "descriptor dim"]),
                         "own dim": int(costs.loc[variant, "descriptor dim"]),
                         "Δ": float(versus.loc[twin, f"{kit_set} Δ R@1"]), "CI": versus.loc[twin, f"{kit_set} 95% CI"],
                         "verdict": versus.loc[twin, f"{kit_set} verdict"]}
    return found


def _where(kit_set: str, verdict: str, ci, sign: int) -> str:
    """The set, when the kit finds the report's direction there: decided, or (qualified) by its uncorrected interval."""
    if verdict in ("better", "worse"):
        return kit_set if (verdict == "better") == (sign > 0) else ""
    return f"{kit_set} (uncorrected)" if isinstance(ci, str) and _direction(ci) == sign else ""


def what_it_shows(d: dict) -> list[str]:
    """Sentences on where the disagreement lies and which checks do not account for it, from diagnose()'s numbers."""
    sign = 1 if d["report Δ"] > 0 else -1
    words = {1: "the report's direction", -1: "the other direction", 0: "an interval that holds 0"}
    said = [f"On {d['kit set']} the kit finds {d['kit Δ']:+.1f} {d['kit 95% CI']} ({verdict_words(d['kit verdict'], d['kit 95% CI'])}), an interval "
            f"that excludes the report's {d['report Δ']:+.1f}.",
            f"On {SELECTION_SET} (the selection set: optimistic, untested) {d['val Δ']:+.1f} {d['val CI']}: "
            f"{words[_direction(d['val CI']) * sign]}."]
    where = [_where(d["kit set"], d["kit verdict"], d["kit 95% CI"], sign)] + \
        [SELECTION_SET] * (_direction(d["val CI"]) == sign)
    if where[0] and d["kit verdict"] not in ("better", "worse"):
        size = "smaller" if abs(d["kit Δ"]) < abs(d["report Δ"]) else "larger"
        said[0] += (f" Uncorrected, that interval lies on the report's side of 0: the kit finds the report's direction, "
                    f"{size} in size.")
    if d.get("other set"):
        said.append(f"On {d['other set']} {d['other Δ']:+.1f} {d['other CI']} ({d['other verdict']}).")
        where.append(_where(d["other set"], d["other verdict"], d["other CI"], sign))
    where = [w for w in where if w]
    if d.get("report note"):
        note = re.sub(r"(?<!\w)'?(Tables?|Figure|Fig\.) ?(\d+)'?", r"the report's \1 \2", d["report note"])
        said.append(f"The settings differ. The report's number, as the course reference records it: {note}. "
                    + (f"The kit trained `{d['variant']}` with {d['kit setting']}. " if d.get("kit setting") else
                       "The kit's setting is its notebook's training regime. ") +
                    "Which of the differences accounts for the disagreement is not measured.")
    if "epoch 0 Δ" in d:
        said.append(f"Before training the two differ by {d['epoch 0 Δ']:+.1f} on {d['kit set']} (epoch 0)." if
                    d["epoch 0 Δ"] else "Both start from the same network (the same recall at epoch 0).")
    gains = [g for g in (d.get("last-epoch gain"), d.get("baseline last-epoch gain")) if g is not None]
    if gains:
        moving = [who for who, g in (("the variant", d.get("last-epoch gain")),
                                     ("its baseline", d.get("baseline last-epoch gain"))) if g is not None and abs(g) >= SETTLED_POINTS]
        annealed = [who for who, zero in d.get("lr ends at 0", {}).items() if zero and who not in moving]
        caveat = (f"; {' and '.join(annealed)} trained under a schedule that ends at a learning rate of 0, where a "
                  "small last move does not show settling" if annealed else "")
        said.append((f"Training had settled (SF-XS val R@1 moved less than {SETTLED_POINTS:g} point at the last epoch)."
                     if not annealed else f"SF-XS val R@1 moved less than {SETTLED_POINTS:g} point at the last epoch"
                     f"{caveat}: whether training had settled is not shown, and the answer is this budget's.")
                    if not moving else
                    f"At the last epoch SF-XS val R@1 still moved {d['last-epoch gain']:+.1f} for the variant and "
                    f"{d['baseline last-epoch gain']:+.1f} for its baseline, so {' and '.join(moving)} had not settled "
                    f"(a move of {SETTLED_POINTS:g} point or more{caveat}): the answer is this budget's, and which way "
                    "a longer one would move it is not measured.")
    twin = d.get("twin")
    if twin:
        said.append(f"Cut to the baseline's descriptor size ({twin['dim']}-d, where `{d['variant']}` gives "
                    f"{twin['own dim']}-d), `{twin['variant']}` gives {twin['Δ']:+.1f} {twin['CI']} ({twin['verdict']}): "
                    "descriptor size " +
                    ("does not account for it." if twin["verdict"] == d["kit verdict"] else "changes the verdict."))
    gaps = d.get("conditions")
    if gaps is not None and len(gaps) > 1:
        worst, best = gaps.loc[gaps.gap.idxmin()], gaps.loc[gaps.gap.idxmax()]
        lows = [interval(ci) for ci in gaps["gap 95% CI"]]
        below, above = sum(h < 0 for _, h in lows), sum(lo > 0 for lo, _ in lows)
        said.append(f"By condition on {d['kit set']}, `{d['variant']}` against `{d['baseline']}` ranges from "
                    f"{worst.gap:+.1f} R@1 {worst['gap 95% CI']} ({worst.condition} {worst.value}, {worst.queries} "
                    f"queries) to {best.gap:+.1f} {best['gap 95% CI']} ({best.condition} {best.value}, {best.queries} "
                    f"queries); the gap's interval (uncorrected) lies below 0 in {below} and above 0 in {above} of the "
                    f"{len(gaps)} condition rows (each condition splits the same queries). SynthCity chose how "
                    "its queries spread over these conditions, and how the real set spreads them is not documented "
                    "in the kit's sources (docs/synthcity.md).")
    if twin and twin["verdict"] != d["kit verdict"]:
        return said
    said.append(f"The report's direction shows on {', '.join(where[:-1]) + ' and ' if len(where) > 1 else ''}{where[-1]}; "
                "these checks do not explain the disagreement."
                if where else "Not explained by these checks.")
    return said


def disagreements(pairs: pd.DataFrame, tables: Path) -> list[dict]:
    """diagnose() of every disagreement among brief_table's pairs, in step order."""
    if pairs.empty:
        return []
    return [diagnose(row, Path(tables)) for row in pairs[pairs.agreement.isin(DISAGREEMENTS)].to_dict("records")]
