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


def _cosine(optimizer, kwargs: dict) -> dict:
    """CosineAnnealingLR over the epochs (by default down to a learning rate of 0 at the last one)."""
    return {"scheduler": torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, **kwargs), "interval": "epoch"}


def _plateau(optimizer, kwargs: dict) -> dict:
    """ReduceLROnPlateau on val R@1 (mode max)."""
    return {"scheduler": torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, **kwargs), "monitor": "val/R@1",
            "interval": "epoch"}


def _multistep(optimizer, kwargs: dict) -> dict:
    """MultiStepLR (milestones in epochs, default half of them; gamma)."""
    return {"scheduler": torch.optim.lr_scheduler.MultiStepLR(optimizer, **kwargs), "interval": "epoch"}


# name -> (build(optimizer, kwargs) -> Lightning's lr_scheduler config, epochs -> the kwargs it defaults); a new one is
# one entry
SCHEDULERS = {"none": None,
              "cosine": (_cosine, lambda epochs: {"T_max": epochs}),
              "plateau": (_plateau, lambda epochs: {"mode": "max"}),
              "multistep": (_multistep, lambda epochs: {"milestones": [max(1, epochs // 2)]})}


def _known(name: str):
    if name not in SCHEDULERS:
        raise VPRInputError(f"Unknown scheduler {name!r}; expected one of {list(SCHEDULERS)}.")
    return SCHEDULERS[name]


def scheduler_kwargs(name: str, kwargs: dict | None, epochs: int) -> dict:
    """The arguments a scheduler is built with: the params' own over this module's defaults ({} for 'none')."""
    entry = _known(name)
    return {} if entry is None else {**entry[1](epochs), **(kwargs or {})}


def lr_ends_at_zero(name: str, kwargs: dict | None, epochs: int) -> bool:
    """Whether the schedule anneals the learning rate to 0 by the last epoch (cosine to eta_min 0 within the epochs):
    then a small last-epoch change in recall does not show that training had settled."""
    resolved = scheduler_kwargs(name, kwargs, epochs)
    return name == "cosine" and resolved["T_max"] <= epochs and resolved.get("eta_min", 0) == 0


def build_scheduler(name: str, optimizer, kwargs: dict | None = None, epochs: int = 1):
    """Lightning's lr_scheduler config (stepped once per epoch), or None for 'none'."""
    entry = _known(name)
    if entry is None:
        return None
    try:
        return entry[0](optimizer, scheduler_kwargs(name, kwargs, epochs))
    except TypeError as e:
        raise VPRInputError(f"Bad scheduler_kwargs for {name!r}: {e}.") from None
