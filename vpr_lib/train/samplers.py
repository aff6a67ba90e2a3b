"""How a run forms its training batches (`sampler`): one class per kind of batch, carrying what the rest of the
kit needs to know about it — the training set it reads, its loader, the callbacks it needs, the constraints it
puts on the loss and miner, how many images an epoch trains on, and its batches in words.  Nothing outside the
samplers tests a sampler's name: a new sampler is one class and one entry of SAMPLERS.
"""
from __future__ import annotations

import torch
from lightning.pytorch.callbacks import Callback
from torch.utils.data import DataLoader

from vpr_lib.data import PlacesDataset
from vpr_lib.data.samplers import ImageIdentities, PlaceImages, ProxyBatchSampler, ViewsBatchSampler, image_batch_sampler
from vpr_lib.data.transforms import BatchAugment
from vpr_lib.data.triplets import MinedTripletBatches, TripletsDataset
from vpr_lib.errors import VPRInputError
from vpr_lib.settings import TRAIN_DEFAULTS, TRIPLET_KWARGS
from vpr_lib.train.losses import CLASSIFICATION_LOSSES


def collate_places(batch):
    """[(K images, K labels)] → (P, K, C, H, W), (P, K)"""
    images, labels = zip(*batch)
    return torch.stack(images), torch.stack(labels)


def collate_images(batch):
    """[(image, label)] of an image-level sampler → (B, 1, C, H, W), (B, 1)"""
    images, labels = zip(*batch)
    return torch.stack(images)[:, None], torch.stack(labels)[:, None]


def _workers(c: dict) -> dict:
    return {"num_workers": c["num_workers"], "persistent_workers": c["num_workers"] > 0}


class Sampling:
    """P random places × K of their images (`pk`, GSV-Cities' place-level batches, the default)."""

    mined_triplets = False  # batches of (query, positive, negatives) given to the loss as they are
    place_labels = True  # the labels are places (False: every image is its own class)
    similar_places = False  # batches of places that the model finds alike, refreshed from it

    def train_set(self, config: dict, root):
        return PlacesDataset.from_folder(root / config["train_set"], img_per_place=config["img_per_place"],
                                         min_img_per_place=config["min_img_per_place"],
                                         image_size=config["image_size"])  # uint8: augmented on device

    def check_data(self, config: dict, train_set, root) -> None:
        if config["places_per_batch"] > len(train_set):
            raise VPRInputError(f"places_per_batch={config['places_per_batch']} but the training set "
                                f"{root / config['train_set']} has only {len(train_set)} places.")

    def loader(self, dm) -> DataLoader:
        c = dm.config
        return DataLoader(dm.train_set, batch_size=c["places_per_batch"], shuffle=True, drop_last=True,
                          collate_fn=collate_places, **_workers(c))

    def callbacks(self) -> list[Callback]:
        return []

    def check(self, config: dict, where: str) -> None:
        """Stop when the run's other settings do not fit these batches."""
        if any(config[k] != TRAIN_DEFAULTS[k] for k in ("mining", "train_positives_m")):
            miners = " or ".join(n for n, s in SAMPLERS.items() if s.mined_triplets)
            raise VPRInputError(f"mining and train_positives_m{where} act only with sampler: {miners} (it mines "
                                f"triplets offline; got sampler {config['sampler']!r}).")

    def batches_per_epoch(self, config: dict, places: int) -> tuple[int, int]:
        """(images per batch, batches in a whole epoch) on a training set of `places` places."""
        return config["places_per_batch"] * config["img_per_place"], places // config["places_per_batch"]

    def batch_words(self, config: dict) -> str:
        return f"{config['places_per_batch']} places × {config['img_per_place']} images"

    def epoch_words(self, config: dict) -> str | None:
        """An epoch in words when it is not a number of batches over the places (None)."""
        return None


class ImageLevel(Sampling):
    """pytorch-metric-learning's image-level samplers (`mperclass`, `hierarchical`: two cities per batch)."""

    def __init__(self, name: str):
        self.name = name

    def loader(self, dm) -> DataLoader:
        c = dm.config
        images = PlaceImages(dm.train_set)
        batches = image_batch_sampler(self.name, images, c["places_per_batch"], c["img_per_place"],
                                      c["sampler_kwargs"])
        return DataLoader(images, batch_sampler=batches, collate_fn=collate_images, **_workers(c))


class ProxyUpdate(Callback):
    """For the proxy sampler: each place's mean descriptor over the epoch becomes its proxy for the next one;
    before the first epoch, one pass of the initial model over K images of every place gives the proxies."""

    @torch.no_grad()
    def on_train_start(self, trainer, pl_module):
        places, normalise = trainer.datamodule.train_set, BatchAugment("none").to(pl_module.device)
        was_training = pl_module.training
        pl_module.eval()
        proxies = []
        for start in range(0, len(places), 64):
            images = torch.stack([places[i][0] for i in range(start, min(start + 64, len(places)))])
            desc = pl_module(normalise(images.flatten(0, 1).to(pl_module.device)))
            proxies.append(desc.float().view(len(images), images.shape[1], -1).mean(1).cpu())
        pl_module.train(was_training)
        trainer.datamodule.proxy_sampler.set_proxies(torch.cat(proxies).numpy())

    def on_train_epoch_start(self, trainer, pl_module):
        self.sums, self.counts = None, None

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        desc, labels = outputs["descriptors"].float().cpu(), outputs["labels"].cpu()
        if self.sums is None:
            n = trainer.datamodule.num_classes
            self.sums, self.counts = torch.zeros(n, desc.shape[1]), torch.zeros(n)
        self.sums.index_add_(0, labels, desc)
        self.counts.index_add_(0, labels, torch.ones(len(labels)))

    def on_train_epoch_end(self, trainer, pl_module):
        if self.sums is not None:
            trainer.datamodule.proxy_sampler.set_proxies((self.sums / self.counts[:, None]).numpy())


class Proxy(Sampling):
    """`proxy`: batches of similar places (Global Proxy-based hard Mining), refreshed by ProxyUpdate."""

    similar_places = True

    def loader(self, dm) -> DataLoader:
        c = dm.config
        dm.proxy_sampler = ProxyBatchSampler(len(dm.train_set), c["places_per_batch"], **c["sampler_kwargs"])
        return DataLoader(dm.train_set, batch_sampler=dm.proxy_sampler, collate_fn=collate_places, **_workers(c))

    def callbacks(self) -> list[Callback]:
        return [ProxyUpdate()]


class Views(Sampling):
    """`self_supervised`: P images × K augmented views, labelled by image (no place label, course step 6c)."""

    place_labels = False

    def loader(self, dm) -> DataLoader:
        c = dm.config
        images = ImageIdentities(dm.train_set)
        batches = ViewsBatchSampler(len(images), c["places_per_batch"], c["img_per_place"],
                                    len(dm.train_set) // c["places_per_batch"])
        return DataLoader(images, batch_sampler=batches, collate_fn=collate_images, **_workers(c))

    def check(self, config: dict, where: str) -> None:
        super().check(config, where)
        if config["loss"] in CLASSIFICATION_LOSSES:
            raise VPRInputError(f"loss {config['loss']!r}{where} holds one weight per place; the {config['sampler']} "
                                "sampler labels images, not places: use a pair-based loss (ntxent, supcon, "
                                "contrastive…).")

    def batch_words(self, config: dict) -> str:
        return (f"{config['places_per_batch']} images × {config['img_per_place']} augmented views of each, labelled "
                f"by image (no place labels)")


class MinedTriplets(Sampling):
    """`triplets`: offline mining on a database/queries split (SF-XS train; data/triplets.py), the deep
    geo-localization benchmark's training."""

    mined_triplets = True

    def train_set(self, config: dict, root):
        return TripletsDataset(root / config["train_set"], config["image_size"], config["train_positives_m"],
                               config["positive_dist_threshold"])

    def check_data(self, config: dict, train_set, root) -> None:
        pass  # batches are queries, not places

    def loader(self, dm) -> DataLoader:
        c = dm.config
        dm.triplet_batches = MinedTripletBatches(dm.train_set, dm.describe, c["mining"], seed=c["seed"],
                                                 epoch=lambda: dm.trainer.current_epoch, **self.kwargs(c))
        return DataLoader(dm.train_set, batch_sampler=dm.triplet_batches, collate_fn=collate_places, **_workers(c))

    @staticmethod
    def kwargs(config: dict) -> dict:
        return {**TRIPLET_KWARGS, **config["sampler_kwargs"]}

    def check(self, config: dict, where: str) -> None:
        unknown = set(config["sampler_kwargs"]) - set(TRIPLET_KWARGS)
        if unknown or config["miner"] != "none" or config["loss"] in CLASSIFICATION_LOSSES:
            raise VPRInputError(f"The {config['sampler']} sampler{where} mines its own triplets: it takes sampler_kwargs "
                                f"among {sorted(TRIPLET_KWARGS)} (got {sorted(unknown)} unknown), miner none (got "
                                f"{config['miner']!r}) and a pair or triplet loss (got {config['loss']!r}).")

    def batches_per_epoch(self, config: dict, places: int) -> tuple[int, int]:
        kwargs = self.kwargs(config)  # a query, its positive and its negatives
        return (kwargs["queries_per_batch"] * (2 + kwargs["negatives"]),
                kwargs["queries_per_epoch"] // kwargs["queries_per_batch"])

    def batch_words(self, config: dict) -> str:
        kwargs = self.kwargs(config)
        return (f"{kwargs['queries_per_batch']} queries × (query, positive, {kwargs['negatives']} mined negatives), "
                f"the cache of triplets refreshed every {kwargs['cache_refresh']} queries")

    def epoch_words(self, config: dict) -> str:
        return f"{self.kwargs(config)['queries_per_epoch']:,} mined queries"


SAMPLERS = {"pk": Sampling(), "mperclass": ImageLevel("mperclass"), "hierarchical": ImageLevel("hierarchical"),
            "proxy": Proxy(), "self_supervised": Views(), "triplets": MinedTriplets()}


def sampling(config: dict) -> Sampling:
    """The run's sampler (its name checked by vpr_lib.train.checks.validate)."""
    return SAMPLERS[config["sampler"]]
