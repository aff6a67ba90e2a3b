"""vpr_lib.diagnosis and the report's steps: a disagreement with a course report gets its measured diagnosis, from
constructed tables (the numbers changed, the sentences follow)."""
import pandas as pd
import pytest

from vpr_lib.brief import brief_table
from vpr_lib.diagnosis import disagreements, what_it_shows

REFERENCE = pd.DataFrame([
    {"notebook": "07_mixvpr", "comparison": "07_mixvpr", "variant": v, "source": "Bracco, G, D: a report",
     "test_set": "SF-XS test", "metric": "R@1", "value": x, "note": f"'Figure 1', row {v}; ResNet-18, 10 epochs"}
    for v, x in [("avg", 12.8), ("mixvpr", 53.1)]])


def _store(tmp_path, test_delta: float, test_ci: str, twin_verdict: str = "within noise", last_gain: float = 0.2):
    tables = tmp_path / "tables"
    tables.mkdir(parents=True)
    pd.DataFrame({"variant": ["avg", "mixvpr", "mixvpr512"], "seed": 0}).to_csv(tables / "07_mixvpr_runs.csv",
                                                                                 index=False)
    versus = [{"variant": "mixvpr", "SF-XS val Δ R@1": 14.0, "SF-XS val 95% CI": "[+10.0, +18.0]",
               "SF-XS test Δ R@1": test_delta, "SF-XS test 95% CI": test_ci, "SF-XS test verdict": "within noise",
               "Tokyo-XS Δ R@1": 9.8, "Tokyo-XS 95% CI": "[+5.5, +14.2]", "Tokyo-XS verdict": "better"},
              {"variant": "mixvpr512", "SF-XS val Δ R@1": 10.0, "SF-XS val 95% CI": "[+6.0, +14.0]",
               "SF-XS test Δ R@1": 1.0, "SF-XS test 95% CI": "[-2.0, +4.0]", "SF-XS test verdict": twin_verdict,
               "Tokyo-XS Δ R@1": 5.0, "Tokyo-XS 95% CI": "[+1.0, +9.0]", "Tokyo-XS verdict": "within noise"}]
    pd.DataFrame(versus).to_csv(tables / "07_mixvpr_versus.csv", index=False)
    pd.DataFrame([{"variant": v, "SF-XS test R@1 at epoch 0": e} for v, e in
                  [("avg", "17.0 ± 1.0"), ("mixvpr", "13.0 ± 1.0"), ("mixvpr512", "12.0 ± 1.0")]]
                 ).to_csv(tables / "07_mixvpr_summary.csv", index=False)
    pd.DataFrame([{"variant": v, "seed": 0, "epoch": e, "R@1": 50 + e * g} for v, g in
                  [("avg", 0.5), ("mixvpr", last_gain), ("mixvpr512", 0.5)] for e in range(3)]
                 ).to_csv(tables / "07_mixvpr_epochs.csv", index=False)
    pd.DataFrame([{"variant": v, "aggregator": a, "backbone": "mobilenet_v2", "feature map (C, H, W)": "(96, 7, 7)",
                   "descriptor dim": d} for v, a, d in [("avg", "avg", 512), ("mixvpr", "mixvpr", 2048),
                                                        ("mixvpr512", "mixvpr", 512)]]
                 ).to_csv(tables / "07_mixvpr_costs.csv", index=False)
    for variant, r1 in (("avg", (40.0, 30.0)), ("mixvpr", (38.0, 14.0))):
        for condition, values in (("camera", ("phone", "telephoto")), ("viewpoint", ("< 15 deg", "15-45 deg")),
                                  ("time_of_day", ("day", "night"))):
            pd.DataFrame([{"set": "sf_xs/test", condition: v, "R@1": r, "95% CI": f"[{r - 5}, {r + 5}]", "chance": 6.0,
                           "queries": 100} for v, r in zip(values, r1)]
                         ).to_csv(tables / f"03_recall_by_{condition}_{variant}.csv", index=False)
            if variant == "mixvpr":
                pd.DataFrame([{"set": "sf_xs/test", condition: v, "Δ R@1": gap, "95% CI": ci, "seeds": 5,
                               "queries": 100, "baseline": "avg"}
                              for v, gap, ci in zip(values, (-2.0, -16.0), ("[-5.0, +1.0]", "[-20.0, -12.0]"))]
                             ).to_csv(tables / f"03_gap_by_{condition}_{variant}.csv", index=False)
    return tmp_path


def test_a_difference_the_kits_interval_excludes_is_a_disagreement_in_size_and_gets_its_checks(tmp_path):
    results = _store(tmp_path, -0.3, "[-3.2, +2.5]")
    _, pairs = brief_table(results, REFERENCE)
    assert list(pairs.agreement) == ["disagree in size"]
    (d,) = disagreements(pairs, results / "tables")
    assert d["baseline"] == "avg" and d["epoch 0 Δ"] == -4.0 and d["twin"]["variant"] == "mixvpr512"
    assert list(d["conditions"].gap) == [-2.0, -16.0] * 3
    assert list(d["conditions"]["gap 95% CI"]) == ["[-5.0, +1.0]", "[-20.0, -12.0]"] * 3
    text = " ".join(what_it_shows(d))
    assert "excludes the report's +40.3" in text
    assert text.endswith("The report's direction shows on SF-XS val and Tokyo-XS; these checks do not explain the "
                         "disagreement.")
    assert "Cut to the baseline's descriptor size (512-d, where `mixvpr` gives 2048-d), `mixvpr512` gives +1.0 " \
           "[-2.0, +4.0] (within noise): " \
           "descriptor size does not account for it." in text
    assert "ranges from -16.0 R@1 [-20.0, -12.0] (camera telephoto, 100 queries) to -2.0 [-5.0, +1.0]" in text
    assert "lies below 0 in 3 and above 0 in 0 of the 6 condition rows" in text
    assert "The report's number, as the course reference records it: the report's Figure 1, row mixvpr; ResNet-18, " \
           "10 epochs. The kit's " \
           "setting is its notebook's training regime." in text  # a constructed store: no profile to read it from
    assert "Training had settled" in text


@pytest.mark.parametrize("twin_verdict,last_gain", [("better", 2.0)])
def test_the_diagnosis_follows_the_numbers(tmp_path, twin_verdict, last_gain):
    results = _store(tmp_path, -0.3, "[-3.2, +2.5]", twin_verdict, last_gain)
    _, pairs = brief_table(results, REFERENCE)
    text = " ".join(what_it_shows(disagreements(pairs, results / "tables")[0]))
    assert "descriptor size changes the verdict." in text and "do not explain" not in text
    assert "At the last epoch SF-XS val R@1 still moved +2.0 for the variant and +0.5 for its baseline, so the variant " \
           "had not settled" in text
    d = {**disagreements(pairs, results / "tables")[0], "lr ends at 0": {"the variant": True, "its baseline": True}}
    assert "had not settled (a move of 1 point or more; its baseline trained under a schedule that ends at a learning " \
           "rate of 0, where a small last move does not show settling)" in " ".join(what_it_shows(d))
    d["last-epoch gain"] = 0.2
    assert "moved less than 1 point at the last epoch; the variant and its baseline trained under a schedule that ends " \
           "at a learning rate of 0, where a small last move does not show settling: whether training had settled is " \
           "not shown" in " ".join(what_it_shows(d))
    d["lr ends at 0"] = {"the variant": False, "its baseline": False}
    assert "Training had settled" in " ".join(what_it_shows(d)) and "learning rate of 0" not in " ".join(what_it_shows(d))


def test_an_interval_that_holds_the_reports_difference_is_no_disagreement(tmp_path):
    results = _store(tmp_path, 30.0, "[-3.0, +41.0]")
    _, pairs = brief_table(results, REFERENCE)
    assert list(pairs.agreement) == ["kit within noise"] and disagreements(pairs, results / "tables") == []


def test_the_report_orders_its_experiments_by_the_briefs_steps_with_the_diagnosis_in_its_step(tmp_path):
    from vpr_lib.report.steps import experiments_tex
    results = _store(tmp_path, -0.3, "[-3.2, +2.5]")
    (tmp_path / "gen" / "tables").mkdir(parents=True)
    brief = brief_table(results, REFERENCE)
    text = experiments_tex({"07_mixvpr": "SECTION-07", "12_knn": "SECTION-12"}, results, tmp_path / "gen", None,
                           brief, disagreements(brief[1], results / "tables"))
    assert text.index(r"\subsection{Step 6e: Aggregation}") < text.index("SECTION-07") < \
        text.index(r"\subsubsection{Diagnosis: \texttt{mixvpr} against \texttt{avg} on SF-XS test}") < \
        text.index(r"\subsection{Beyond the brief's steps}") < text.index("SECTION-12")
    assert r"\Cref{tab:diagnosis_1}" in text and (tmp_path / "gen" / "tables" / "diagnosis_1.tex").is_file()


def test_the_kits_setting_is_read_from_the_params_of_the_profile_that_ran_it():
    from vpr_lib.config import load_params, run_configs
    from vpr_lib.diagnosis import kit_setting
    config = next(c for c in run_configs(load_params("07_mixvpr", "study")) if c["variant"] == "mixvpr_layer3_adamw")
    words = kit_setting("07_mixvpr", "study", "mixvpr_layer3_adamw", "SynthCity study")
    assert words.startswith(f"{config['backbone']} (ImageNet weights) cut after {config['last_stage']} at "
                            f"{config['image_size'][0]} px, {config['loss']} loss (alpha 1, beta 50, base 0.0) with "
                            f"{config['miner']} miner (epsilon 0.1)")
    assert f"{config['optimizer']} (lr {config['optimizer_kwargs']['lr']}, weight_decay " in words
    assert "scheduler cosine (T_max 4), 4 epochs" in kit_setting("08_optimizers", "study", "cosine", "SynthCity study")
    assert words.endswith(f"{config['epochs']} epochs of {config['limit_train_batches']:.0%} of a pass over the "
                          "training set, trained on SynthCity study's gsv_xs/train")
    assert kit_setting("07_mixvpr", "study", "no_such_variant", "SynthCity study") is None


def test_a_smaller_difference_in_the_reports_direction_says_so(tmp_path):
    results = _store(tmp_path, 3.0, "[+1.0, +5.0]")  # within noise after the correction, above 0 uncorrected
    _, pairs = brief_table(results, REFERENCE)
    assert list(pairs.agreement) == ["disagree in size"]
    text = " ".join(what_it_shows(disagreements(pairs, results / "tables")[0]))
    assert "Uncorrected, that interval lies on the report's side of 0: the kit finds the report's direction, smaller " \
           "in size." in text
    assert text.endswith("The report's direction shows on SF-XS test (uncorrected), SF-XS val and Tokyo-XS; these "
                         "checks do not explain the disagreement.")
