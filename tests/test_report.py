"""The report: generated from smoke results, built with latexmk, read back with pdftotext.

Needs TeX Live (`scripts/install_system_deps.sh tex`, run by CI); skipped without it unless
VPR_REQUIRE_TEX=1 (as in CI), where its absence is a failure."""
import os
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from vpr_lib.errors import VPRInputError
from vpr_lib.report.build import build_pdf, generate, tex_escape

ROOT = Path(__file__).resolve().parents[1]
HAVE_TEX = shutil.which("latexmk") and shutil.which("pdftotext")


def test_names_from_params_are_escaped_for_latex():
    assert tex_escape("circle_sgd") == r"circle\_sgd"
    assert tex_escape("lr 0.34% & #1 {x}") == r"lr 0.34\% \& \#1 \{x\}"
    assert tex_escape("37.1 ± 2.0") == r"37.1 $\pm$ 2.0"


def test_the_run_appendix_lists_each_run_with_its_commit_and_marks_shared_runs():
    from vpr_lib.report.tex import runs_appendix
    runs = lambda *rows: pd.DataFrame(rows, columns=["variant", "seed", "run_id", "commit"])
    one = runs_appendix([("01_baseline", runs(("starter", 0, "avg-contrastive-s0-aaa", "0123456789abc"))),
                         ("02_gem", runs(("avg", 0, "avg-contrastive-s0-aaa", "0123456789abc"),
                                         ("gem", 0, "gem-contrastive-s0-bbb", "0123456789abc")))])
    assert r"Every run ran at commit \texttt{0123456789}." in one
    assert r"\texttt{avg-contrastive-s0-aaa}$^{*}$" in one and r"\texttt{gem-contrastive-s0-bbb}\par" in one
    assert one.count(r"\textbf{") == 2  # one heading per notebook
    two = runs_appendix([("01_baseline", runs(("starter", 0, "avg-contrastive-s0-aaa", "0123456789abc"),
                                              ("starter", 1, "avg-contrastive-s1-ccc", "fedcba9876543-dirty")))])
    assert r"$^{a}$ \texttt{0123456789}, $^{b}$ \texttt{fedcba9876-dirty}." in two
    assert r"\texttt{avg-contrastive-s1-ccc}$^{b}$" in two


def test_no_results_gives_a_clear_message(tmp_path):
    with pytest.raises(FileNotFoundError, match="No results to report.*run ./run_all.sh"):
        generate(tmp_path / "results", tmp_path / "report")


@pytest.mark.skipif(not HAVE_TEX and not os.environ.get("VPR_REQUIRE_TEX"),
                    reason="TeX Live not installed (scripts/install_system_deps.sh tex)")
def test_pdf_from_smoke_results_has_the_tables_numbers_and_no_broken_reference(synth_smoke, results_tmp, tmp_path):
    from vpr_lib.experiments import run_experiment
    from vpr_lib.results import save_figure
    from vpr_lib.viz.curves import plot_epoch_curves
    for name in ("01_baseline", "02_gem"):  # the other steps have no results: their sections are left out
        exp = run_experiment(name, "smoke", str(synth_smoke), progress=False)
        save_figure(plot_epoch_curves(exp.epochs), f"{name}_val_curves")  # as the notebook does
    report = tmp_path / "report"
    shutil.copytree(ROOT / "report", report, ignore=shutil.ignore_patterns("generated", "main.pdf", "main.*"))
    shutil.copy(ROOT / "report" / "main.tex", report)
    shutil.rmtree(results_tmp / "runs")  # the report needs the tables and figures only (they are committed)
    generate(results_tmp, report)
    pdf = build_pdf(report)
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, check=True,
                          encoding="utf-8", errors="replace").stdout
    flat = " ".join(text.split())
    summary = pd.read_csv(results_tmp / "tables" / "02_gem_summary.csv").set_index("variant")
    for variant in ("avg", "gem"):
        for column in ("SF-XS val R@1", "Tokyo-XS R@5"):
            assert summary.loc[variant, column] in flat  # the table's cells, as in the CSV
    # the sentence's number is the same cell (macros generated from the same CSV)
    # (from 'reaches' on: a float may fall between the sentence's subject and its verb in the text's reading order)
    assert f"reaches {summary.loc['gem', 'SF-XS val R@1']} R@1 against {summary.loc['avg', 'SF-XS val R@1']}" in flat
    versus = pd.read_csv(results_tmp / "tables" / "02_gem_versus.csv").set_index("variant")
    verdict = versus.loc["gem", "SF-XS test verdict"]
    assert f"{versus.loc['gem', 'SF-XS test Δ R@1']:+.1f} points {versus.loc['gem', 'SF-XS test 95% CI']}, {verdict}" in flat
    chance = " & ".join(str(summary.loc["chance", c]) for c in summary.columns)
    assert f"chance & {chance}" in (report / "generated/tables/02_gem.tex").read_text() and "chance" in flat
    assert "SynthCity smoke" in flat and "2 seeds" in flat  # captions state data, profile and seeds
    runs = pd.read_csv(results_tmp / "tables" / "02_gem_runs.csv")
    assert all(run_id in flat for run_id in runs.run_id)  # the appendix lists every run
    aux = (report / ".build" / "main.aux").read_text(errors="replace")  # latexmk builds in report/.build
    assert r"\newlabel{sec:02_gem}" in aux and "GeM pooling" in flat  # the subsections of the steps with results
    assert "sec:04_losses" not in aux and "sec:12_knn" not in aux  # no results, no section
    log = (report / ".build" / "main.log").read_text(errors="replace")
    assert "undefined" not in log.lower() and "no result" not in log and "??" not in flat


def _fake_step(tables: Path, name: str, variants: list[str]) -> None:
    """A notebook's summary and runs tables as experiments writes them, with made-up cells, and a blank image for
    each figure and a one-column table for each extra table it declares (the report refuses a section without them)."""
    from PIL import Image

    from vpr_lib.config import EXPERIMENT_TABLES, declared_outputs
    declared = declared_outputs(name, "demo")
    declared["tables"] = [t for t in declared["tables"] if t.rsplit("_", 1)[1] not in EXPERIMENT_TABLES + ("versus",)]
    for figure in declared["figures"]:
        (tables.parent / "figures").mkdir(exist_ok=True)
        Image.new("RGB", (8, 8), "white").save(tables.parent / "figures" / f"{figure}.png")
    for table in declared["tables"]:
        pd.DataFrame({"variant": variants}).to_csv(tables / f"{table}.csv", index=False)
    columns = [f"{s} {m}" for s in ("SF-XS val", "SF-XS test", "Tokyo-XS") for m in ("R@1", "R@5")]
    rows = [{"variant": v, **{c: f"{10 + i}.0 ± 1.0" for c in columns}} for i, v in enumerate(variants)]
    pd.DataFrame(rows).to_csv(tables / f"{name}_summary.csv", index=False)
    pd.DataFrame([{"variant": v, "seed": s, "run_id": f"{v}-s{s}-0123456789", "best_epoch": 3, "train_seconds": 1.0,
                   "commit": "abc1234", "profile": "demo", "data": "SynthCity demo", "threshold_m": 25}
                  for v in variants for s in (0, 1, 2)]).to_csv(tables / f"{name}_runs.csv", index=False)


def test_grouped_tables_extra_tables_and_the_knn_section_are_generated(tmp_path):
    results, report = tmp_path / "results", tmp_path / "report"
    (results / "tables").mkdir(parents=True)
    shutil.copytree(ROOT / "report" / "sections", report / "sections")
    _fake_step(results / "tables", "08_optimizers", ["sgd", "adam", "none", "cosine", "sgd_lr0.001"])
    _fake_step(results / "tables", "09_heads", ["cosplace", "netvlad"])
    pd.DataFrame({"variant": ["cosplace", "netvlad"], "descriptor dim": [512, 16384]}).to_csv(
        results / "tables" / "09_heads_costs.csv", index=False)
    knn = pd.DataFrame([{"index": k, "database": n, "memory MB": m, "query ms": q, "R@1": r, "R@5": r,
                         "% memory saved": 100 - m, "% time saved": 100 - q, "seed": 0, "set": "sf_xs/test"}
                        for n in (1000, 10000) for k, m, q, r in (("exact", 100, 100, 20), ("ivf_pq", 2.5, 1, 18))])
    knn.to_csv(results / "tables" / "12_knn_scaling.csv", index=False)
    knn.to_csv(results / "tables" / "12_knn_test_sets.csv", index=False)
    gen = generate(results, report)
    experiments = (gen / "experiments.tex").read_text()
    # 08 splits into optimizers / learning rates / schedulers (groups with one row or none are left out)
    assert [p.name for p in sorted((gen / "tables").glob("08_optimizers*.tex"))] == [
        "08_optimizers_1.tex", "08_optimizers_2.tex", "08_optimizers_3.tex"]
    assert "sgd\\_lr0.001" in (gen / "tables" / "08_optimizers_2.tex").read_text()
    assert "cosine" not in (gen / "tables" / "08_optimizers_1.tex").read_text()
    assert "16384" in (gen / "tables" / "09_heads_costs.tex").read_text()
    assert experiments.index("sec:09_heads") < experiments.index("sec:12_knn")
    numbers = (gen / "numbers.tex").read_text()
    assert r"\newcommand{\KnnPqMemorySaved}{97.5}" in numbers and r"\newcommand{\KnnLargest}{10,000}" in numbers


def test_two_builds_at_once_both_succeed_and_leave_one_whole_folder(tmp_path):
    """Two run_all.sh on one store used to collide in one fixed temporary folder (report/.generated.tmp)."""
    import concurrent.futures
    results, report = tmp_path / "results", tmp_path / "report"
    (results / "tables").mkdir(parents=True)
    shutil.copytree(ROOT / "report" / "sections", report / "sections")
    _fake_step(results / "tables", "09_heads", ["cosplace", "netvlad"])
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        built = list(pool.map(lambda _: generate(results, report), range(8)))
    assert set(built) == {report / "generated"} and (report / "generated" / "experiments.tex").is_file()
    assert sorted(p.name for p in report.iterdir()) == ["generated", "sections"]  # no temporary folder left


def test_report_exit_codes(tmp_path, monkeypatch, capsys):
    """No results: 1, or 0 with --allow-empty (run_all.sh --only 00); no TeX: 0, the PDF skipped and said so."""
    from vpr_lib.report import build as report_module
    monkeypatch.setenv("VPR_RESULTS", str(tmp_path / "results"))
    monkeypatch.setattr(report_module, "report_dir", lambda: tmp_path / "report")  # report/ in tmp_path
    assert report_module.main(["--no-pdf"]) == 1
    assert report_module.main(["--allow-empty"]) == 0 and "No results to report" in capsys.readouterr().err
    (tmp_path / "results" / "tables").mkdir(parents=True)
    assert (tmp_path / "report" / "sections" / "09_heads.tex").is_file()  # a report folder of its own gets the text
    _fake_step(tmp_path / "results" / "tables", "09_heads", ["cosplace", "netvlad"])
    monkeypatch.setattr(report_module.shutil, "which", lambda name: None)
    (tmp_path / "report" / ".generated.left_by_a_kill").mkdir()
    assert report_module.main([]) == 0 and "PDF skipped: latexmk not found" in capsys.readouterr().err
    assert not list((tmp_path / "report").glob(".generated.*"))  # a killed build's folder is cleaned up


@pytest.mark.parametrize("args,message", [
    (["--only", "99"], "no notebook numbered 99; available: 00,01"),
    (["--data-root", "no/such/folder"], "is not a folder"),
    (["--profile", "full"], "give --data-root DIR"),
    (["--profile", "huge"], "--profile must be smoke, demo, study or full"),
    (["--executor", "pbs"], "--executor must be local or slurm"),
    (["--jobs", "two"], "--jobs must be a positive number"),
    (["--cluster", "mem_gb"], "--cluster takes KEY=VALUE"),
    # issue 31, item 10: a missing value ended in "unbound variable" (exit 1); "1" ran notebooks 10-13
    (["--profile"], "--profile needs a value"),
    (["--only"], "--only needs a value"),
    (["--data-root"], "--data-root needs a value"),
    (["--profile", "--only", "00"], "--profile needs a value"),
    (["--only", "1"], "no notebook numbered 1;"),
    (["--only", "0*"], "no notebook numbered 0*;"),
])
def test_run_all_stops_on_bad_arguments_with_2_before_any_work(tmp_path, args, message):
    done = subprocess.run([str(ROOT / "run_all.sh"), *args], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2 and message in done.stderr and not done.stdout  # nothing set up or generated


def _guarded_spans(text: str) -> list[tuple[str, str, int, int]]:
    """(notebook, variant, start, end) of each \\ifres{notebook}{variant}{set}{metric}{text}'s text."""
    import re
    spans = []
    for m in re.finditer(r"\\ifres\{([^}]*)\}\{([^}]*)\}\{[^}]*\}\{[^}]*\}\{", text):
        depth, end = 1, m.end()
        while depth:
            depth += {"{": 1, "}": -1}.get(text[end], 0)
            end += 1
        spans.append((m.group(1), m.group(2), m.end(), end))
    return spans


def test_every_number_the_sections_quote_exists_in_the_committed_demo_tables():
    """\\res and \\vs in report/sections name a variant, a test set (and a metric) of a notebook's summary or
    versus table; a missing row would print 'n/a' (or a comparison with another baseline than the text says).
    A quote inside \\ifres{notebook}{variant}… of a variant the demo did not run is not printed, and the sections of
    notebooks outside the demo are checked against their study variants. The tables are read as committed: a
    local smoke run_all rewrites results/tables with fewer variants."""
    import io
    import re

    from vpr_lib.config import in_profile, load_params

    quoted = []
    for section in sorted((ROOT / "report" / "sections").glob("*.tex")):
        text = section.read_text()
        guards = _guarded_spans(text)
        for kind, pattern in (("versus", r"\\vs\{([^}]*)\}\{([^}]*)\}\{([^}]*)\}"),
                              ("summary", r"\\res\{([^}]*)\}\{([^}]*)\}\{([^}]*)\}\{([^}]*)\}")):
            for m in re.finditer(pattern, text):
                guard = {(n, v) for n, v, a, b in guards if a <= m.start() < b}
                quoted.append((kind, m.groups(), section.name, guard))
    assert len(quoted) > 20
    missing, tables = [], {}
    for kind, (name, variant, test_set, *metric), where, guard in quoted:
        if not in_profile(name, "demo"):
            if variant not in load_params(name, "study")["variants"]:
                missing.append(f"{where}: {name}/{variant} is not a study variant")
            continue
        if (name, kind) not in tables:
            committed = subprocess.run(["git", "show", f"HEAD:results/tables/{name}_{kind}.csv"], cwd=ROOT,
                                       capture_output=True, text=True, check=True).stdout
            tables[name, kind] = pd.read_csv(io.StringIO(committed))
        table = tables[name, kind]
        column = f"{test_set} {metric[0]}" if metric else f"{test_set} p"
        shown = all(g_variant in set(table.variant) for g_name, g_variant in guard if g_name == name)
        if shown and (variant not in set(table.variant) or column not in table.columns):
            missing.append(f"{where}: {name}/{variant}/{column}")
    assert not missing, f"quoted but not in results/tables: {missing}"


def test_seeds_vs_kit_sets_the_reports_ranking_beside_the_results_store(tmp_path):
    """Per comparison: the first source's numbers on its preferred set, the kit's SF-XS test mean ± std, and
    each side's rank; variants the kit did not run and comparisons left with one variant are dropped."""
    from vpr_lib.seeds import seeds_vs_kit
    tables = tmp_path / "tables"
    tables.mkdir()
    reference = pd.DataFrame([
        ("02_gem", "02_gem", "avg", "A, B: Report", "SF-XS test", "R@1", 27.2),
        ("02_gem", "02_gem", "gem", "A, B: Report", "SF-XS test", "R@1", 28.3),
        ("02_gem", "02_gem", "gem", "A, B: Report", "Tokyo-XS", "R@1", 43.2),
        ("02_gem", "02_gem", "gem", "A, B: Report", "SF-XS test", "R@5", 50.0),
        ("09_heads", "09_heads", "netvlad", "C: Other", "Pitts30k test", "R@1", 79.1),
        ("09_heads", "09_heads", "crn", "C: Other", "Pitts30k test", "R@1", 81.7),  # the kit ran no crn
    ], columns=["notebook", "comparison", "variant", "source", "test_set", "metric", "value"])
    pd.DataFrame([{"variant": v, "seed": s, "set": t, "R@1": r + s, "R@5": 0.0}
                  for v, r in (("avg", 30.0), ("gem", 20.0)) for s in (0, 1, 2)
                  for t in ("SF-XS test", "Tokyo-XS")]).to_csv(tables / "02_gem_results.csv", index=False)
    pd.DataFrame([{"variant": "netvlad", "seed": 0, "set": "SF-XS test", "R@1": 10.0, "R@5": 0.0}]).to_csv(
        tables / "09_heads_results.csv", index=False)
    table = seeds_vs_kit(tmp_path, reference).set_index("variant")
    assert list(table.index) == ["avg", "gem"]  # 09 keeps one variant: no comparison
    assert table.loc["gem", "report R@1"] == 28.3 and table.loc["gem", "report set"] == "SF-XS test"
    assert table.loc["avg", "kit SF-XS test R@1"] == "31.0 ± 1.0" and table.loc["gem", "kit SF-XS test R@1"] == "21.0 ± 1.0"
    assert (table.loc["gem", "report rank"], table.loc["gem", "kit rank"]) == (1, 2)
    assert table.loc["avg", "source"] == "A, B" and table["kit seeds"].tolist() == [3, 3]


def test_regime_note_is_read_from_the_params():
    from vpr_lib.config import load_params
    from vpr_lib.notebook_prose import regime_note
    demo = regime_note(load_params("01_baseline", "demo"), "01_baseline").data
    assert "mobilenet_v2 (ImageNet weights) cut after layer3: 96 × 7 × 7 maps" in demo
    assert "Frozen: conv1, layer1, layer2, layer3a (the first 11 of the 14 modules" in demo
    assert "computed once per image and cached; trained: layer3 and the aggregator" in demo
    assert "4 epochs of 25% of a pass" in demo and "3 seeds per variant (`starter_scratch`: 1 seed)" in demo
    assert "The full profile" in demo and "resnet18 from ImageNet weights at 224 px for 20 epochs" in demo
    smoke = regime_note(load_params("01_baseline", "smoke", {"seeds": [0]}), "01_baseline").data
    assert "resnet18 (initial weights: none)" in smoke and "The whole trunk trains" in smoke and "1 seed per" in smoke
    views = regime_note(load_params("13_self_supervised", "study"), "13_self_supervised").data
    assert "batches of 32 places × 4 images" in views  # the first variant's, then the one that differs
    assert "`self_supervised` draws batches of 32 images × 4 augmented views of each, labelled by image" in views
    assert "draws" not in regime_note(load_params("06_samplers", "study"), "06_samplers").data  # same batch shape


def test_docs_seeds_vs_kit_is_the_table_of_the_committed_results(tmp_path):
    """docs/seeds_vs_kit.md is `python -m vpr_lib.seeds` on the committed tables: it cannot drift from them."""
    from vpr_lib.seeds import markdown, reference_numbers, seeds_vs_kit
    (tmp_path / "tables").mkdir()
    for notebook in reference_numbers().notebook.unique():
        committed = subprocess.run(["git", "show", f"HEAD:results/tables/{notebook}_results.csv"], cwd=ROOT,
                                   capture_output=True, text=True)
        if committed.returncode == 0:
            (tmp_path / "tables" / f"{notebook}_results.csv").write_text(committed.stdout)
    table = seeds_vs_kit(tmp_path)
    assert len(table) >= 4  # the demo's aggregators at least (the study profile compares more)
    assert markdown(table) in (ROOT / "docs" / "seeds_vs_kit.md").read_text()


@pytest.mark.parametrize("up", [True, False])
def test_findings_and_conclusion_are_generated_from_the_versus_table(tmp_path, up):
    """Constructed outcomes, then reversed: the report's findings paragraph and conclusion follow."""
    from test_stats import constructed
    from vpr_lib.comparisons import versus
    results, report = tmp_path / "results", tmp_path / "report"
    (results / "tables").mkdir(parents=True)
    shutil.copytree(ROOT / "report" / "sections", report / "sections")
    _fake_step(results / "tables", "02_gem", ["avg", "gem"])
    runs, correct = constructed({"avg": 0.4, "gem": 0.6 if up else 0.2}, sets=("SF-XS val", "SF-XS test", "Tokyo-XS"))
    versus(runs, "avg", correct=correct, family=2).reset_index().to_csv(results / "tables" / "02_gem_versus.csv", index=False)
    gen = generate(results, report)
    section, conclusion = (gen / "experiments.tex").read_text(), (gen / "conclusion.tex").read_text()
    word, other = ("better", "worse") if up else ("worse", "better")
    assert rf"{word}: \texttt{{gem}} on SF-XS test" in conclusion.replace("Better", "better")
    assert rf"{other}: none" in conclusion and "within noise: 0 of 2" in conclusion
    assert r"\paragraph{Findings.}" in section
    # the brief's table opens the results: step 4 (GeM) with the kit's verdict and Sajjadi et al.'s difference
    brief = (gen / "tables" / "brief.tex").read_text()
    assert section.startswith(r"\paragraph{The brief, step by step.}")
    row = next(line for line in brief.splitlines() if line.startswith("4 & GeM"))
    assert "Sajjadi et al. on SF-XS test: gem +1.1" in row and row.endswith("& agree 2 \\\\" if up else "& disagree 2 \\\\")
    finding = section.split(r"\paragraph{Findings.}")[1]
    assert (r"better: \texttt{gem} on SF-XS test (+" if up else r"Worse: \texttt{gem} on SF-XS test (-") in finding


def test_the_data_section_is_generated_from_notebook_00s_outputs(tmp_path):
    results, report = tmp_path / "results", tmp_path / "report"
    (results / "tables").mkdir(parents=True)
    (results / "figures").mkdir()
    shutil.copytree(ROOT / "report" / "sections", report / "sections")
    _fake_step(results / "tables", "09_heads", ["cosplace", "netvlad"])
    pd.DataFrame([{"set": "GSV-XS train", "role": "train", "images": 8341, "places": 1679.0, "queries with a positive within 25 m": None},
                  {"set": "SF-XS test", "role": "queries", "images": 200, "places": None,
                   "queries with a positive within 25 m": 200.0}]).to_csv(results / "tables" / "00_datasets_counts.csv",
                                                                           index=False)
    shutil.copy(ROOT / "results" / "figures" / "00_utm_map.png", results / "figures")
    gen = generate(results, report)
    data = (gen / "data.tex").read_text()
    assert data.startswith(r"\section{Data}") and r"\input{sections/00_datasets}" in data
    table = (gen / "tables" / "00_datasets_counts.tex").read_text()
    assert "8,341 & 1,679" in table and "SynthCity demo" in table and r"\begin{table*}" in table
    assert "generated/figures/00_utm_map.png" in data and (gen / "figures" / "00_utm_map.png").is_file()
    shutil.rmtree(results / "tables"), (results / "tables").mkdir()
    _fake_step(results / "tables", "09_heads", ["cosplace", "netvlad"])
    assert (generate(results, report) / "data.tex").read_text().strip() == ""  # notebook 00 not run: no section


def test_report_settings_are_checked_item_by_item(tmp_path):
    from vpr_lib.config import report_settings
    bad = tmp_path / "14_bad.yaml"
    bad.write_text("defaults: {}\nprofiles: {}\nreport: {title: T, tables: [{name: 14_costs}]}\n")
    with pytest.raises(VPRInputError, match=r"report tables must be a list of \{name, caption\} mappings"):
        report_settings(str(bad))
    bad.write_text("defaults: {}\nprofiles: {}\nreport: {title: T, table_groups: [[optimizers, sgd.*]]}\n")
    with pytest.raises(VPRInputError, match=r"report table_groups must be a list of \{label, variants\}"):
        report_settings(str(bad))


def test_a_variant_no_table_group_names_is_reported_in_an_other_group():
    from vpr_lib.report.build import table_groups
    summary = pd.DataFrame({"variant": ["none", "sgd", "lion", "chance"], "SF-XS val R@1": ["1 ± 0"] * 4})
    settings = {"table_groups": [{"label": "optimizers", "variants": "(none|sgd)"}]}
    groups = table_groups(settings, summary)
    assert [(suffix, label, list(rows.variant)) for suffix, label, rows in groups] == [
        ("_1", "optimizers", ["none", "sgd", "chance"]), ("_2", "other variants", ["lion", "chance"])]


def test_compare_on_a_subset_keeps_the_baseline(monkeypatch):
    from vpr_lib import experiments
    from vpr_lib.family import family_size
    seen = []
    monkeypatch.setattr(experiments, "versus", lambda rows, baseline, family, descriptive: seen.append(
        (set(rows.variant), baseline, family)) or pd.DataFrame())
    results = pd.DataFrame({"variant": ["random", "full", "partial", "positives_25m"], "set": "sf_xs/test"})
    params = {"profile": "demo", "seeds": [0], "variants": {}}
    exp = experiments.Experiment("10_mining", params, pd.DataFrame(), results, pd.DataFrame())
    exp.compare("random", variants=["full", "partial"])
    assert seen == [({"random", "full", "partial"}, "random", family_size("study"))]  # the study's one family


def test_the_dagger_marks_a_variant_only_on_the_sets_where_it_did_not_improve_on_its_epoch_0():
    """gem ends 10 points above its epoch 0 on SF-XS test but 1 point above it on Tokyo-XS: daggered on Tokyo-XS only."""
    from test_stats import constructed
    from vpr_lib.analysis import untrained_on_sets
    from vpr_lib.comparisons import versus
    from vpr_lib.report.findings import conclusion_tex
    runs, correct = constructed({"avg": 0.4, "gem": 0.7}, sets=("SF-XS test", "Tokyo-XS"))
    table = versus(runs, "avg", correct=correct, family=2)
    trained = pd.DataFrame([{"variant": "gem", "seed": s, "set": t, "R@1": 50.0 + s} for s in (0, 1, 2)
                            for t in ("SF-XS test", "Tokyo-XS")])
    start = trained.assign(**{"R@1": trained["R@1"] - trained["set"].map({"SF-XS test": 10.0, "Tokyo-XS": 1.0})})
    untrained = untrained_on_sets(trained, start)
    assert untrained == {("gem", "Tokyo-XS")}
    assert untrained_on_sets(trained, start.assign(**{"R@1": start["R@1"] + 20})) == {("gem", "SF-XS test"),
                                                                                      ("gem", "Tokyo-XS")}
    tex = conclusion_tex([("02_gem", "GeM", table, untrained)])
    assert r"\texttt{gem} on SF-XS test" in tex and r"\texttt{gem}$^\dagger$ on Tokyo-XS" in tex
    assert "on that set, ends below its own epoch 0" in tex


def test_the_epoch_table_bolds_the_best_trained_epoch_never_epoch_0():
    from vpr_lib.report.tex import epoch_tex
    epochs = pd.DataFrame([{"variant": v, "seed": s, "epoch": e, "R@1": r + e * step}
                           for v, r, step in (("a", 50.0, 1.0), ("b", 10.0, 5.0)) for s in (0, 1) for e in (0, 1, 2)])
    rows = {line.split(" & ")[0]: line for line in epoch_tex(epochs, "c", "l").splitlines() if " & " in line}
    assert rows["a"].split(" & ")[1] == r"50.0 $\pm$ 0.0"  # the best epoch-0 mean, not bold
    assert r"\textbf{52.0" in rows["a"] and r"\textbf" not in rows["b"]


def test_the_caption_explains_a_zero_spread_at_epoch_0_only_when_the_table_shows_one():
    from vpr_lib.report.tex import caption_of
    info = {"seeds": 3, "data": "SynthCity demo", "profile": "demo", "threshold": 25}
    rows = pd.DataFrame({"variant": ["a", "chance"], "SF-XS test R@1": ["40.0 ± 1.0", "6.5"],
                         "SF-XS test R@1 at epoch 0": ["20.0 ± 0.0", "6.5"]})
    assert "every seed's initial model gave the same recall" in caption_of("Recalls", info, rows=rows)
    rows.loc[0, "SF-XS test R@1 at epoch 0"] = "20.0 ± 0.4"
    assert "same recall" not in caption_of("Recalls", info, rows=rows)


def test_the_caption_says_the_bold_leaves_epoch_0_out_only_where_the_table_has_one():
    from vpr_lib.report.tex import caption_of
    info = {"seeds": 3, "data": "SynthCity demo", "profile": "demo", "threshold": 25}
    with_start = pd.DataFrame({"variant": ["a"], "SF-XS test R@1": ["40.0 ± 1.0"],
                               "SF-XS test R@1 at epoch 0": ["20.0 ± 1.0"]})
    assert caption_of("Recalls", info, rows=with_start).endswith("Best mean per column in bold (epoch 0 apart).")
    assert caption_of("Recalls", info, rows=with_start.drop(columns="SF-XS test R@1 at epoch 0")).endswith(
        "Best mean per column in bold.")
    per_epoch = caption_of("R@1 per epoch", info, baselines=False, metric="R@1", per_epoch=True)
    assert per_epoch.startswith("R@1 per epoch. R@1 (\\%)") and per_epoch.endswith("(epoch 0 apart).")


def test_the_report_names_the_notebooks_without_results():
    from vpr_lib.report.build import left_out_sentence
    assert left_out_sentence([]) == ""
    one, two = left_out_sentence(["05 (Miners)"]), left_out_sentence(["05 (Miners)", "06 (Samplers)", "08 (X)"])
    assert one.startswith("This run has no results for notebook 05 (Miners): ")
    assert "notebooks 05 (Miners), 06 (Samplers) and 08 (X): the demo profile leaves them out" in two
    assert r"\texttt{./run\_all.sh -{}-profile study}" in two


def test_captions_and_abstract_count_the_seeds_each_variant_ran():
    from vpr_lib.report.build import all_seeds_words, in_this_run
    from vpr_lib.report.tex import describe_data, seeds_words
    runs = pd.DataFrame({"variant": ["a"] * 3 + ["b"], "seed": [0, 1, 2, 0], "profile": "demo",
                         "data": "SynthCity demo", "threshold_m": 25, "commit": "x", "run_id": ["a0", "a1", "a2", "b0"]})
    info = describe_data(runs)
    assert info["seeds"] == 3 and info["fewer_seeds"] == {"b": 1}
    assert seeds_words(info) == r"3 seeds (\texttt{b}: 1 seed)"
    assert all_seeds_words([info, {"seeds": 3}]) == "1 to 3 seeds: 3 for 2 variants and 1 for 1 variant"
    two = describe_data(runs.assign(variant=["c", "c", "d", "d"], seed=[0, 1, 0, 1], run_id=["c0", "c1", "d0", "d1"]))
    shared = describe_data(runs.iloc[:2].assign(variant="e", run_id=["c0", "c1"]))  # another notebook shows c's runs
    assert all_seeds_words([info, two, shared]) == "1 to 3 seeds: 3 for 1 variant, 2 for 2 variants and 1 for 1 variant"
    assert all_seeds_words([{"seeds": 3}, {"seeds": 3}]) == "3 seeds"
    titled = [{"title": "The starter configuration"}, {"title": "NetVLAD-family heads"}]
    assert in_this_run(titled, []) == ""
    assert in_this_run(titled, ["05 (Miners)"]).startswith(
        "This run compares the starter configuration and NetVLAD-family heads (")


def test_variants_that_start_far_apart_get_their_gain_over_their_own_epoch_0():
    from vpr_lib.report.tex import start_gains_tex
    summary = pd.DataFrame([{"variant": "cosplace", "SF-XS test R@1": "40.4 ± 0.6", "SF-XS test R@1 at epoch 0": "15.0 ± 1.2"},
                            {"variant": "netvlad", "SF-XS test R@1": "51.2 ± 0.9", "SF-XS test R@1 at epoch 0": "34.0 ± 0.7"},
                            {"variant": "chance", "SF-XS test R@1": "6.3", "SF-XS test R@1 at epoch 0": "6.3"}])
    text = start_gains_tex(summary)
    assert r"\texttt{cosplace} 15.0 $\to$ 40.4 (+25.4); \texttt{netvlad} 34.0 $\to$ 51.2 (+17.2)" in text
    summary.loc[1, "SF-XS test R@1 at epoch 0"] = "17.0 ± 0.7"  # within 5 points of each other: nothing to say
    assert start_gains_tex(summary) == ""


def test_every_float_of_the_committed_studys_report_is_cited_in_its_text(tmp_path):
    """Generated from the committed tables: each table and figure label is referenced (\\cref, \\Cref, \\ref) in the
    generated or authored text, so no float stands uncited."""
    import re
    import shutil
    for folder in ("tables", "figures"):  # a copy: generate() also writes the store's STAMP
        shutil.copytree(ROOT / "results" / folder, tmp_path / "results" / folder)
    generated = generate(tmp_path / "results", tmp_path / "report")
    texts = [p.read_text() for p in generated.rglob("*.tex")]
    texts += [p.read_text() for p in (ROOT / "report" / "sections").glob("*.tex")]
    texts.append((ROOT / "report" / "main.tex").read_text())
    text = "\n".join(texts)
    labels = set(re.findall(r"\\label\{((?:tab|fig):[^}]+)\}", text))
    cited = {label for refs in re.findall(r"\\(?:[cC]ref|ref)\{([^}]+)\}", text) for label in refs.split(",")}
    assert labels and not sorted(labels - cited)


@pytest.mark.parametrize("ci,where", [("[5.0, 15.0]", "within noise of"), ("[8.0, 12.0]", "above"),
                                      ("[2.0, 5.0]", "below")])
def test_the_hardest_condition_is_set_beside_its_own_chance_level_and_interval(tmp_path, ci, where):
    from vpr_lib.report.sections import hardest_against_chance
    (tmp_path / "tables").mkdir()
    pd.DataFrame([{"set": "sf_xs/test", "time_of_day": t, "R@1": r, "95% CI": c, "chance": 6.5, "queries": q}
                  for t, r, c, q in [("day", 40.0, "[35.0, 45.0]", 500), ("night", 10.0, ci, 200)]]
                 ).to_csv(tmp_path / "tables" / "03_recall_by_time_of_day_mixvpr.csv", index=False)
    text = hardest_against_chance(tmp_path, "mixvpr", "03")
    assert f"on SF-XS test, time of day night (200 queries) at R@1 10.0 {ci}, {where} its own chance level (6.5)" in text
    assert hardest_against_chance(tmp_path, "avg", "03") == ""  # no table for that variant


@pytest.mark.parametrize("verdict,lead", [("better", "Online mining is no free gain either: "),
                                          ("within noise", "Online mining: ")])
def test_the_closing_questions_quote_the_mining_tables(tmp_path, verdict, lead):
    from vpr_lib.report.sections import closing_questions
    tables = tmp_path / "tables"
    tables.mkdir()
    pd.DataFrame([{"variant": v, "train_s per epoch": "4.00 ± 0.10", "mining_s per epoch": m, "mining share (%)": sh,
                   "images described per epoch": n} for v, m, sh, n in
                  [("random", "0.40 ± 0.01", 10.0, 2000), ("full", "0.60 ± 0.02", 15.0, 2400)]]
                 ).to_csv(tables / "10_mining_time.csv", index=False)
    pd.DataFrame([{"variant": v, "seed": seed, "epoch": e, "mining_s": m if e else None,
                   "described_images": n if e else None} for v, m, n in [("random", 0.4, 2000), ("full", 0.6, 2400)]
                  for seed in (0, 1) for e in (0, 1, 2)]).to_csv(tables / "10_mining_epochs.csv", index=False)
    pd.DataFrame([{"variant": "full", "SF-XS test Δ R@1": 9.8, "SF-XS test verdict": "better"}]
                 ).to_csv(tables / "10_mining_versus.csv", index=False)
    pd.DataFrame([{"variant": "multisimilarity_none", "SF-XS test Δ R@1": 1.0, "SF-XS test verdict": verdict,
                   "Tokyo-XS Δ R@1": 0.5, "Tokyo-XS verdict": "within noise"}]
                 ).to_csv(tables / "14_mixvpr_losses_versus.csv", index=False)
    text = closing_questions(tmp_path)
    assert r"\texttt{full} spends 15.0\,\% of its training epoch mining and gives +9.8 R@1 on SF-XS test (better)" in text
    assert r"(per epoch: \texttt{random} 2,000 images, 0.20 ms each; \texttt{full} 2,400 images, 0.25 ms each)" in text
    assert lead + r"on MixVPR" in text and "gives +1.0 R@1 on SF-XS test" in text


def test_a_difference_on_one_seed_says_so_beside_its_interval():
    from vpr_lib.report.tex import macros_tex
    versus = pd.DataFrame([{"variant": "scratch", "SF-XS val Δ R@1": -43.6, "SF-XS val 95% CI": "[-48.6, -38.4]",
                            "SF-XS val seeds": 1},
                           {"variant": "gem", "SF-XS val Δ R@1": 2.0, "SF-XS val 95% CI": "[+1.0, +3.0]",
                            "SF-XS val seeds": 5}])
    lines = macros_tex("01_baseline", pd.DataFrame({"variant": ["scratch"]}), versus)
    assert r"\mbox{-43.6} points \mbox{[-48.6, -38.4]}, on the one seed they share, selection set, not tested" in lines[0]
    assert lines[1].endswith(r"\mbox{+2.0} points \mbox{[+1.0, +3.0]}, selection set, not tested}")


def test_validation_curves_with_long_names_stay_a_column_wide_so_their_text_prints_at_7_pt():
    """The report prints each curve figure \\columnwidth (3.3 in) wide: a legend wider than that would shrink it."""
    import io

    import matplotlib
    matplotlib.use("Agg")
    from PIL import Image

    from vpr_lib.viz.curves import COLUMN_STYLE, plot_epoch_curves
    names = [f"convap512_layer3_adamw_{i}" for i in range(8)]
    epochs = pd.DataFrame([(v, s, e, 10.0 * e + i) for i, v in enumerate(names) for s in (0, 1) for e in range(3)],
                          columns=["variant", "seed", "epoch", "R@1"])
    buf = io.BytesIO()
    plot_epoch_curves(epochs).savefig(buf, format="png", dpi=100, bbox_inches="tight")
    width_in = Image.open(buf).size[0] / 100
    smallest = min(v for k, v in COLUMN_STYLE.items() if k.endswith("size"))
    assert smallest * 3.3 / width_in >= 7, f"{width_in:.2f} in wide: text prints below 7 pt"


def test_the_brief_paragraph_names_what_the_table_leaves_out():
    from vpr_lib.report.sections import _left_out
    left_out = {"baselines": [{"source": "Sajjadi et al.", "comparison": "08_optimizers optimizers",
                               "variants": ["sgd", "adam", "asgd"]}],
                "variants": [{"source": "Sajjadi et al.", "comparison": "04_losses", "variants": ["circle_sgd"]}],
                "selection": [{"source": "Bracco et al.", "comparison": "07_mixvpr", "variants": ["gem"]}],
                "sets": ["MSLS", "MSLS"]}
    said = _left_out(left_out, {("Sajjadi et al.", "08_optimizers optimizers"): ("sgd", "adamw"),
                                ("Bracco et al.", "07_mixvpr"): ("gem",)})  # ranked on a test set, not on SF-XS val
    assert said == (r" Not in the table: the comparisons a report makes without a number for the kit's baseline "
                    r"(Sajjadi et al.: \texttt{sgd}, \texttt{adam}, \texttt{asgd} (\texttt{sgd} ranked in "
                    r"\cref{tab:seeds_vs_kit})); a report's variants that the kit does not compare here: not run, "
                    r"descriptive, or without a report number on the set compared (Sajjadi et al.: \texttt{circle\_sgd}); "
                    r"a report's SF-XS val numbers, the kit's selection set, not tested (Bracco et al.: \texttt{gem}); "
                    r"and a report's sets after the first when none is the kit's (MSLS).")
    assert "ranked" not in _left_out(left_out, {}) and _left_out({"baselines": [], "sets": []}, {}) == ""
    assert _left_out({"sets": ["MSLS"]}, {}) == " Not in the table: a report's sets after the first when none is the kit's (MSLS)."


def test_a_grouped_table_names_each_group_once_above_its_rows(tmp_path):
    from vpr_lib.report.tex import plain_table
    (tmp_path / "tables").mkdir()
    table = pd.DataFrame({"condition": ["time of day", "time of day", "camera"], "value": ["day", "night", "phone"],
                          "R@1": [40.2, 10.4, 33.6]})
    assert plain_table(table, "c", "t", tmp_path, group="condition") == r"\input{generated/tables/t}"
    body = (tmp_path / "tables" / "t.tex").read_text()
    assert body.count(r"\textit{time of day}") == 1 and body.count(r"\textit{camera}") == 1
    assert "value & R@1" in body and "day & 40.2" in body and "condition" in table  # the caller's table is kept
    assert body.index(r"\textit{camera}") < body.index("phone") and r"{ll}" not in body and r"{lr}" in body


def test_a_steps_opening_cites_its_row_of_the_brief_table():
    from vpr_lib.report.steps import step_intro
    row = pd.Series({"step": "6e", "question": "Is MixVPR better than pooling?", "kit": "within noise: 2 of 2",
                     "course": "no number", "agreement": "no course number"})
    text = step_intro(row, pd.DataFrame())
    assert r"\paragraph{The brief asks.} Is MixVPR better than pooling? (the step-6e row of \cref{tab:brief})" in text
    assert "no course report measures this comparison" in text
