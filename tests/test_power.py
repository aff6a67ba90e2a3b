"""bench/power.py and bench/verdict_stability.py: the split of an interval into its seed and query sources, and the
kinds of verdict change (constructed data; the scripts' runs are in docs/benchmarks.md)."""
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from power import projected, sources  # noqa: E402
from verdict_stability import kind, verdicts  # noqa: E402


def test_an_interval_is_split_into_what_the_seeds_and_the_queries_contribute():
    rng = np.random.default_rng(0)
    base = rng.random((5, 1000)) < 0.4
    seeds_only = base.copy()  # the other variant differs from the base by whole seeds, never by single queries
    seeds_only[:2] = rng.random((2, 1000)) < 0.6
    found = sources(base, seeds_only)
    assert found["seeds"] > found["queries"] > 0 and found["both"] >= found["seeds"]
    flips = base ^ (rng.random((5, 1000)) < 0.1)  # independent query flips, the same rate for every seed
    found = sources(base, flips)
    assert found["queries"] > found["seeds"]
    assert projected(found, 5, 1000) == np.hypot(found["seeds"], found["queries"])
    assert projected(found, 20, 4000) < projected(found, 5, 1000)


def test_verdict_changes_are_counted_by_kind():
    assert kind("better", "worse") == "better <-> worse" and kind("better", "better") == "same"
    assert kind("within noise", "better") == "within noise -> better"
    table = pd.DataFrame({"variant": ["gem"], "SF-XS test verdict": ["better"], "SF-XS test p": [0.001],
                          "SF-XS test Δ R@1": [5.0]}).set_index("variant")
    rows = verdicts({"02_gem": table})
    assert rows.loc[("02_gem", "gem", "SF-XS test"), "verdict"] == "better" and len(rows) == 1
