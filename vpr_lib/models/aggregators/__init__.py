"""Aggregators: feature map (B, C, H, W) → descriptor (B, D). A string-keyed registry: every module of this package
registers itself, so a new aggregator is one file (docs/extending.md; tests/test_registries.py checks each one).

Every registered class subclasses `Aggregator`, whose attributes and methods state the contract in code:
- `@register("name")`; `__init__(self, in_shape, **kwargs)` with in_shape = (C, H, W) of the maps it is built for,
  calling `super().__init__(in_shape)`, every kwarg with a default (the params' `aggregator_kwargs` are the kwargs);
- `self.out_dim`: the descriptor size; `forward(x: (B, C, H, W)) -> (B, out_dim)` (VPRModel L2-normalises it);
- `checks_shape = True` when built for one map shape (weights or clusters sized by it): forward then calls
  `self.check_input(x)`, so another shape stops with the expected one; otherwise any H x W gives the same out_dim;
- `fixed_input = True` when its weights depend on H x W: VPRModel then refuses images of another size;
- `init_images > 0` when it starts from k-means: `init_clusters(local_features, seed)`, called by train/data.py
  before epoch 0;
- what the visual analysis may ask: `heatmap(maps)` (where the descriptor draws from) and `assignment(maps)` (the
  NetVLAD family's soft assignment and context mask; None for the others).
"""
from __future__ import annotations

import importlib
import pkgutil

from torch import nn

from vpr_lib.errors import VPRInputError

AGGREGATORS: dict = {}


class Aggregator(nn.Module):
    """The base of every registered aggregator (the contract above). It holds no weights: subclassing it changes no
    checkpoint."""
    checks_shape = False  # True: built for one map shape; forward calls self.check_input(x)
    fixed_input = False  # True: its weights depend on H x W (VPRModel refuses images of another size)
    init_images = 0  # > 0: k-means on the local features of this many training images (init_clusters)

    def __init__(self, in_shape):
        super().__init__()
        self.in_shape = tuple(in_shape)

    def check_input(self, x) -> None:
        """Stop with the expected shape when a feature map does not match what the aggregator was built for."""
        if tuple(x.shape[1:]) != self.in_shape:
            raise VPRInputError(f"{type(self).__name__} was built for feature maps of shape (B, "
                                f"{', '.join(map(str, self.in_shape))}) and got {tuple(x.shape)}: the input "
                                f"resolution or backbone crop differs from the one it was built with.")

    def init_clusters(self, local_features, seed: int = 0) -> None:
        raise NotImplementedError(f"{type(self).__name__} sets init_images but does not define init_clusters")

    def heatmap(self, maps):
        """(B, H, W): how much each position contributes to the descriptor; by default the L2 norm over channels."""
        return maps.norm(dim=1)

    def assignment(self, maps):
        """(assignment (B, K, H, W), context mask (B, 1, H, W) or None) for the NetVLAD family; None for the others."""
        return None


def register(name: str):
    def wrap(cls):
        if not (isinstance(cls, type) and issubclass(cls, Aggregator)):
            raise TypeError(f"aggregator {name!r}: {cls!r} must subclass vpr_lib.models.aggregators.Aggregator")
        AGGREGATORS[name] = cls
        return cls
    return wrap


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
