"""The data side of a run: the places training set and the validation retrieval set, as loaders."""
from __future__ import annotations

import lightning as L
import torch
from torch.utils.data import DataLoader

from vpr_lib.data import PlacesDataset, RetrievalDataset
from vpr_lib.data.transforms import BatchAugment, eval_transform
from vpr_lib.errors import VPRInputError


def collate_places(batch):
    """[(K images, K labels)] → (P, K, C, H, W), (P, K)"""
    images, labels = zip(*batch)
    return torch.stack(images), torch.stack(labels)


class VPRDataModule(L.LightningDataModule):
    def __init__(self, config: dict, data_root):
        super().__init__()
        self.config, self.root = config, data_root
        c = config
        self.train_set = PlacesDataset.from_folder(self.root / c["train_set"], img_per_place=c["img_per_place"],
                                                   min_img_per_place=c["min_img_per_place"],
                                                   image_size=c["image_size"])  # uint8: augmented on device
        if c["places_per_batch"] > len(self.train_set):
            raise VPRInputError(f"places_per_batch={c['places_per_batch']} but the training set "
                                f"{self.root / c['train_set']} has only {len(self.train_set)} places.")
        self.augment = BatchAugment(c["augment"])
        self.val_set = RetrievalDataset(self.root / c["val_set"], c["positive_dist_threshold"], eval_transform(),
                                        c["image_size"])

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
        c = self.config
        return DataLoader(self.train_set, batch_size=c["places_per_batch"], shuffle=True, drop_last=True,
                          num_workers=c["num_workers"], collate_fn=collate_places,
                          persistent_workers=c["num_workers"] > 0)

    def val_dataloader(self):
        c = self.config
        return DataLoader(self.val_set, batch_size=c["eval_batch_size"], shuffle=False,
                          num_workers=0 if self.val_set.fully_cached else c["num_workers"])
