"""Optimizers and schedulers by name; linear warm-up is applied per step by the LightningModule."""
from __future__ import annotations

import torch

from vpr_lib.errors import VPRInputError

OPTIMIZERS = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
              "asgd": torch.optim.ASGD}


def build_optimizer(name: str, params, kwargs: dict | None = None):
    if name not in OPTIMIZERS:
        raise VPRInputError(f"Unknown optimizer {name!r}; expected one of {sorted(OPTIMIZERS)}.")
    try:
        return OPTIMIZERS[name](params, **(kwargs or {}))
    except TypeError as e:
        raise VPRInputError(f"Bad optimizer_kwargs for {name!r}: {e}.") from None


def _cosine(optimizer, kwargs: dict, epochs: int) -> dict:
    """CosineAnnealingLR over the epochs."""
    kwargs.setdefault("T_max", epochs)
    return {"scheduler": torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, **kwargs), "interval": "epoch"}


def _plateau(optimizer, kwargs: dict, epochs: int) -> dict:
    """ReduceLROnPlateau on val R@1 (mode max)."""
    kwargs.setdefault("mode", "max")
    return {"scheduler": torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, **kwargs), "monitor": "val/R@1",
            "interval": "epoch"}


def _multistep(optimizer, kwargs: dict, epochs: int) -> dict:
    """MultiStepLR (milestones in epochs, default half of them; gamma)."""
    kwargs.setdefault("milestones", [max(1, epochs // 2)])
    return {"scheduler": torch.optim.lr_scheduler.MultiStepLR(optimizer, **kwargs), "interval": "epoch"}


# name -> (optimizer, scheduler_kwargs, epochs) -> Lightning's lr_scheduler config; a new one is one entry
SCHEDULERS = {"none": None, "cosine": _cosine, "plateau": _plateau, "multistep": _multistep}


def build_scheduler(name: str, optimizer, kwargs: dict | None = None, epochs: int = 1):
    """Lightning's lr_scheduler config (stepped once per epoch), or None for 'none'."""
    if name not in SCHEDULERS:
        raise VPRInputError(f"Unknown scheduler {name!r}; expected one of {list(SCHEDULERS)}.")
    if SCHEDULERS[name] is None:
        return None
    try:
        return SCHEDULERS[name](optimizer, dict(kwargs or {}), epochs)
    except TypeError as e:
        raise VPRInputError(f"Bad scheduler_kwargs for {name!r}: {e}.") from None
