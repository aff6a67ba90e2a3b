"""Aggregators: feature map (B, C, H, W) → descriptor (B, D). A string-keyed registry: every module of this package
registers itself, so a new aggregator is one file (docs/extending.md; tests/test_registries.py checks each one).

The contract of a registered class:
- `@register("name")`; `__init__(self, in_shape, **kwargs)` with in_shape = (C, H, W) of the maps it is built for
  and every kwarg with a default (the params' `aggregator_kwargs` are the kwargs);
- `self.out_dim`: the descriptor size; `forward(x: (B, C, H, W)) -> (B, out_dim)` (VPRModel L2-normalises it);
- built for one map shape (weights or clusters sized by it): keep `self.in_shape` and call `check_input(self, x)`
  in forward, so another shape stops with the expected one; otherwise any H x W gives the same out_dim;
- `fixed_input = True` when its weights depend on H x W: VPRModel then refuses images of another size;
- starting from k-means (NetVLAD, CRN): `init_images` and `init_clusters(local_features, seed)`, called by
  train/data.py before epoch 0.
"""
from __future__ import annotations

import importlib
import pkgutil

from vpr_lib.errors import VPRInputError

AGGREGATORS: dict = {}


def register(name: str):
    def wrap(cls):
        AGGREGATORS[name] = cls
        return cls
    return wrap


def check_input(aggregator, x) -> None:
    """Stop with the expected shape when a feature map does not match what the aggregator was built for."""
    if tuple(x.shape[1:]) != aggregator.in_shape:
        raise VPRInputError(f"{type(aggregator).__name__} was built for feature maps of shape (B, "
                            f"{', '.join(map(str, aggregator.in_shape))}) and got {tuple(x.shape)}: the input "
                            f"resolution or backbone crop differs from the one it was built with.")


def build_aggregator(name: str, in_shape: tuple, **kwargs):
    """Build aggregator `name` for feature maps of shape `in_shape` = (C, H, W)."""
    if name not in AGGREGATORS:
        raise VPRInputError(f"Unknown aggregator {name!r}; expected one of {sorted(AGGREGATORS)}.")
    try:
        return AGGREGATORS[name](in_shape, **kwargs)
    except TypeError as e:
        raise VPRInputError(f"Bad parameters for aggregator {name!r}: {e}.") from None


# every module of this package registers itself: adding one is adding a file
for _module in sorted(pkgutil.iter_modules(__path__)):
    importlib.import_module(f"{__name__}.{_module.name}")
