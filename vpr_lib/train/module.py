"""The LightningModule: model + loss + miner + optimizer from a run config; validation recall on a
retrieval set.  It receives configs and tensors, never datasets (so load_from_checkpoint works)."""
from __future__ import annotations

import random

import lightning as L
import numpy as np
import torch

from vpr_lib.evaluate import RECALL_VALUES, compute_recalls, knn_search
from vpr_lib.models import VPRModel
from vpr_lib.data.triplets import triplet_indices
from vpr_lib.train.losses import build_loss, build_miner, mined_fractions
from vpr_lib.train.optim import build_optimizer, build_scheduler
from vpr_lib.train.samplers import sampling


class VPRModule(L.LightningModule):
    def __init__(self, config: dict, num_classes: int):
        super().__init__()
        self.save_hyperparameters()
        self.config = config
        self.model = VPRModel.from_config(config)
        self.loss_fn = build_loss(config["loss"], config["loss_kwargs"], num_classes, self.model.descriptor_dim)
        self.miner = build_miner(config["miner"], config["miner_kwargs"])
        self.loss_optimizer = None  # classification losses (ArcFace, CosFace…): their class weights' optimizer
        self._loss_optimizer_state = None
        self._val_desc: list = []
        self._val_index: list = []
        self.val_positives = None  # set by train() from the validation set (list of arrays)
        self.val_database_num = 0

    def forward(self, images):
        return self.model(images)

    # ---- training ----
    def training_step(self, batch, batch_idx):
        images, labels = batch  # (P, K, C, H, W), (P, K); triplets: (B, 2 + negatives, …), image indices
        descriptors = self(images.flatten(0, 1))
        if sampling(self.config).mined_triplets:  # the mined (query, positive, negative) triplets themselves
            mined = triplet_indices(images.shape[0], images.shape[1], descriptors.device)
            labels = torch.arange(len(descriptors), device=descriptors.device)  # unused with given triplets
        else:
            labels = labels.flatten()
            mined = self.miner(descriptors, labels) if self.miner is not None else None
        loss = self.loss_fn(descriptors, labels, mined)
        self.log("train/loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=len(labels),
                 sync_dist=True)
        if self.miner is not None:  # what a miner kept (mined triplets keep everything they are given)
            for name, value in mined_fractions(mined, labels).items():
                self.log(f"train/{name}", value, on_step=False, on_epoch=True, batch_size=len(labels), sync_dist=True)
        return {"loss": loss, "descriptors": descriptors.detach(), "labels": labels}

    def configure_optimizers(self):
        """The model's optimizer (+ scheduler); a classification loss's weights get an optimizer of their own."""
        c = self.config
        loss_params = list(self.loss_fn.parameters())
        in_loss = {id(p) for p in loss_params}
        model_params = [p for p in self.parameters() if p.requires_grad and id(p) not in in_loss]
        optimizer = build_optimizer(c["optimizer"], model_params, c["optimizer_kwargs"])
        if loss_params:
            self.loss_optimizer = build_optimizer(c["loss_optimizer"], loss_params, c["loss_optimizer_kwargs"])
            if self._loss_optimizer_state is not None:
                self.loss_optimizer.load_state_dict(self._loss_optimizer_state)
        scheduler = build_scheduler(c["scheduler"], optimizer, c["scheduler_kwargs"], c["epochs"])
        return optimizer if scheduler is None else {"optimizer": optimizer, "lr_scheduler": scheduler}

    def on_before_optimizer_step(self, optimizer):
        """Step the loss's own optimizer with the same gradients (unscaled first under fp16 mixed precision)."""
        if self.loss_optimizer is None:
            return
        scaler = getattr(self.trainer.precision_plugin, "scaler", None)
        grads = [p.grad for p in self.loss_fn.parameters() if p.grad is not None]
        if scaler is not None:
            for g in grads:
                g.div_(scaler.get_scale())
            if not all(torch.isfinite(g).all() for g in grads):  # the scaler skips this step: so do we
                self.loss_optimizer.zero_grad()
                return
        self.loss_optimizer.step()
        self.loss_optimizer.zero_grad()

    def on_save_checkpoint(self, checkpoint):
        if self.loss_optimizer is not None:
            checkpoint["loss_optimizer"] = self.loss_optimizer.state_dict()
        # the random state at the end of the epoch: a resumed run draws the same batches and augmentations next
        name, keys, pos, has_gauss, gauss = np.random.get_state()  # as tensors and numbers: weights_only loads it
        checkpoint["rng_states"] = {"python": random.getstate(), "torch": torch.get_rng_state(),
                                    "numpy": (name, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss)}

    def on_load_checkpoint(self, checkpoint):
        if "rng_states" in checkpoint:
            states = checkpoint["rng_states"]
            random.setstate(states["python"])
            name, keys, pos, has_gauss, gauss = states["numpy"]
            np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
            torch.set_rng_state(states["torch"])
        self._loss_optimizer_state = checkpoint.get("loss_optimizer")
        if self.loss_optimizer is not None and self._loss_optimizer_state is not None:
            self.loss_optimizer.load_state_dict(self._loss_optimizer_state)

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
