"""The data side of a run: the places training set and the validation retrieval set, as loaders."""
from __future__ import annotations

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback
from torch.utils.data import DataLoader

from vpr_lib.data import PlacesDataset, RetrievalDataset
from vpr_lib.data.samplers import ImageIdentities, PlaceImages, ProxyBatchSampler, ViewsBatchSampler, image_batch_sampler
from vpr_lib.data.transforms import BatchAugment, eval_transform
from vpr_lib.data.triplets import MinedTripletBatches, TripletsDataset
from vpr_lib.errors import VPRInputError
from vpr_lib.models.cache import prefix_features
from vpr_lib.settings import TRIPLET_KWARGS


def collate_places(batch):
    """[(K images, K labels)] → (P, K, C, H, W), (P, K)"""
    images, labels = zip(*batch)
    return torch.stack(images), torch.stack(labels)


def collate_images(batch):
    """[(image, label)] of an image-level sampler → (B, 1, C, H, W), (B, 1)"""
    images, labels = zip(*batch)
    return torch.stack(images)[:, None], torch.stack(labels)[:, None]


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


@torch.no_grad()
def init_clusters_from_data(module, places, seed: int) -> None:
    """Aggregators with clusters (NetVLAD, CRN): k-means on the local features of `init_images` random
    training images (first image of random places), through the initial backbone, before any training."""
    aggregator = module.model.aggregator
    if not aggregator.init_images:  # 0: no clusters, or random ones (NetVLAD with init_images 0)
        return
    generator = torch.Generator().manual_seed(seed)
    chosen = torch.randperm(len(places), generator=generator)[: aggregator.init_images].tolist()
    normalise, was_training = BatchAugment("none"), module.training
    module.eval()
    features = []
    for start in range(0, len(chosen), 64):
        images = torch.stack([places[i][0][0] for i in chosen[start:start + 64]])
        maps = module.model.feature_maps(normalise(images)).float()
        features.append(maps.permute(0, 2, 3, 1).flatten(0, 2).numpy())  # every position is a local feature
    module.train(was_training)
    aggregator.init_clusters(np.concatenate(features), seed=seed)


class VPRDataModule(L.LightningDataModule):
    def __init__(self, config: dict, data_root):
        super().__init__()
        self.config, self.root = config, data_root
        c = config
        if c["sampler"] == "triplets":  # a database/queries split (SF-XS train), mined offline
            self.train_set = TripletsDataset(self.root / c["train_set"], c["image_size"], c["train_positives_m"],
                                             c["positive_dist_threshold"])
        else:
            self.train_set = PlacesDataset.from_folder(self.root / c["train_set"], img_per_place=c["img_per_place"],
                                                       min_img_per_place=c["min_img_per_place"],
                                                       image_size=c["image_size"])  # uint8: augmented on device
        if c["sampler"] != "triplets" and c["places_per_batch"] > len(self.train_set):
            raise VPRInputError(f"places_per_batch={c['places_per_batch']} but the training set "
                                f"{self.root / c['train_set']} has only {len(self.train_set)} places.")
        self.augment = BatchAugment(c["augment"], c["image_size"])
        self.val_set = RetrievalDataset(self.root / c["val_set"], c["positive_dist_threshold"], eval_transform(),
                                        c["image_size"])

    def use_prefix_cache(self, backbone) -> None:
        """Train and validate on the frozen prefix's cached output instead of the images (models/cache.py)."""
        for dataset in (self.train_set, self.val_set):
            dataset.use_features(prefix_features(backbone, self.config["image_size"], dataset.paths))

    def on_after_batch_transfer(self, batch, dataloader_idx):
        """Training batches arrive as uint8 (P, K, 3, H, W): augment and normalise them on the device."""
        images, labels = batch
        if images.dtype == torch.uint8:
            augment = self.augment.to(images.device)
            images = augment(images.flatten(0, 1)).unflatten(0, images.shape[:2])
        return images, labels

    def setup(self, stage: str) -> None:
        # decode once in this process: loader workers are forked from it and share the decoded images
        self.val_set.preload()
        if stage == "fit":
            self.train_set.preload()

    @property
    def num_classes(self) -> int:
        return len(self.train_set)

    def train_dataloader(self):
        return SAMPLERS[self.config["sampler"]](self)

    @torch.no_grad()
    def describe(self, indices) -> np.ndarray:
        """Descriptors of training-split images (split indices) by the model being trained, in eval mode."""
        module = self.trainer.lightning_module
        normalise, was_training = BatchAugment("none").to(module.device), module.training
        module.eval()
        out = []
        for start in range(0, len(indices), self.config["eval_batch_size"]):
            images = torch.stack([self.train_set.image(i) for i in indices[start:start + self.config["eval_batch_size"]]])
            out.append(module(normalise(images.to(module.device))).float().cpu())
        module.train(was_training)
        return torch.cat(out).numpy()

    def val_dataloader(self):
        c = self.config
        return DataLoader(self.val_set, batch_size=c["eval_batch_size"], shuffle=False,
                          num_workers=0 if self.val_set.fully_cached else c["num_workers"])


# Training batches by `sampler`: name -> (data module) -> DataLoader; a new sampler is one function and one entry.
def _workers(c: dict) -> dict:
    return {"num_workers": c["num_workers"], "persistent_workers": c["num_workers"] > 0}


def _places(dm: VPRDataModule) -> DataLoader:
    """pk: P random places x K of their images."""
    c = dm.config
    return DataLoader(dm.train_set, batch_size=c["places_per_batch"], shuffle=True, drop_last=True,
                      collate_fn=collate_places, **_workers(c))


def _proxy(dm: VPRDataModule) -> DataLoader:
    """proxy: batches of similar places (GPM), refreshed by ProxyUpdate from the model's place proxies."""
    c = dm.config
    dm.proxy_sampler = ProxyBatchSampler(len(dm.train_set), c["places_per_batch"], **c["sampler_kwargs"])
    return DataLoader(dm.train_set, batch_sampler=dm.proxy_sampler, collate_fn=collate_places, **_workers(c))


def _triplets(dm: VPRDataModule) -> DataLoader:
    """triplets: offline mining on a database/queries split (data/triplets.py)."""
    c = dm.config
    kwargs = {**TRIPLET_KWARGS, **c["sampler_kwargs"]}
    dm.triplet_batches = MinedTripletBatches(dm.train_set, dm.describe, c["mining"], seed=c["seed"],
                                             epoch=lambda: dm.trainer.current_epoch, **kwargs)
    return DataLoader(dm.train_set, batch_sampler=dm.triplet_batches, collate_fn=collate_places, **_workers(c))


def _views(dm: VPRDataModule) -> DataLoader:
    """self_supervised: P images x K augmented views, labelled by image."""
    c = dm.config
    images = ImageIdentities(dm.train_set)
    batches = ViewsBatchSampler(len(images), c["places_per_batch"], c["img_per_place"],
                                len(dm.train_set) // c["places_per_batch"])
    return DataLoader(images, batch_sampler=batches, collate_fn=collate_images, **_workers(c))


def _image_batches(dm: VPRDataModule) -> DataLoader:
    """mperclass, hierarchical: pytorch-metric-learning's image-level samplers."""
    c = dm.config
    images = PlaceImages(dm.train_set)
    batches = image_batch_sampler(c["sampler"], images, c["places_per_batch"], c["img_per_place"], c["sampler_kwargs"])
    return DataLoader(images, batch_sampler=batches, collate_fn=collate_images, **_workers(c))


SAMPLERS = {"pk": _places, "mperclass": _image_batches, "hierarchical": _image_batches, "proxy": _proxy,
            "self_supervised": _views, "triplets": _triplets}
