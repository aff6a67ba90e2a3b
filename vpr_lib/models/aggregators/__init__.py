"""Aggregators: feature map (B, C, H, W) → descriptor (B, D). A string-keyed registry."""
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
