"""vpr_lib.brief: each step of the course brief with the kit's answer, the course reports' and their agreement,
from constructed tables (the outcome reversed: the agreement follows)."""
from pathlib import Path

import pandas as pd
import pytest

from vpr_lib.brief import STEPS, brief_table


def _tables(tmp_path, gem_delta: float, gem_verdict: str):
    tables = tmp_path / "tables"
    tables.mkdir(parents=True)
    pd.DataFrame({"variant": ["avg", "gem"], "seed": [0, 0], "run_id": ["avg-s0", "gem-s0"]}).to_csv(
        tables / "02_gem_runs.csv", index=False)
    pd.DataFrame([{"variant": "gem", "SF-XS val Δ R@1": 1.0, "SF-XS test Δ R@1": gem_delta,
                   "SF-XS test verdict": gem_verdict, "Tokyo-XS Δ R@1": 0.5, "Tokyo-XS verdict": "within noise"}]
                 ).to_csv(tables / "02_gem_versus.csv", index=False)
    pd.DataFrame([{"variant": "starter", "SF-XS val R@1": "60.0 ± 1.0", "SF-XS test R@1": "40.0 ± 2.0",
                   "Tokyo-XS R@1": "45.0 ± 1.0"}]).to_csv(tables / "01_baseline_summary.csv", index=False)
    return tmp_path


REFERENCE = pd.DataFrame([
    {"notebook": "02_gem", "comparison": "02_gem", "variant": v, "source": "Sajjadi, D, S: a report", "test_set": s,
     "metric": "R@1", "value": x}
    for v, s, x in [("avg", "SF-XS test", 27.2), ("gem", "SF-XS test", 28.3), ("avg", "Tokyo-XS", 40.0),
                    ("gem", "Tokyo-XS", 43.2)]] + [
    {"notebook": "07_mixvpr", "comparison": "07_mixvpr", "variant": "avg_layer3_adamw", "source": "Bracco, G, D: another",
     "test_set": s,
     "metric": "R@1", "value": x} for s, x in [("SF-XS val", 47.2), ("SF-XS test", 12.8), ("Tokyo-XS", 22.5)]])


@pytest.mark.parametrize("delta,verdict,agreement", [(5.0, "better", "agree"), (-5.0, "worse", "disagree"),
                                                     (0.4, "within noise", "kit within noise")])
def test_a_steps_agreement_follows_the_kits_verdict_against_the_reports_direction(tmp_path, delta, verdict, agreement):
    steps, pairs = brief_table(_tables(tmp_path, delta, verdict), REFERENCE)
    gem = steps.set_index("step").loc["4"]
    assert f"{verdict}: gem (SF-XS test {delta:+.1f})" in gem.kit or verdict == "within noise"
    assert gem.kit.endswith(f"within noise: {1 + (verdict == 'within noise')} of 2 test-set comparisons")
    assert "Sajjadi et al. on SF-XS test: gem +1.1; Sajjadi et al. on Tokyo-XS: gem +3.2" in gem.course
    on_test = pairs[(pairs.variant == "gem") & (pairs["kit set"] == "SF-XS test")]
    assert list(on_test.agreement) == [agreement]
    assert list(pairs[pairs["kit set"] == "Tokyo-XS"].agreement) == ["kit within noise"]
    assert gem.agreement.startswith(agreement if agreement != "kit within noise" else "kit within noise")


def test_steps_2_and_3_compare_the_direction_between_sets_and_steps_without_tables_are_left_out(tmp_path):
    steps, _ = brief_table(_tables(tmp_path, 5.0, "better"), REFERENCE)
    by_step = steps.set_index("step")
    assert "(+20.0)" in by_step.loc["2", "kit"] and "Bracco et al. (avg_layer3_adamw): +34.4" in by_step.loc["2", "course"]
    assert by_step.loc["2", "agreement"] == "same direction 1"
    assert "(+5.0)" in by_step.loc["3", "kit"] and by_step.loc["3", "agreement"] == "same direction 2"
    assert list(steps.step) == ["2", "3", "4"]  # no table for the others in this store


def test_steps_2_and_3_set_a_reports_model_beside_the_kits_same_variant_when_it_ran_one(tmp_path):
    tables = _tables(tmp_path, 5.0, "better") / "tables"
    pd.DataFrame({"variant": ["avg_layer3_adamw"] * 2, "run_id": ["a", "b"]}).to_csv(tables / "07_mixvpr_runs.csv",
                                                                                  index=False)
    pd.DataFrame([{"variant": "avg_layer3_adamw", "SF-XS val R@1": "30.0 ± 1.0", "SF-XS test R@1": "40.0 ± 1.0",
                   "Tokyo-XS R@1": "41.0 ± 1.0"}]).to_csv(tables / "07_mixvpr_summary.csv", index=False)
    by_step = brief_table(tmp_path, REFERENCE)[0].set_index("step")
    assert "avg_layer3_adamw (notebook 07): SF-XS val 30.0 ± 1.0 against SF-XS test 40.0 ± 1.0 (-10.0)" in \
        by_step.loc["2", "kit"]
    assert by_step.loc["2", "course"] == "Bracco et al. (avg_layer3_adamw): +34.4, beside the kit's avg_layer3_adamw"
    assert by_step.loc["2", "agreement"] == "other direction 1"  # its own variant's gap, not the starter's +20.0
    assert "Student's t" not in by_step.loc["2", "kit"]  # no per-seed results here: no interval to explain


def test_the_steps_follow_the_brief():
    assert [s.label for s in STEPS] == ["2", "3", "4", "5", "6a", "6b", "6c", "6d", "6e", "6f"]
    assert dict((s.label, s.notebooks[0]) for s in STEPS)["6a"] == "05_miners"  # the brief: a miners, b losses


def test_a_notebooks_findings_set_the_kit_beside_the_course_with_the_reports_generator(tmp_path):
    """Experiment.findings(): the versus findings (as the report's), then the course reports' pairs and agreement."""
    from vpr_lib.experiments import Experiment
    versus = pd.read_csv(_tables(tmp_path, -6.0, "worse") / "tables" / "02_gem_versus.csv").set_index("variant")
    versus["SF-XS test 95% CI"], versus["SF-XS test p corrected"], versus["SF-XS test seeds"] = "[-9.0, -3.0]", 0.001, 5
    versus["Tokyo-XS 95% CI"], versus["Tokyo-XS p corrected"], versus["Tokyo-XS seeds"] = "[-2.0, +3.0]", 1.0, 5
    versus.attrs.update(baseline="avg", metric="R@1", family=54)
    results = pd.DataFrame({"variant": ["avg", "gem"], "set": "SF-XS test"})
    exp = Experiment("02_gem", {}, pd.DataFrame(), results, pd.DataFrame(), versus_first=versus)
    text = exp.findings().text
    assert text.startswith("**Against `avg`**") and "Worse: `gem` on SF-XS test (-6.0 [-9.0, -3.0]" in text
    assert ("Sajjadi et al. report `gem` +1.1 over `avg` on SF-XS test, the kit -6.0 on SF-XS test (worse): disagree"
            in text)


def test_a_report_difference_of_zero_has_no_direction_and_pairs_stay_within_a_reports_own_comparison(tmp_path):
    """Sajjadi et al.'s optimizer table has no 'none' row; their scheduler table's 'none' is SGD without schedule:
    pairs are formed within one comparison of one report, and a 0.0 difference agrees with nothing."""
    reference = pd.DataFrame([
        {"notebook": "02_gem", "comparison": c, "variant": v, "source": "Sajjadi, D, S: r", "test_set": "SF-XS test",
         "metric": "R@1", "value": x} for c, v, x in [("other table", "avg", 20.0), ("other table", "gem", 30.0),
                                                      ("gem table", "avg", 27.0), ("gem table", "gem", 27.0)]])
    _, pairs = brief_table(_tables(tmp_path, 5.0, "better"), reference)
    assert list(pairs["report Δ"]) == [10.0, 0.0]  # each within its own table, never across
    assert list(pairs.agreement) == ["agree", "report without a direction"]


def test_the_reading_order_holds_every_notebook_in_the_briefs_order():
    from vpr_lib.brief import reading_order
    from vpr_lib.config import notebook_paths
    order = reading_order()
    listed = [n for cell in order.notebooks for n in cell.split(", ")]
    assert sorted(set(listed)) == sorted(p.stem for p in notebook_paths() if p.stem != "00_datasets")
    assert list(order.index[:3]) == ["2", "3", "4"] and order.index[-1] == "beyond"


def test_the_steps_synthcity_notes_state_the_generator_s_query_conditions():
    """Steps 2 and 3 say how SynthCity's sets differ: the shares and tilts come from its generator, not typed."""
    from vpr_lib.brief import STEPS, synthetic_words
    from vpr_lib.synth.plan import QUERY_CONDITIONS
    test = QUERY_CONDITIONS["test"]
    night = test["times"][2] / sum(test["times"])
    for step in STEPS[:2]:
        words = synthetic_words(step)
        assert f"night {night:.0%}".replace("%", " %") in words and f"tilted by up to ±{test['pitch']} degrees" in words
        assert "{" not in words
    assert f"{len(test['cameras'])} cameras" in synthetic_words(STEPS[0])


def test_steps_2_and_3_give_the_gap_between_sets_with_its_interval_over_seeds():
    """The two sets have other queries: the interval comes from the per-seed differences (the committed study)."""
    from vpr_lib.brief import brief_table
    from vpr_lib.stats import seed_interval
    results = Path(__file__).resolve().parents[1] / "results"
    steps, _ = brief_table(results)
    per_seed = pd.read_csv(results / "tables" / "01_baseline_results.csv").query("variant == 'starter'").pivot(
        index="seed", columns="set", values="R@1")
    _, low, high = seed_interval(per_seed["SF-XS val"] - per_seed["SF-XS test"])
    assert f"95 % interval [{low:+.1f}, {high:+.1f}] over its {len(per_seed)} seeds" in steps.set_index("step").kit["2"]
    assert steps.set_index("step").kit["2"].endswith("intervals by Student's t on the per-seed differences (the two "
                                                     "sets' queries differ: no pairing)")


def test_the_comparisons_no_pair_holds_are_named_and_the_seeds_tables_reports_known(tmp_path):
    from vpr_lib.brief import ranked_reports
    other = pd.DataFrame([
        {"notebook": "02_gem", "comparison": "02_gem sizes", "variant": v, "source": "Masone, B: lecture slides",
         "test_set": s, "metric": "R@1", "value": x}
        for v, s, x in [("gem", "Pitts30k", 80.0), ("gem_big", "Pitts30k", 82.0), ("gem", "MSLS", 70.0)]])
    steps, pairs = brief_table(_tables(tmp_path, 5.0, "better"),
                               pd.concat([REFERENCE, other], ignore_index=True))
    assert steps.attrs["left out"] == {"baselines": [{"source": "Masone et al. (lecture)", "comparison": "02_gem sizes",
                                                      "variants": ["gem", "gem_big"]}], "variants": [],
                                       "selection": [], "sets": ["MSLS"]}
    assert steps.attrs["transcribed"] == len(REFERENCE) + len(other)
    assert set(pairs.source) == {"Sajjadi et al."}  # the lecture has no number for avg
    ranked = pd.DataFrame({"comparison": ["02_gem", "02_gem", "02_gem sizes", "02_gem sizes"],
                           "variant": ["avg", "gem", "gem", "gem_big"]})
    assert ranked_reports(ranked, pd.concat([REFERENCE, other])) == {
        ("Sajjadi et al.", "02_gem"): ("avg", "gem"), ("Masone et al. (lecture)", "02_gem sizes"): ("gem", "gem_big")}


def test_a_reports_variant_the_kit_does_not_compare_is_named(tmp_path):
    extra = pd.DataFrame([{"notebook": "02_gem", "comparison": "02_gem", "variant": "gem_big",
                           "source": "Sajjadi, D, S: a report", "test_set": "SF-XS test", "metric": "R@1", "value": 30.0}])
    steps, pairs = brief_table(_tables(tmp_path, 5.0, "better"), pd.concat([REFERENCE, extra], ignore_index=True))
    assert steps.attrs["left out"]["variants"] == [{"source": "Sajjadi et al.", "comparison": "02_gem",
                                                    "variants": ["gem_big"]}]
    assert "gem_big" not in set(pairs.variant)


def test_a_reports_selection_set_numbers_and_a_variant_without_a_number_on_the_compared_set_are_named(tmp_path):
    rows = [("Sajjadi, D, S: a report", "avg", "SF-XS val", 50.0), ("Sajjadi, D, S: a report", "gem", "SF-XS val", 55.0),
            ("Masone, B: lecture slides", "avg", "Pitts30k", 70.0), ("Masone, B: lecture slides", "gem", "MSLS", 60.0)]
    extra = pd.DataFrame([{"notebook": "02_gem", "comparison": "02_gem" if "Sajjadi" in src else "02_gem lecture",
                           "variant": v, "source": src, "test_set": t, "metric": "R@1", "value": x}
                          for src, v, t, x in rows])
    steps, _ = brief_table(_tables(tmp_path, 5.0, "better"), pd.concat([REFERENCE, extra], ignore_index=True))
    left_out = steps.attrs["left out"]
    assert left_out["selection"] == [{"source": "Sajjadi et al.", "comparison": "02_gem", "variants": ["gem"]}]
    assert left_out["variants"] == [{"source": "Masone et al. (lecture)", "comparison": "02_gem lecture",
                                     "variants": ["gem"]}]  # its only gem number is on MSLS, not on Pitts30k
    assert left_out["sets"] == ["MSLS"]
