"""Image transforms (torchvision v2): resize to the model's input size, tensor, ImageNet normalisation."""
from __future__ import annotations

import torch
from torchvision.transforms import v2

from vpr_lib.errors import VPRInputError

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def eval_transform(image_size) -> v2.Compose:
    return v2.Compose([v2.ToImage(), v2.Resize(tuple(image_size), antialias=True),
                       v2.ToDtype(torch.float32, scale=True), v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)])


def train_transform(image_size, augment: str = "none") -> v2.Compose:
    """Training transform; `augment` adds the course's augmentations (none, colorjitter, randaugment)."""
    ops = [v2.ToImage(), v2.Resize(tuple(image_size), antialias=True)]
    if augment == "colorjitter":
        ops.append(v2.ColorJitter(0.4, 0.4, 0.4, 0.05))
    elif augment == "randaugment":
        ops.append(v2.RandAugment(num_ops=3))
    elif augment != "none":
        raise VPRInputError(f"Unknown augment {augment!r}; expected one of none, colorjitter, randaugment.")
    ops += [v2.ToDtype(torch.float32, scale=True), v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
    return v2.Compose(ops)
