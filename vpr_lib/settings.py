"""Every training parameter with its default (the course starter, full profile) and the profile overlays.

A notebook's params file says `extends: train` to start from these; its own `defaults`, `profiles` and
`variants` then override them.  The resolved dict of a run is saved with it (params.yaml).  Pure data: the
checks of a resolved config (names, types, shapes) are in vpr_lib.train.checks.
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
# the demo's regime and data for every comparison of the study (the params files list more variants under `study`)
TRAIN_PROFILES["study"] = TRAIN_PROFILES["demo"]


# The triplets sampler's kwargs and their defaults: the deep geo-localization benchmark's settings.
TRIPLET_KWARGS = {"queries_per_batch": 4, "queries_per_epoch": 5000, "cache_refresh": 1000, "negatives": 10,
                  "neg_samples": 1000}

# Keys whose values may take several types; every other key must have its default's type (int ~ float).
FLEXIBLE_TYPES = {"devices": (int, str, list), "precision": (str, int), "limit_train_batches": (int, float),
                  "pretrained": (str, type(None)), "aggregator_kwargs": (dict, type(None))}
