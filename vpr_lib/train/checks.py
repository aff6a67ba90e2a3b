"""Checks of a resolved run config, before anything trains: every factory name known (the error lists the valid
ones), every value of its default's type, lists of the right form, and the sampler's constraints."""
from vpr_lib.data.transforms import AUGMENTATIONS
from vpr_lib.data.triplets import MININGS
from vpr_lib.errors import VPRInputError
from vpr_lib.models.aggregators import AGGREGATORS
from vpr_lib.models.backbones import BACKBONES, stage_names
from vpr_lib.train.data import SAMPLERS
from vpr_lib.train.losses import CLASSIFICATION_LOSSES, LOSSES, MINERS
from vpr_lib.train.optim import OPTIMIZERS, SCHEDULERS
from vpr_lib.train.settings import FLEXIBLE_TYPES, TRAIN_DEFAULTS, TRIPLET_KWARGS


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


def validate(config: dict) -> None:
    """Stop early, with the valid names, when a factory name of a run config is unknown."""
    where = f" (variant {config['variant']})" if "variant" in config else ""
    for key, valid in (("aggregator", AGGREGATORS), ("loss", LOSSES), ("miner", MINERS), ("optimizer", OPTIMIZERS),
                       ("scheduler", SCHEDULERS), ("augment", AUGMENTATIONS), ("loss_optimizer", OPTIMIZERS),
                       ("sampler", SAMPLERS), ("backbone", BACKBONES)):
        if config[key] not in valid:
            raise VPRInputError(f"Unknown {key} {config[key]!r}{where}; expected one of {sorted(valid)}.")
    stages = stage_names(config["backbone"])
    if config["last_stage"] not in stages:
        raise VPRInputError(f"Unknown last_stage {config['last_stage']!r}{where} of backbone {config['backbone']}; "
                            f"expected one of {stages}.")
    if config["sampler"] == "self_supervised" and config["loss"] in CLASSIFICATION_LOSSES:
        raise VPRInputError(f"loss {config['loss']!r}{where} holds one weight per place; the self_supervised sampler "
                            "labels images, not places: use a pair-based loss (ntxent, supcon, contrastive…).")
    if config["mining"] not in MININGS:
        raise VPRInputError(f"Unknown mining {config['mining']!r}{where}; expected one of {list(MININGS)}.")
    if config["sampler"] != "triplets" and any(config[k] != TRAIN_DEFAULTS[k] for k in ("mining", "train_positives_m")):
        raise VPRInputError(f"mining and train_positives_m{where} act only with sampler: triplets "
                            f"(got sampler {config['sampler']!r}).")
    if config["sampler"] == "triplets":
        unknown = set(config["sampler_kwargs"]) - set(TRIPLET_KWARGS)
        if unknown or config["miner"] != "none" or config["loss"] in CLASSIFICATION_LOSSES:
            raise VPRInputError(f"The triplets sampler{where} mines its own triplets: it takes sampler_kwargs among "
                                f"{sorted(TRIPLET_KWARGS)} (got {sorted(unknown)} unknown), miner none (got "
                                f"{config['miner']!r}) and a pair or triplet loss (got {config['loss']!r}).")
    check_types(config, where)
    check_shapes(config, where)
    if config["image_scale"] <= 0:
        raise VPRInputError(f"image_scale{where} must be a positive number (a factor on image_size), "
                            f"got {config['image_scale']!r}.")
