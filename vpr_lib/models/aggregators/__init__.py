"""Aggregators: feature map (B, C, H, W) → descriptor (B, D). A string-keyed registry."""
from __future__ import annotations

from vpr_lib.errors import VPRInputError

AGGREGATORS: dict = {}


def register(name: str):
    def wrap(cls):
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


from vpr_lib.models.aggregators import avg, gem  # noqa: E402,F401  (registration)
