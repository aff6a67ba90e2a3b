"""Checks of a resolved run config, before anything trains: every factory name known (the error lists the valid
ones), every value of its default's type, lists of the right form, and the sampler's constraints."""
from vpr_lib.data.transforms import AUGMENTATIONS
from vpr_lib.data.triplets import MININGS
from vpr_lib.errors import VPRInputError
from vpr_lib.models.aggregators import AGGREGATORS
from vpr_lib.models.backbones import BACKBONES, stage_names
from vpr_lib.train.losses import CLASSIFICATION_LOSSES, LOSSES, MINERS
from vpr_lib.train.optim import OPTIMIZERS, SCHEDULERS
from vpr_lib.train.samplers import SAMPLERS
from vpr_lib.settings import FLEXIBLE_TYPES, TRAIN_DEFAULTS


def check_types(config: dict, where: str = "") -> None:
    """Stop with the expected type when a value has the wrong one (`epochs: "3"`, `image_size: 32`)."""
    for key, default in TRAIN_DEFAULTS.items():
        if key not in config:
            continue
        allowed = FLEXIBLE_TYPES.get(key) or ((bool,) if isinstance(default, bool) else
                                              (int, float) if isinstance(default, (int, float)) else (type(default),))
        value = config[key]
        if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
            names = " or ".join("null" if t is type(None) else t.__name__ for t in allowed)
            raise VPRInputError(f"Parameter {key}{where} must be {names}, got {value!r} ({type(value).__name__}).")


def check_shapes(config: dict, where: str = "") -> None:
    """Stop with the expected form when a list has the wrong length or items (`image_size: [32]`)."""
    size = config.get("image_size")
    if size is not None and not (isinstance(size, list) and len(size) == 2
                                 and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size)):
        raise VPRInputError(f"Parameter image_size{where} must be [height, width] (two positive ints), got {size!r}.")
    sets = config.get("test_sets")
    if sets is not None and not (isinstance(sets, list) and sets and all(isinstance(v, str) for v in sets)):
        raise VPRInputError(f"Parameter test_sets{where} must be a non-empty list of set folders "
                            f"(e.g. [sf_xs/test, tokyo_xs/test]), got {sets!r}.")


def _whole(low: int):
    return (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= low), f"an integer >= {low}"


_POSITIVE = (lambda v: v > 0), "a positive number"
# The values a key may take beyond its type (checked after check_types): what else would train forever (Lightning
# reads epochs=-1 as "no limit"), fail deep inside a library, or train without a positive pair.
RANGES = {"epochs": _whole(1), "places_per_batch": _whole(2), "img_per_place": _whole(1),
          "min_img_per_place": _whole(1), "warmup_epochs": _whole(0), "frozen_stages": _whole(0),
          "num_workers": _whole(0), "eval_batch_size": _whole(1), "num_nodes": _whole(1),
          "positive_dist_threshold": _POSITIVE, "train_positives_m": _POSITIVE, "image_scale": _POSITIVE,
          # Lightning's: a fraction of the epoch's batches (0 < f <= 1) or a number of them (an integer >= 1)
          "limit_train_batches": ((lambda v: 0 < v <= 1 if isinstance(v, float) else v >= 1),
                                  "a fraction in (0, 1] or a whole number of batches >= 1")}
# Keys of a run config beside the training parameters (`seeds` is replaced by each run's `seed`).
RUN_KEYS = ("variant", "seed", "profile")


def check_ranges(config: dict, where: str = "") -> None:
    """Stop with the valid range when a value is of the right type but outside it (`epochs: -1`)."""
    for key, (ok, words) in RANGES.items():
        if key in config and not ok(config[key]):
            raise VPRInputError(f"Parameter {key}{where} must be {words}, got {config[key]!r}.")
    if config.get("img_per_place", 2) < 2 and config.get("loss") not in CLASSIFICATION_LOSSES:
        raise VPRInputError(f"Parameter img_per_place{where} must be >= 2 with the pair loss {config['loss']!r} (a "
                            f"place needs two images to give a positive pair), got {config['img_per_place']!r}.")


def validate(config: dict) -> None:
    """Stop early, with the valid names, when a key, a factory name, a type or a range of a run config is wrong."""
    where = f" (variant {config['variant']})" if "variant" in config else ""
    unknown = sorted(set(config) - set(TRAIN_DEFAULTS) - set(RUN_KEYS) - {"seeds"})
    if unknown:
        raise VPRInputError(f"Unknown parameter(s) {unknown}{where} in a run config; valid keys: "
                            f"{sorted(TRAIN_DEFAULTS)}.")
    for key, valid in (("aggregator", AGGREGATORS), ("loss", LOSSES), ("miner", MINERS), ("optimizer", OPTIMIZERS),
                       ("scheduler", SCHEDULERS), ("augment", AUGMENTATIONS), ("loss_optimizer", OPTIMIZERS),
                       ("sampler", SAMPLERS), ("backbone", BACKBONES)):
        if config[key] not in valid:
            raise VPRInputError(f"Unknown {key} {config[key]!r}{where}; expected one of {sorted(valid)}.")
    stages = stage_names(config["backbone"])
    if config["last_stage"] not in stages:
        raise VPRInputError(f"Unknown last_stage {config['last_stage']!r}{where} of backbone {config['backbone']}; "
                            f"expected one of {stages}.")
    sampler = SAMPLERS[config["sampler"]]
    if config["loss"] == "vicreg" and (config["miner"] != "none" or sampler.mined_triplets or sampler.similar_places):
        raise VPRInputError(f"loss 'vicreg'{where} pairs the views of each label in a P x K batch: it takes miner none "
                            f"(got {config['miner']!r}) and a P x K sampler (got {config['sampler']!r}).")
    if config["mining"] not in MININGS:
        raise VPRInputError(f"Unknown mining {config['mining']!r}{where}; expected one of {list(MININGS)}.")
    sampler.check(config, where)
    check_types(config, where)
    check_shapes(config, where)
    check_ranges(config, where)
