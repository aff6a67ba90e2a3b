"""The study's one family of comparisons: every versus table's test-set cells, over every notebook, counted from the
params files (vpr_lib.stats says the rule). A notebook decides alone with the same threshold as every other.

A variant run on fewer seeds than its notebook's (say, the from-scratch starter, whose whole trunk trains) is
*descriptive*: its table row gives the difference and interval, but no verdict, and it is outside the family.
"""
from __future__ import annotations

from vpr_lib.config import load_params, trains
from vpr_lib.paths import params_dir

# The profile whose comparisons form the family: the demo is a subset of the study and decides with its threshold;
# the real data's profile (more variants: layer4, SGD) has its own.
FAMILY_OF_PROFILE = {"full": "full"}


def descriptive_variants(params: dict) -> set:
    """The variants of resolved params run on fewer seeds than the notebook's own (their own `seeds` list)."""
    seeds = len(params.get("seeds", [0]))
    return {name for name, changes in params["variants"].items() if len(changes.get("seeds", [0] * seeds)) < seeds}


def tested_sets(params: dict) -> int:
    """How many test sets a comparison is tested on: every set evaluated but the one that selects the checkpoint."""
    return len([s for s in params["test_sets"] if s != params["val_set"]])


def family_size(profile: str) -> int:
    """N: the number of test-set comparisons in the study's versus tables (those of `full` for the full profile),
    read from the params files each time (35 ms)."""
    profile, total = FAMILY_OF_PROFILE.get(profile, "study"), 0
    for path in sorted(params_dir().glob("[0-9][0-9]_*.yaml")):
        params = load_params(path.stem, profile)
        if not trains(params):  # a notebook that trains nothing (00, 03, 12) compares nothing
            continue
        deciding = len(params["variants"]) - len(descriptive_variants(params))
        total += max(0, deciding - 1) * tested_sets(params)
    return max(1, total)
