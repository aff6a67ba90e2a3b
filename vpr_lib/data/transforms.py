"""Image transforms (torchvision v2) applied after loading: the loader (vpr_lib.data.images) already
decodes and resizes to the model's input size; these augment (training) and normalise (ImageNet stats)."""
from __future__ import annotations

import torch
from torchvision.transforms import v2

from vpr_lib.errors import VPRInputError

AUGMENTATIONS = ("none", "colorjitter", "randaugment")
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def eval_transform() -> v2.Compose:
    return v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True), v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)])


def train_transform(augment: str = "none") -> v2.Compose:
    """Training transform; `augment` adds the course's augmentations (none, colorjitter, randaugment)."""
    ops = [v2.ToImage()]
    if augment == "colorjitter":
        ops.append(v2.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4))
    elif augment == "randaugment":
        ops.append(v2.RandAugment(num_ops=3))
    elif augment != "none":
        raise VPRInputError(f"Unknown augment {augment!r}; expected one of {list(AUGMENTATIONS)}.")
    ops += [v2.ToDtype(torch.float32, scale=True), v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
    return v2.Compose(ops)
