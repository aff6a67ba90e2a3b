"""Backbone + aggregator (+ optional L2) → global descriptor."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vpr_lib.errors import VPRInputError
from vpr_lib.models.aggregators import AGGREGATORS, build_aggregator
from vpr_lib.models.backbones import BACKBONES, Backbone


class VPRModel(nn.Module):
    """image (B, 3, H, W) → descriptor (B, D), L2-normalised unless `normalize` is False.

    It also takes the output of its backbone's frozen prefix, (B, *prefix_shape), as cached by
    vpr_lib.models.cache: the descriptor is then the same as from the images."""

    def __init__(self, *, image_size, last_stage, pretrained, frozen_stages, aggregator, aggregator_kwargs, normalize,
                 backbone):
        """Build models with `from_config` (training, costs, notebooks and tests do): no defaults here, so that a
        model cannot drift from the training settings' (vpr_lib.settings)."""
        super().__init__()
        self.backbone = Backbone(backbone, last_stage, pretrained, frozen_stages)
        self.image_size = tuple(image_size)
        self.feature_shape = self.backbone.output_shape(self.image_size)
        self.prefix_shape = self.backbone.output_shape(self.image_size, self.backbone.prefix)
        self.aggregator = build_aggregator(aggregator, self.feature_shape, **(aggregator_kwargs or {}))
        self.normalize = normalize
        # channels-last convolutions: measured 1.2x (training) and 1.5x (inference) faster on our CPUs
        self.to(memory_format=torch.channels_last)

    @classmethod
    def from_config(cls, config: dict, pretrained: str | None = None) -> "VPRModel":
        """The model of a run config (image_scale already applied to image_size by config.run_configs);
        `pretrained` replaces the config's initial weights (e.g. 'none' before loading a checkpoint)."""
        return cls(image_size=tuple(config["image_size"]), last_stage=config["last_stage"],
                   pretrained=config["pretrained"] if pretrained is None else pretrained,
                   frozen_stages=config["frozen_stages"], aggregator=config["aggregator"],
                   aggregator_kwargs=config["aggregator_kwargs"], normalize=config["normalize"],
                   backbone=config["backbone"])

    @property
    def descriptor_dim(self) -> int:
        return self.aggregator.out_dim

    def feature_maps(self, x):
        """The backbone's maps from images, or from the frozen prefix's output (cached)."""
        x = x.contiguous(memory_format=torch.channels_last)
        if self.backbone.prefix_len and tuple(x.shape[1:]) == self.prefix_shape:
            return self.backbone.forward_rest(x)
        self.check_input_size(x.shape[-2:])
        return self.backbone(x)

    def check_input_size(self, size) -> None:
        """Stop when images of `size` (H, W) cannot go through this model: its aggregator's weights are sized for the
        images it was built for."""
        if tuple(size) != self.image_size and self.aggregator.fixed_input:
            raise VPRInputError(f"Input images of size {tuple(size)}; this model was built for {self.image_size} "
                                "(its aggregator sizes depend on it).")

    def forward(self, x):
        desc = self.aggregator(self.feature_maps(x))
        return F.normalize(desc, dim=-1) if self.normalize else desc


__all__ = ["VPRModel", "AGGREGATORS", "BACKBONES", "build_aggregator", "Backbone"]
