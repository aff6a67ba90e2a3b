"""The LightningModule: model + loss + miner + optimizer from a run config; validation recall on a
retrieval set.  It receives configs and tensors, never datasets (so load_from_checkpoint works)."""
from __future__ import annotations

import lightning as L
import numpy as np
import torch

from vpr_lib.evaluate import RECALL_VALUES, compute_recalls, knn_search
from vpr_lib.models import VPRModel
from vpr_lib.train.losses import build_loss, build_miner
from vpr_lib.train.optim import build_optimizer, build_scheduler


def build_model(config: dict) -> VPRModel:
    return VPRModel(tuple(config["image_size"]), config["last_stage"], config["pretrained"],
                    config["frozen_stages"], config["aggregator"], config["aggregator_kwargs"],
                    config["normalize"])


class VPRModule(L.LightningModule):
    def __init__(self, config: dict, num_classes: int):
        super().__init__()
        self.save_hyperparameters()
        self.config = config
        self.model = build_model(config)
        self.loss_fn = build_loss(config["loss"], config["loss_kwargs"], num_classes, self.model.descriptor_dim)
        self.miner = build_miner(config["miner"], config["miner_kwargs"])
        self._val_desc: list = []
        self._val_index: list = []
        self.val_positives = None  # set by train() from the validation set (list of arrays)
        self.val_database_num = 0

    def forward(self, images):
        return self.model(images)

    # ---- training ----
    def training_step(self, batch, batch_idx):
        images, labels = batch  # (P, K, C, H, W), (P, K)
        images, labels = images.flatten(0, 1), labels.flatten()
        descriptors = self(images)
        pairs = self.miner(descriptors, labels) if self.miner is not None else None
        loss = self.loss_fn(descriptors, labels, pairs)
        self.log("train/loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=len(labels),
                 sync_dist=True)
        return loss

    def configure_optimizers(self):
        c = self.config
        optimizer = build_optimizer(c["optimizer"], self.parameters(), c["optimizer_kwargs"])
        scheduler = build_scheduler(c["scheduler"], optimizer, c["scheduler_kwargs"], c["epochs"])
        return optimizer if scheduler is None else {"optimizer": optimizer, "lr_scheduler": scheduler}

    def optimizer_step(self, epoch, batch_idx, optimizer, optimizer_closure=None):
        """Linear warm-up over the first `warmup_epochs` epochs, then the scheduler's learning rate."""
        warmup_steps = self.config["warmup_epochs"] * self.trainer.num_training_batches
        if self.global_step < warmup_steps:
            scale = (self.global_step + 1) / warmup_steps
            for group in optimizer.param_groups:
                group.setdefault("target_lr", group["lr"])
                group["lr"] = group["target_lr"] * scale
        elif warmup_steps and self.global_step == warmup_steps:
            for group in optimizer.param_groups:
                group["lr"] = group.pop("target_lr", group["lr"])
        optimizer.step(closure=optimizer_closure)

    # ---- validation: recall@N on the validation set ----
    def on_validation_epoch_start(self):
        self._val_desc, self._val_index = [], []

    def validation_step(self, batch, batch_idx):
        images, indices = batch
        self._val_desc.append(self(images).float())
        self._val_index.append(indices)

    def on_validation_epoch_end(self):
        desc, index = torch.cat(self._val_desc), torch.cat(self._val_index)
        if self.trainer.world_size > 1:  # every rank saw a shard: gather them all
            desc, index = self.all_gather(desc).flatten(0, 1), self.all_gather(index).flatten()
        n = self.val_database_num + len(self.val_positives)
        ordered = np.zeros((n, desc.shape[1]), np.float32)
        ordered[index.cpu().numpy()] = desc.cpu().numpy()
        _, predictions = knn_search(ordered[: self.val_database_num], ordered[self.val_database_num:])
        recalls = compute_recalls(predictions, self.val_positives)
        for n_ in RECALL_VALUES:
            self.log(f"val/R@{n_}", recalls[f"R@{n_}"], prog_bar=n_ in (1, 5), sync_dist=False, rank_zero_only=False)
        self._val_desc, self._val_index = [], []
