"""The data side of a run: the places training set and the validation retrieval set, as loaders."""
from __future__ import annotations

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader

from vpr_lib.data import RetrievalDataset
from vpr_lib.data.transforms import BatchAugment, eval_transform
from vpr_lib.models.cache import prefix_features
from vpr_lib.train.samplers import sampling


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
        c, self.sampling = config, sampling(config)
        self.train_set = self.sampling.train_set(c, self.root)
        self.sampling.check_data(c, self.train_set, self.root)
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
        return self.sampling.loader(self)

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
