"""Optimizers and schedulers by name; linear warm-up is applied per step by the LightningModule."""
from __future__ import annotations

import torch

from vpr_lib.errors import VPRInputError

OPTIMIZERS = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
              "asgd": torch.optim.ASGD}
SCHEDULERS = ("none", "cosine", "plateau", "multistep")


def build_optimizer(name: str, params, kwargs: dict | None = None):
    if name not in OPTIMIZERS:
        raise VPRInputError(f"Unknown optimizer {name!r}; expected one of {sorted(OPTIMIZERS)}.")
    try:
        return OPTIMIZERS[name](params, **(kwargs or {}))
    except TypeError as e:
        raise VPRInputError(f"Bad optimizer_kwargs for {name!r}: {e}.") from None


def build_scheduler(name: str, optimizer, kwargs: dict | None = None, epochs: int = 1):
    """Lightning's lr_scheduler config (stepped once per epoch), or None for 'none'.

    cosine: CosineAnnealingLR over the epochs; plateau: ReduceLROnPlateau on val R@1 (mode max);
    multistep: MultiStepLR (milestones in epochs, gamma)."""
    kwargs = dict(kwargs or {})
    try:
        if name == "none":
            return None
        if name == "cosine":
            kwargs.setdefault("T_max", epochs)
            scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, **kwargs)
        elif name == "plateau":
            kwargs.setdefault("mode", "max")
            return {"scheduler": torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, **kwargs),
                    "monitor": "val/R@1", "interval": "epoch"}
        elif name == "multistep":
            kwargs.setdefault("milestones", [max(1, epochs // 2)])
            scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, **kwargs)
        else:
            raise VPRInputError(f"Unknown scheduler {name!r}; expected one of {list(SCHEDULERS)}.")
    except TypeError as e:
        raise VPRInputError(f"Bad scheduler_kwargs for {name!r}: {e}.") from None
    return {"scheduler": scheduler, "interval": "epoch"}
