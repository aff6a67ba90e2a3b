"""Every training parameter with its default (the course starter, full profile) and the profile overlays.

A notebook's params file says `extends: train` to start from these; its own `defaults`, `profiles` and
`variants` then override them.  The resolved dict of a run is saved with it (params.yaml).
"""
TRAIN_DEFAULTS = {
    # data
    "data_root": "",  # empty: SynthCity of the profile
    "train_set": "gsv_xs/train",
    "val_set": "sf_xs/val",
    "test_sets": ["sf_xs/val", "sf_xs/test", "tokyo_xs/test"],
    "image_size": [224, 224],
    "image_scale": 1.0,  # a factor on image_size (the resolution ablation): the run trains and tests at the product
    "img_per_place": 4,
    "min_img_per_place": 4,
    "places_per_batch": 64,
    "augment": "randaugment",
    "positive_dist_threshold": 25,
    # model
    "backbone": "resnet18",  # vpr_lib.models.backbones: resnet18 | mobilenet_v2
    "last_stage": "layer4",  # the backbone's stage the maps come from: conv1 | layer1 | … | layer4 (by stride)
    "pretrained": "imagenet",  # none | imagenet | path to the backbone's weights (.pth) or to a run's .ckpt
    "frozen_stages": 0,  # the first stages kept as initialised (the frozen prefix)
    "prefix_cache": True,  # a frozen prefix fed without augmentation is computed once per image (models/cache.py)
    "aggregator": "avg",
    "aggregator_kwargs": {"out_dim": 512},
    "normalize": False,
    # loss and mining
    "loss": "contrastive",
    "loss_kwargs": {"pos_margin": 0.0, "neg_margin": 1.0},
    "miner": "none",
    "miner_kwargs": {},
    # class weights of ArcFace / CosFace / NormalizedSoftmax: their own optimizer (as in CosPlace)
    "loss_optimizer": "adam",
    "loss_optimizer_kwargs": {"lr": 0.01},
    # batches: pk (P places x K images), mperclass, hierarchical (city -> place), proxy (similar places),
    # self_supervised (P images x K views), triplets (offline mining on a database/queries split: TRIPLET_KWARGS)
    "sampler": "pk",
    "sampler_kwargs": {},
    # the triplets sampler's mining (random | full | partial) and train-time positive radius (metres)
    "mining": "partial",
    "train_positives_m": 10,
    # optimisation
    "optimizer": "sgd",
    "optimizer_kwargs": {"lr": 0.001, "weight_decay": 0.001, "momentum": 0.9},
    "scheduler": "none",
    "scheduler_kwargs": {},
    "warmup_epochs": 0,
    "epochs": 20,
    "limit_train_batches": 1.0,  # fraction (or number) of the epoch's batches actually trained (Lightning's)
    # hardware: the same code runs on a laptop, a GPU, DDP on several GPUs or nodes (torchrun/SLURM)
    "precision": "16-mixed",
    "accelerator": "auto",
    "devices": 1,
    "strategy": "auto",
    "num_nodes": 1,
    "num_workers": 4,
    "eval_batch_size": 128,
    "seeds": [0],
}

# Keys left out of the run id: how fast a run goes (loader workers: batches are sampled and augmented in the main
# process; the evaluation batch size; the prefix cache, bit-identical), the list of seeds (each run has its
# `seed`), and where the data lies (the run id digests the data's identity instead: data/roots.py).
NON_RESULT_KEYS = ("num_workers", "eval_batch_size", "data_root", "seeds", "prefix_cache")

TRAIN_PROFILES = {
    # CI: seconds
    "smoke": {"image_size": [32, 32], "last_stage": "layer3", "pretrained": "none", "places_per_batch": 6,
              "epochs": 2, "augment": "none", "precision": "32-true", "accelerator": "cpu", "num_workers": 0,
              "eval_batch_size": 64},
    # SynthCity on 2 CPU cores: torchvision's ImageNet MobileNetV2 (the one ImageNet CNN whose weights a registry
    # package ships offline; ResNet-18's do not exist offline), 112 px so that layer3 gives 7 x 7 maps, its stages
    # up to layer3a frozen (their output cached once per image: models/cache.py) and the last stride-16 group
    # (3 blocks, 96 channels) trained with the head; 4 epochs of 13 batches of 32 places x 4 images, no
    # augmentation (it would bypass the cache), Adam; docs/training.md has the measurements
    "demo": {"backbone": "mobilenet_v2", "pretrained": "imagenet", "image_size": [112, 112], "last_stage": "layer3",
             "frozen_stages": 4, "places_per_batch": 32, "epochs": 4, "limit_train_batches": 0.25, "augment": "none", "precision": "32-true",
             "num_workers": 0, "optimizer": "adam", "optimizer_kwargs": {"lr": 0.001}},
    # real data with the seeds' settings (ImageNet init, 64 x 4 batches, 224 px)
    "full": {},
}


# The triplets sampler's kwargs and their defaults: the deep geo-localization benchmark's settings.
TRIPLET_KWARGS = {"queries_per_batch": 4, "queries_per_epoch": 5000, "cache_refresh": 1000, "negatives": 10,
                  "neg_samples": 1000}

# Keys whose values may take several types; every other key must have its default's type (int ~ float).
FLEXIBLE_TYPES = {"devices": (int, str, list), "precision": (str, int), "limit_train_batches": (int, float),
                  "pretrained": (str, type(None)), "aggregator_kwargs": (dict, type(None))}


def check_types(config: dict, where: str = "") -> None:
    """Stop with the expected type when a value has the wrong one (`epochs: "3"`, `image_size: 32`)."""
    for key, default in TRAIN_DEFAULTS.items():
        if key not in config:
            continue
        allowed = FLEXIBLE_TYPES.get(key) or ((bool,) if isinstance(default, bool) else
                                              (int, float) if isinstance(default, (int, float)) else (type(default),))
        value = config[key]
        if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
            from vpr_lib.errors import VPRInputError
            names = " or ".join("null" if t is type(None) else t.__name__ for t in allowed)
            raise VPRInputError(f"Parameter {key}{where} must be {names}, got {value!r} ({type(value).__name__}).")


def check_shapes(config: dict, where: str = "") -> None:
    """Stop with the expected form when a list has the wrong length or items (`image_size: [32]`)."""
    from vpr_lib.errors import VPRInputError
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
    from vpr_lib.data.transforms import AUGMENTATIONS
    from vpr_lib.errors import VPRInputError
    from vpr_lib.models.aggregators import AGGREGATORS
    from vpr_lib.models.backbones import BACKBONES, stage_names
    from vpr_lib.train.losses import LOSSES, MINERS
    from vpr_lib.train.optim import OPTIMIZERS, SCHEDULERS
    from vpr_lib.data.samplers import SAMPLERS
    from vpr_lib.train.losses import CLASSIFICATION_LOSSES
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
    from vpr_lib.data.triplets import MININGS
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
