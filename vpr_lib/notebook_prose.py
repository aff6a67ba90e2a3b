"""The notebooks' generated prose (Markdown), read from the resolved params and the tables so that it cannot disagree
with the runs: the training regime of a profile and the training progress of its variants. The findings are
vpr_lib.comparisons' and vpr_lib.brief's, shared with the report."""
from __future__ import annotations

import pandas as pd

from vpr_lib.analysis import STALLED_POINTS, stalled_variants
from vpr_lib.config import load_params, run_configs, trains
from vpr_lib.data.roots import count_places
from vpr_lib.models import VPRModel
from vpr_lib.models.backbones import stage_names
from vpr_lib.models.cache import cache_applies
from vpr_lib.train.samplers import sampling


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
        parts.append((f"By its last epoch this variant had not gained {STALLED_POINTS:g} points on its start in this "
                      "budget: its gap to the others reflects that, " if one else f"By their last epoch these had not "
                      f"gained {STALLED_POINTS:g} points on their start in this budget: their gap to the others reflects "
                      "that, ") + "not the method at convergence (the "
                     "tested checkpoint is each run's best SF-XS val epoch, which may lie earlier). Every other "
                     f"variant ends at least {STALLED_POINTS:g} points above its epoch 0 on SF-XS val.")
    else:
        parts.append(f"every variant ends at least {STALLED_POINTS:g} points above its own epoch 0 on SF-XS val (the "
                     "test sets' epoch 0 is in the table of test recalls).")
    return Markdown(" ".join(parts))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _other_seeds(params: dict) -> str:
    """' (`v`: 1 seed)' for the variants that run another number of seeds than the notebook's, or ''."""
    n = len(params.get("seeds", [0]))
    other = [f"`{v}`: {_plural(len(c['seeds']), 'seed')}" for v, c in params["variants"].items()
             if "seeds" in (c or {}) and len(c["seeds"]) != n]
    return f" ({'; '.join(other)})" if other else ""


def regime_note(params: dict, name: str = ""):
    """The training regime of a notebook's profile in words (Markdown), generated from its resolved params:
    backbone, weights, input and map sizes, frozen and trained parts, budget, seeds; and, outside the full
    profile, the full profile's (params file `name`)."""
    from IPython.display import Markdown

    configs = run_configs(params)
    config = configs[0]
    if not trains(config):
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
    draws, batch, epoch = "", sampling(config).batch_words(config), sampling(config).epoch_words(config)
    if epoch:
        per_epoch = epoch
    else:
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
    others = {c["variant"]: c for c in configs if c["sampler"] != config["sampler"] and not sampling(c).mined_triplets}
    parts += [f"`{variant}` draws batches of {sampling(c).batch_words(c)}." for variant, c in others.items()
              if sampling(c).batch_words(c) != batch]
    in_full = run_configs(load_params(name, "full")) if config["profile"] != "full" and name else []
    if in_full:  # a notebook whose params name no variant for the full profile is not part of it
        full = in_full[0]
        per_epoch = (sampling(full).epoch_words(full)
                     or f"{full['places_per_batch']} × {full['img_per_place']} batches")
        parts.append(f"The full profile (`--profile full --data-root …`, the real datasets) trains {full['backbone']} "
                     f"from {'ImageNet weights' if full['pretrained'] == 'imagenet' else full['pretrained']} at "
                     f"{full['image_size'][0]} px for {_plural(full['epochs'], 'epoch')} of {per_epoch}, as the "
                     f"course does.")
    return Markdown(" ".join(parts))
