"""vpr_lib.stats and vpr_lib.comparisons: chance, the paired bootstrap over seeds and queries, Holm, and findings
that follow the data (constructed tables with opposite outcomes)."""
import itertools

import numpy as np
import pandas as pd
import pytest

from vpr_lib.comparisons import findings, versus
from vpr_lib.stats import bootstrap_mean, chance_recall, holm, paired_difference, verdict


def test_chance_is_the_exact_expectation_of_a_random_ranking():
    # 5 database images; query 0 has positives {0, 1}, query 1 has none
    positives, database = [[0, 1], []], 5
    for n in (1, 2, 3):
        rankings = list(itertools.permutations(range(database), n))
        exact = np.mean([any(i in (0, 1) for i in r) for r in rankings])  # query 0, enumerated
        assert chance_recall(positives, database, n) == pytest.approx(100 * exact / 2)
    assert chance_recall([[0, 1]], 5, 2) == pytest.approx(70.0)  # 1 - C(3,2)/C(5,2)


def test_holm_adjusts_step_down_and_keeps_nan_out_of_the_family():
    assert np.allclose(holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])
    adjusted = holm([0.02, np.nan, 0.5])
    assert adjusted[0] == pytest.approx(0.04) and np.isnan(adjusted[1]) and adjusted[2] == 0.5


def test_paired_bootstrap_separates_a_gap_from_noise():
    rng = np.random.default_rng(1)
    base = rng.random((3, 200)) < 0.4
    same = paired_difference(base, base)
    assert same["delta"] == 0 and same["p"] == 1.0
    better = base | (rng.random((3, 200)) < 0.3)  # the same queries, many more of them right
    found = paired_difference(base, better)
    assert found["delta"] > 10 and found["low"] > 0 and found["p"] < 0.01
    reverse = paired_difference(better, base)
    assert reverse["delta"] == pytest.approx(-found["delta"]) and reverse["high"] < 0
    mean, low, high = bootstrap_mean(base)
    assert low < mean < high and mean == pytest.approx(100 * base.mean())
    assert (verdict(5.0, 0.01), verdict(-5.0, 0.01), verdict(5.0, 0.2)) == ("better", "worse", "within noise")


def constructed(rates: dict, seeds=(0, 1, 2), queries=150, sets=("SF-XS val", "SF-XS test")):
    """A results table with run ids, and per-query correctness: variant v's queries right with rate rates[v]."""
    rng = np.random.default_rng(0)
    shared = rng.random((len(seeds), queries))  # the same query difficulty for every variant: pairs matter
    correct = {(f"{v}-s{s}", t): shared[i] < rate for v, rate in rates.items() for i, s in enumerate(seeds) for t in sets}
    results = pd.DataFrame([{"variant": v, "seed": s, "run_id": f"{v}-s{s}", "set": t}
                            for v in rates for s in seeds for t in sets])
    return results, lambda run_id, test_set, metric: correct[(run_id, test_set)]


@pytest.mark.parametrize("up,down", [(0.6, 0.2), (0.2, 0.6)])
def test_findings_follow_the_data_when_the_outcome_is_reversed(up, down):
    results, correct = constructed({"base": 0.4, "first": up, "second": down, "same": 0.4})
    table = versus(results, "base", correct=correct)
    assert table.loc["same", "SF-XS test verdict"] == "within noise" and table.loc["same", "SF-XS test p"] == 1.0
    winner, loser = ("first", "second") if up > down else ("second", "first")
    assert table.loc[winner, "SF-XS test verdict"] == "better" and table.loc[loser, "SF-XS test verdict"] == "worse"
    assert table.loc[winner, "SF-XS test Δ R@1"] > 0 > table.loc[loser, "SF-XS test Δ R@1"]
    text = findings(table)
    better, worse = text.split("better: ")[1].split("Worse: ")
    assert f"`{winner}` on SF-XS test (+" in better and f"`{loser}`" not in better
    assert f"`{loser}` on SF-XS test (-" in worse and f"`{winner}`" not in worse and "`same`" not in text
    assert "The other 2 comparisons are within noise." in text  # `same` on both sets
    assert "Holm's correction over 6 comparisons" in text and "SF-XS val picked each run's checkpoint" in text


def test_one_seed_says_the_interval_covers_the_queries_only():
    results, correct = constructed({"base": 0.4, "other": 0.4}, seeds=(0,))
    text = findings(versus(results, "base", correct=correct))
    assert "over the 1 seed both sides ran and the queries" in text and "All 2 comparisons are within noise." in text
    assert "the queries only, not the seed" in text


def test_a_baseline_that_did_not_run_gives_a_sentence_not_an_error():
    results, correct = constructed({"gem": 0.4})
    table = versus(results, "avg", correct=correct)
    assert table.empty and "the baseline `avg` has no runs here" in findings(table)


def test_a_baseline_alone_gives_a_sentence_not_an_error():
    """01's smoke profile runs only the starter: nothing to compare it with."""
    results, correct = constructed({"starter": 0.4})
    table = versus(results, "starter", correct=correct)
    assert table.empty and "only `starter` ran here" in findings(table)
