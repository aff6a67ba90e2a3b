"""vpr_lib.stats, vpr_lib.family and vpr_lib.comparisons: chance, the paired bootstrap over seeds and queries, one
correction over the whole study, and findings that follow the data (constructed tables with opposite outcomes)."""
import itertools

import numpy as np
import pandas as pd
import pytest

from vpr_lib.comparisons import findings, versus
from vpr_lib.stats import ALPHA, bootstrap_mean, chance_recall, corrected, paired_difference, verdict
from vpr_lib.config import trains


def test_chance_is_the_exact_expectation_of_a_random_ranking():
    # 5 database images; query 0 has positives {0, 1}, query 1 has none
    positives, database = [[0, 1], []], 5
    for n in (1, 2, 3):
        rankings = list(itertools.permutations(range(database), n))
        exact = np.mean([any(i in (0, 1) for i in r) for r in rankings])  # query 0, enumerated
        assert chance_recall(positives, database, n) == pytest.approx(100 * exact / 2)
    assert chance_recall([[0, 1]], 5, 2) == pytest.approx(70.0)  # 1 - C(3,2)/C(5,2)


def test_the_correction_multiplies_by_the_family_and_caps_at_one():
    assert corrected(0.001, 46) == pytest.approx(0.046) and corrected(0.2, 46) == 1.0


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
    table = versus(results, "base", correct=correct, family=4)
    assert table.loc["same", "SF-XS test verdict"] == "within noise" and table.loc["same", "SF-XS test p"] == 1.0
    assert "SF-XS val verdict" not in table and "SF-XS val Δ R@1" in table  # the selection set is not tested
    winner, loser = ("first", "second") if up > down else ("second", "first")
    assert table.loc[winner, "SF-XS test verdict"] == "better" and table.loc[loser, "SF-XS test verdict"] == "worse"
    assert table.loc[winner, "SF-XS test Δ R@1"] > 0 > table.loc[loser, "SF-XS test Δ R@1"]
    text = findings(table)
    better, worse = text.split("better: ")[1].split("Worse: ")
    assert f"`{winner}` on SF-XS test (+" in better and f"`{loser}`" not in better
    assert f"`{loser}` on SF-XS test (-" in worse and f"`{winner}`" not in worse and "`same`" not in text
    assert "The one other comparison is within noise." in text  # `same` on SF-XS test
    assert "p × 4 < 0.05, Bonferroni over the 4 test-set comparisons" in text
    assert "SF-XS val picked each run's checkpoint: its differences are in the table, not tested" in text


def test_one_seed_says_the_interval_covers_the_queries_only():
    results, correct = constructed({"base": 0.4, "other": 0.4}, seeds=(0,))
    text = findings(versus(results, "base", correct=correct, family=1))
    assert "over the 1 seed both sides ran and the queries" in text and "The only comparison is within noise." in text
    assert "the queries only, not the seed" in text


def test_a_baseline_that_did_not_run_gives_a_sentence_not_an_error():
    results, correct = constructed({"gem": 0.4})
    table = versus(results, "avg", correct=correct, family=1)
    assert table.empty and "the baseline `avg` has no runs here" in findings(table)


def test_a_baseline_alone_gives_a_sentence_not_an_error():
    """01's smoke profile runs only the starter: nothing to compare it with."""
    results, correct = constructed({"starter": 0.4})
    table = versus(results, "starter", correct=correct, family=1)
    assert table.empty and "only `starter` ran here" in findings(table)


def test_a_variant_on_fewer_seeds_is_descriptive_outside_the_family():
    results, correct = constructed({"base": 0.4, "scratch": 0.1, "gem": 0.4})
    results = results[(results.variant != "scratch") | (results.seed == 0)]
    table = versus(results, "base", correct=correct, family=2, descriptive={"scratch"})
    assert table.loc["scratch", "SF-XS test verdict"] == "descriptive"
    assert np.isnan(table.loc["scratch", "SF-XS test p corrected"]) and table.loc["scratch", "SF-XS test Δ R@1"] < 0
    text = findings(table)
    assert "Worse: none." in text and "The only comparison is within noise." in text
    assert "Descriptive, fewer seeds than the others (no verdict, outside the family): `scratch` on SF-XS test (-" in text
    assert "over the 3 seeds both sides ran" in text  # the deciding rows' seeds


def test_one_threshold_decides_every_table_of_the_study_alike():
    """The same evidence gets the same verdict in any table: whether a comparison is decided depends on its own p
    and the study's family only, never on the other rows of its table."""
    results, correct = constructed({"base": 0.4, "gap": 0.47, "far": 0.8}, queries=400)
    alone = versus(results[results.variant != "far"], "base", correct=correct, family=10)
    together = versus(results, "base", correct=correct, family=10)
    assert alone.loc["gap"].equals(together.loc["gap"])
    for table in (alone, together):
        for _, row in table.iterrows():
            decided = row["SF-XS test verdict"] != "within noise"
            assert decided == (row["SF-XS test p"] * 10 < ALPHA)


def test_the_study_family_counts_every_notebooks_test_set_comparisons():
    from vpr_lib.config import load_params
    from vpr_lib.family import descriptive_variants, family_size
    from vpr_lib.paths import params_dir
    expected = 0
    for path in params_dir().glob("[0-9][0-9]_*.yaml"):
        params = load_params(path.stem, "study")
        if trains(params) and len(params["variants"]) > 1:
            deciding = len(params["variants"]) - len(descriptive_variants(params))
            expected += (deciding - 1) * sum(s != params["val_set"] for s in params["test_sets"])
    assert family_size("study") == family_size("demo") == family_size("smoke") == expected > 20
    assert family_size("full") > family_size("study")  # the full profile's layer4 and SGD variants
    demo = load_params("01_baseline", "demo")
    assert descriptive_variants(demo) == {"starter_scratch"}  # one seed against three


@pytest.mark.parametrize("cell, number", [("45.0 ± 1.2", 45.0), ("12.3 (1 seed)", 12.3), ("-3.2", -3.2),
                                          ("+2.5", 2.5), (6.4, 6.4), ("7.0±0.5", 7.0)])
def test_cell_mean_reads_the_number_a_table_cell_starts_with(cell, number):
    from vpr_lib.stats import cell_mean
    assert cell_mean(cell) == number


def test_seed_interval_is_the_t_interval_of_the_per_seed_differences():
    from vpr_lib.stats import seed_interval
    mean, low, high = seed_interval([1.0, 2.0, 3.0])  # sd 1, t(0.975, 2) = 4.303
    assert mean == 2.0 and high - mean == pytest.approx(4.303 / 3 ** 0.5, abs=1e-3) and mean - low == high - mean
    assert np.isnan(seed_interval([5.0])[1])
