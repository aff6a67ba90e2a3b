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

AUGMENTATIONS = ("none", "colorjitter", "flip_rotation", "randomerasing", "randaugment", "views")
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def eval_transform() -> v2.Compose:
    return v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True), v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)])


class BatchAugment(nn.Module):
    """uint8 (N, 3, H, W) → augmented (per image) and normalised float (N, 3, H, W); float input (cached
    prefix features) passes unchanged.

    `augment`: none; colorjitter (brightness/contrast/saturation 0.4); flip_rotation (horizontal flip, rotation
    up to 15°); randomerasing (a random rectangle blanked, p 0.5, as torchvision's RandomErasing);
    randaugment (3 ops, magnitude 9, as torchvision's RandAugment(num_ops=3)); views (self-supervised views:
    resized crop of 30-100 % of the image, perspective, colour jitter, grayscale, as SimCLR's recipe)."""

    def __init__(self, augment: str = "none", image_size=(32, 32)):
        super().__init__()
        if augment not in AUGMENTATIONS:
            raise VPRInputError(f"Unknown augment {augment!r}; expected one of {list(AUGMENTATIONS)}.")
        ops = {"none": [], "colorjitter": [K.ColorJitter(0.4, 0.4, 0.4, 0.0, p=1.0)],
               "flip_rotation": [K.RandomHorizontalFlip(), K.RandomRotation(15.0, p=1.0)],
               "randomerasing": [K.RandomErasing(p=0.5)],
               "randaugment": [K.auto.RandAugment(n=3, m=9)],
               "views": [K.RandomResizedCrop(tuple(image_size), scale=(0.3, 1.0)), K.RandomPerspective(0.3, p=0.5),
                         K.ColorJitter(0.4, 0.4, 0.4, 0.1, p=0.8), K.RandomGrayscale(p=0.2)]}[augment]
        self.ops = nn.Sequential(*ops)

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.dtype != torch.uint8:  # already prepared: a frozen prefix's cached output (no augmentation)
            return images
        # scaled and normalised by the same functions as eval_transform: without augmentation, bit-identical
        images = self.ops(v2.functional.to_dtype(images, torch.float32, scale=True))
        return v2.functional.normalize(images, IMAGENET_MEAN, IMAGENET_STD)


def train_transform(augment: str = "none", image_size=(224, 224)) -> v2.Compose:
    """Per-image training transform (torchvision v2), for code outside the Lightning module."""
    ops = [v2.ToImage()]
    if augment == "colorjitter":
        ops.append(v2.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4))
    elif augment == "flip_rotation":
        ops += [v2.RandomHorizontalFlip(), v2.RandomRotation(15)]
    elif augment == "randaugment":
        ops.append(v2.RandAugment(num_ops=3))
    elif augment == "views":
        ops += [v2.RandomResizedCrop(tuple(image_size), scale=(0.3, 1.0)), v2.RandomPerspective(0.3, p=0.5),
                v2.RandomApply([v2.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8), v2.RandomGrayscale(p=0.2)]
    elif augment not in ("none", "randomerasing"):
        raise VPRInputError(f"Unknown augment {augment!r}; expected one of {list(AUGMENTATIONS)}.")
    ops += [v2.ToDtype(torch.float32, scale=True), v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
    if augment == "randomerasing":
        ops.append(v2.RandomErasing(p=0.5))
    return v2.Compose(ops)
