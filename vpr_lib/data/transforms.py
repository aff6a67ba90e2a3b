"""Image transforms applied after loading (the loader, vpr_lib.data.images, already decodes and resizes
to the model's input size).

- Evaluation: torchvision v2, per image, normalise with ImageNet statistics (cached by the datasets).
- Training: batched on the device after the batch transfer (kornia, a random draw per image), so the
  augmentation costs one vectorised pass per batch instead of per-image work in the loader workers.
"""
from __future__ import annotations

import kornia.augmentation as K
import torch
from torch import nn
from torchvision.transforms import v2

from vpr_lib.errors import VPRInputError

AUGMENTATIONS = ("none", "colorjitter", "randaugment")
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def eval_transform() -> v2.Compose:
    return v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True), v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)])


class BatchAugment(nn.Module):
    """uint8 (N, 3, H, W) → augmented (per image) and normalised float (N, 3, H, W).

    `augment`: none, colorjitter (brightness/contrast/saturation 0.4) or randaugment (3 ops, magnitude 9,
    as torchvision's RandAugment(num_ops=3) default)."""

    def __init__(self, augment: str = "none"):
        super().__init__()
        if augment not in AUGMENTATIONS:
            raise VPRInputError(f"Unknown augment {augment!r}; expected one of {list(AUGMENTATIONS)}.")
        ops = {"none": [], "colorjitter": [K.ColorJitter(0.4, 0.4, 0.4, 0.0, p=1.0)],
               "randaugment": [K.auto.RandAugment(n=3, m=9)]}[augment]
        self.ops = nn.Sequential(*ops, K.Normalize(torch.tensor(IMAGENET_MEAN), torch.tensor(IMAGENET_STD)))

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.ops(images.float() / 255.0)


def train_transform(augment: str = "none") -> v2.Compose:
    """Per-image training transform (torchvision v2), for code outside the Lightning module."""
    ops = [v2.ToImage()]
    if augment == "colorjitter":
        ops.append(v2.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4))
    elif augment == "randaugment":
        ops.append(v2.RandAugment(num_ops=3))
    elif augment != "none":
        raise VPRInputError(f"Unknown augment {augment!r}; expected one of {list(AUGMENTATIONS)}.")
    ops += [v2.ToDtype(torch.float32, scale=True), v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
    return v2.Compose(ops)
