"""Backbone + aggregator (+ optional L2) → global descriptor."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vpr_lib.errors import VPRInputError
from vpr_lib.models.aggregators import AGGREGATORS, build_aggregator
from vpr_lib.models.backbones import ResNetBackbone


class VPRModel(nn.Module):
    """image (B, 3, H, W) → descriptor (B, D), L2-normalised unless `normalize` is False."""

    def __init__(self, image_size=(64, 64), last_stage="layer4", pretrained="none", frozen_stages=0,
                 aggregator="gem", aggregator_kwargs=None, normalize=True):
        super().__init__()
        self.backbone = ResNetBackbone(last_stage, pretrained, frozen_stages)
        self.feature_shape = self.backbone.output_shape(tuple(image_size))
        self.aggregator = build_aggregator(aggregator, self.feature_shape, **(aggregator_kwargs or {}))
        self.normalize = normalize
        self.image_size = tuple(image_size)
        # channels-last convolutions: measured 1.2x (training) and 1.5x (inference) faster on our CPUs
        self.to(memory_format=torch.channels_last)

    @property
    def descriptor_dim(self) -> int:
        return self.aggregator.out_dim

    def forward(self, x):
        if x.shape[-2:] != self.image_size and getattr(self.aggregator, "fixed_input", False):
            raise VPRInputError(f"Input images of size {tuple(x.shape[-2:])}; this model was built for "
                                f"{self.image_size} (its aggregator sizes depend on it).")
        desc = self.aggregator(self.backbone(x.contiguous(memory_format=torch.channels_last)))
        return F.normalize(desc, dim=-1) if self.normalize else desc


__all__ = ["VPRModel", "AGGREGATORS", "build_aggregator", "ResNetBackbone"]
