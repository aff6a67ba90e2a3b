"""Notebooks execute under papermill (smoke profile) and write their outputs to the results store."""
import json
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
import yaml

from vpr_lib.errors import VPRInputError
from vpr_lib.config import notebook_paths
from vpr_lib.notebooks import run_notebook

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.stem)
def test_committed_notebooks_are_clean_and_parameterised(path):
    nb = nbformat.read(path, as_version=4)
    assert any("parameters" in c.metadata.get("tags", []) for c in nb.cells)
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in nb.cells if c.cell_type == "code")
    # the set-up cell, written once (scripts/colab_cell.py; its work in scripts/colab_setup.py), first after the title
    assert nb.cells[1].source == (ROOT / "scripts" / "colab_cell.py").read_text().rstrip("\n")
    assert (ROOT / "params" / f"{path.stem}.yaml").is_file()


def test_00_datasets_runs_on_smoke_data(synth_smoke, results_tmp):
    out = run_notebook(ROOT / "notebooks" / "00_datasets.ipynb", "smoke", str(synth_smoke))
    assert out == results_tmp / "executed" / "00_datasets.ipynb"
    nb = json.loads(out.read_text())
    assert nb["metadata"]["papermill"]["parameters"]["data_root"] == str(synth_smoke)
    # fit for git: no timing, no staging paths, no folder of this machine in the outputs
    assert set(nb["metadata"]["papermill"]) == {"parameters", "default_parameters"}
    assert not any({"papermill", "execution"} & set(c["metadata"]) for c in nb["cells"])
    outputs = json.dumps([c.get("outputs", []) for c in nb["cells"]])
    assert str(results_tmp) not in outputs and str(ROOT) not in outputs and ".staging" not in outputs
    assert "injected-parameters" in [c["id"] for c in nb["cells"]]  # not a new random id at every run
    counts = pd.read_csv(results_tmp / "tables" / "00_datasets_counts.csv")
    queries = counts[counts.role == "queries"]
    assert (queries["queries with a positive within 25 m"] == queries["images"]).all()
    for fig in ("00_utm_map", "00_samples_time_of_day", "00_samples_city", "00_positives_per_query"):
        assert (results_tmp / "figures" / f"{fig}.png").stat().st_size > 1000


def test_unknown_notebook_number():
    with pytest.raises(VPRInputError, match="No notebook numbered"):
        notebook_paths(["99"])


def trains(path: Path) -> bool:
    """A notebook whose params extend the training settings: it trains its own variants × seeds."""
    from vpr_lib.config import load_params
    from vpr_lib.config import trains as trains_params
    return trains_params(load_params(path.stem))


NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
STUDY = [p for p in NOTEBOOKS if trains(p)]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_declares_the_same_parameters_and_resolves_them_once(path):
    """profile, data_root, overrides (and variants, seeds where it trains); the params file is read by one call."""
    import papermill
    declared = papermill.inspect_notebook(str(path))
    expected = ["profile", "data_root", "overrides"] + (["variants", "seeds"] if trains(path) else [])
    assert list(declared) == expected
    source = "".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
    call = (f'run_experiment("{path.stem}", profile, data_root, overrides, variants, seeds)' if trains(path)
            else f'study_params("{path.stem}", profile, data_root, overrides)')
    assert source.count(call) == 1 and "load_params" not in source


@pytest.mark.parametrize("path", STUDY, ids=lambda p: p.stem)
def test_study_notebooks_take_variants_and_seeds_from_their_parameters(path):
    import papermill
    declared = papermill.inspect_notebook(str(path))
    assert declared["variants"]["default"] == "None" and declared["seeds"]["default"] == "None"
    source = "".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
    assert f'run_experiment("{path.stem}", profile, data_root, overrides, variants, seeds)' in source


def test_a_notebook_runs_only_the_variants_and_seeds_its_parameters_pick(synth_smoke, results_tmp):
    """A student with a few GPU hours sets `variants: [gem]`, `seeds: [1]` in the parameters cell, no YAML edited."""
    import papermill
    from vpr_lib.experiments import run_experiment
    out = results_tmp.parent / "02_gem_executed.ipynb"
    papermill.execute_notebook(str(ROOT / "notebooks" / "02_gem.ipynb"), str(out), kernel_name="python3",
                               cwd=str(ROOT / "notebooks"), progress_bar=False,
                               parameters={"profile": "smoke", "data_root": str(synth_smoke), "variants": ["gem"],
                                           "seeds": [1]})
    runs = pd.read_csv(results_tmp / "tables" / "02_gem_runs.csv")
    assert list(zip(runs.variant, runs.seed)) == [("gem", 1)]
    assert len(list((results_tmp / "runs").iterdir())) == 1
    with pytest.raises(VPRInputError, match=r"variants \['mixvpr'\] of 02_gem: expected a non-empty list among"):
        run_experiment("02_gem", "smoke", str(synth_smoke), variants=["mixvpr"])


def test_dataset_views_work_without_synthcity_metadata(synth_smoke, tmp_path):
    """Real data has no conditions.csv: the views fall back to per-set samples."""
    import shutil

    from vpr_lib.viz import data_views as views
    real_like = tmp_path / "real"
    for rel in ("gsv_xs", "sf_xs", "tokyo_xs"):
        shutil.copytree(synth_smoke / rel, real_like / rel)
    counts = views.split_counts(real_like)
    every_set = {"GSV-XS train", "SF-XS train", "SF-XS val", "SF-XS test", "Tokyo-XS"}
    assert set(counts.set) == every_set
    fig = views.plot_samples(real_like, per_row=3)
    titles = {ax.get_title() for ax in fig.axes if ax.get_title()}
    assert titles == every_set


def test_dataset_views_list_images_as_the_readers_do(synth_smoke, tmp_path):
    """A queries folder of .JPG files: the map and the samples use the readers' listing (glob('*.jpg') missed
    them and crashed on an empty folder)."""
    import shutil

    from vpr_lib.viz import data_views as views
    root = tmp_path / "real"
    for rel in ("gsv_xs", "sf_xs", "tokyo_xs"):
        shutil.copytree(synth_smoke / rel, root / rel)
    for path in (root / "tokyo_xs/test/queries").iterdir():
        path.rename(path.with_suffix(".JPG"))
    fig = views.plot_utm_map(root)
    tokyo = next(ax for ax in fig.axes if ax.get_title() == "Tokyo-XS")
    queries = len(list((root / "tokyo_xs/test/queries").iterdir()))
    assert sum(len(c.get_offsets()) for c in tokyo.collections) == queries + len(
        list((root / "tokyo_xs/test/database").iterdir()))


def test_01_and_02_run_on_smoke_data_and_share_the_starter_runs(synth_smoke, results_tmp):
    run_notebook(ROOT / "notebooks" / "01_baseline.ipynb", "smoke", str(synth_smoke))
    base = pd.read_csv(results_tmp / "tables" / "01_baseline_runs.csv")
    assert len(base) == 1
    summary = pd.read_csv(results_tmp / "tables" / "01_baseline_summary.csv")
    assert {"SF-XS val R@1", "SF-XS test R@5", "Tokyo-XS R@1"} <= set(summary.columns)
    run_notebook(ROOT / "notebooks" / "02_gem.ipynb", "smoke", str(synth_smoke))
    runs = pd.read_csv(results_tmp / "tables" / "02_gem_runs.csv")
    assert sorted(zip(runs.variant, runs.seed)) == [("avg", 0), ("avg", 1), ("gem", 0), ("gem", 1)]
    # 02's avg variant is 01's starter: the same run, reused rather than retrained
    assert base.run_id[0] in set(runs.run_id)
    assert len(list((results_tmp / "runs").iterdir())) == 4
    epochs = pd.read_csv(results_tmp / "tables" / "02_gem_epochs.csv")
    assert set(epochs.epoch) == {0, 1, 2}
    executed = nbformat.read(results_tmp / "executed" / "02_gem.ipynb", as_version=4)
    markdown = "".join("".join(o.get("data", {}).get("text/markdown", "")) for c in executed.cells
                       for o in c.get("outputs", []))
    assert "**Against `avg`** (R@1" in markdown and "over the 2 seeds both sides ran and the queries" in markdown  # generated findings
    from findings_text import check
    assert not check(markdown[markdown.index("**Against `avg`**"):],
                     pd.read_csv(results_tmp / "tables" / "02_gem_versus.csv").set_index("variant"))
    first = nbformat.read(results_tmp / "executed" / "01_baseline.ipynb", as_version=4)
    assert "only `starter` ran here" in "".join("".join(o.get("data", {}).get("text/markdown", ""))
                                                for c in first.cells for o in c.get("outputs", []))
    assert (results_tmp / "figures" / "02_gem_val_curves.png").is_file()


def test_03_visual_analysis_saves_grids_and_condition_tables(synth_smoke, results_tmp):
    from vpr_lib.experiments import run_experiment
    run_notebook(ROOT / "notebooks" / "03_visual_analysis.ipynb", "smoke", str(synth_smoke))
    assert not (results_tmp / "tables" / "07_mixvpr_runs.csv").exists()  # 07's tables are 07's to write
    runs = run_experiment("07_mixvpr", "smoke", str(synth_smoke), save=False).runs  # 03 trained them: now reused
    compared = runs[runs.variant.isin(["convap_layer3_adamw", "mixvpr_layer3_adamw"])]
    for run_id in compared.groupby("variant").first().run_id:
        for test_set in ("sf_xs_test", "tokyo_xs_test"):
            grids = sorted((results_tmp / "grids" / run_id / test_set).glob("query_*.png"))
            assert grids and all(g.with_suffix(".csv").is_file() for g in grids)
    by_time = pd.read_csv(results_tmp / "tables" / "03_recall_by_time_of_day_mixvpr_layer3_adamw.csv")
    assert set(by_time["set"]) == {"sf_xs/test", "tokyo_xs/test"} and by_time["R@1"].between(0, 100).all()
    assert by_time["chance"].between(0, 100).all() and by_time["95% CI"].str.match(r"^\[[\d.]+, [\d.]+\]$").all()
    gaps = pd.read_csv(results_tmp / "tables" / "03_gap_by_time_of_day_mixvpr_layer3_adamw.csv")
    assert set(gaps.baseline) == {"convap_layer3_adamw"} and list(gaps.queries) == list(by_time.queries)
    failures = pd.read_csv(results_tmp / "tables" / "03_failures_sf_xs_test.csv")
    assert "clean conditions (no recorded cause)" in set(failures.category)
    for figure in ("03_grid_sf_xs_test", "03_heatmaps", "03_recall_by_time_of_day"):
        assert (results_tmp / "figures" / f"{figure}.png").is_file()


@pytest.mark.parametrize("name", [p.stem for p in STUDY if p.stem[:2] not in ("01", "02")])  # 01, 02: above
def test_study_notebooks_run_on_smoke_data(name, synth_smoke, results_tmp):
    from vpr_lib.config import load_params
    run_notebook(ROOT / "notebooks" / f"{name}.ipynb", "smoke", str(synth_smoke))
    variants = load_params(name, "smoke")["variants"]
    runs = pd.read_csv(results_tmp / "tables" / f"{name}_runs.csv")
    assert list(runs.variant) == list(variants)  # one seed each in smoke
    summary = pd.read_csv(results_tmp / "tables" / f"{name}_summary.csv")
    assert list(summary.variant) == list(variants) + ["chance"] and "Tokyo-XS R@1" in summary
    for test_set in ("SF-XS val", "SF-XS test", "Tokyo-XS"):  # each variant before training, on every set
        assert summary[f"{test_set} R@1 at epoch 0"].iloc[:-1].str.fullmatch(r"\d+\.\d \(1 seed\)").all()
    from vpr_lib.runs import Run
    from vpr_lib.stats import chance_recall
    data = Run(runs.run_id.iloc[0]).predictions("tokyo_xs/test")
    chance = summary.set_index("variant").loc["chance"]
    assert float(chance["Tokyo-XS R@1"]) == round(chance_recall(data["positives"], len(data["database_paths"]), 1), 1)
    versus = pd.read_csv(results_tmp / "tables" / f"{name}_versus.csv")
    assert len(versus) == len(variants) - 1 and "SF-XS test Δ R@1" in versus
    assert set(versus["SF-XS test verdict"]) <= {"better", "worse", "within noise"}
    from findings_text import check  # the findings under the table say what the saved versus table says
    executed = nbformat.read(results_tmp / "executed" / f"{name}.ipynb", as_version=4)
    first = list(variants)[0]
    cells = [c for c in executed.cells if c.cell_type == "code" and "variants=" not in c.source and (
             c.source.strip().endswith(f'exp.compare("{first}")') or c.source.strip().startswith("exp.compare()"))]
    if cells:  # 10 compares a subset first (its own table)
        text = "".join("".join(o["data"]["text/markdown"]) for o in cells[0].outputs if "text/markdown" in o.get("data", {}))
        assert not check(text, versus.set_index("variant"))
    last = executed.cells[-1]  # the notebook ends with its findings, generated as the report's
    assert last.source.startswith("exp.findings()")
    text = "".join("".join(o["data"]["text/markdown"]) for o in last.outputs if "text/markdown" in o.get("data", {}))
    assert text.startswith(f"**Against `{first}`**") and not check(text, versus.set_index("variant"))
    for figure in ("val_curves", "bars"):
        assert (results_tmp / "figures" / f"{name}_{figure}.png").is_file()
    if name == "05_miners":  # fractions of the batch each miner kept, per epoch
        kept = pd.read_csv(results_tmp / "tables" / "05_miners_kept.csv").set_index("variant")
        values = kept.drop(index="none", errors="ignore").to_numpy(float)
        assert np.isfinite(values).any() and np.nanmin(values) >= 0 and np.nanmax(values) <= 1
    if name == "11_ablations":  # test-time thresholds re-scored from the saved predictions
        thresholds = pd.read_csv(results_tmp / "tables" / "11_ablations_thresholds.csv")
        at = thresholds[thresholds.set == "sf_xs/test"].set_index("threshold_m")["R@1"]
        assert list(at.index) == [5, 10, 25, 50] and at.is_monotonic_increasing
        standard = pd.read_csv(results_tmp / "tables" / "11_ablations_results.csv")
        assert at[25] == pytest.approx(standard[(standard.variant == "baseline") & (standard.set == "SF-XS test")]["R@1"].item())
        sizes = {v: yaml.safe_load((results_tmp / "runs" / r / "params.yaml").read_text())["image_size"]
                 for v, r in zip(runs.variant, runs.run_id)}
        assert sizes["scale_0.5"] == [16, 16] and sizes["baseline"] == [32, 32]
    if name == "10_mining":  # seconds per epoch, mining's share, and the train-time radius table
        times = pd.read_csv(results_tmp / "tables" / "10_mining_time.csv").set_index("variant")
        assert list(times.index) == ["random", "full", "partial"]
        assert ((times["mining share (%)"] > 0) & (times["mining share (%)"] < 100)).all()
        radius = pd.read_csv(results_tmp / "tables" / "10_mining_train_thresholds.csv")
        assert set(zip(radius.variant, radius.threshold_m)) == {("partial", 10), ("positives_25m", 25)}
        assert (results_tmp / "figures" / "10_mining_time.png").is_file()
    if name == "14_mixvpr_losses":  # its first variant is 07's MixVPR run itself (reused, not trained twice)
        from vpr_lib.config import run_configs
        from vpr_lib.train.run import run_id
        mixvpr = [c for c in run_configs(load_params("07_mixvpr", "smoke", {"data_root": str(synth_smoke)}))
                  if c["variant"] == "mixvpr_layer3_adamw"]
        assert runs.set_index("variant").run_id["multisimilarity_msminer"] == run_id(mixvpr[0])
    if name == "09_heads":
        costs = pd.read_csv(results_tmp / "tables" / "09_heads_costs.csv").set_index("variant")
        assert costs.loc["netvlad", "descriptor dim"] == 64 * 256 and costs.loc["cosplace", "descriptor dim"] == 512
        assert (results_tmp / "figures" / "09_heads_assignments.png").is_file()
        from vpr_lib.runs import Run
        from vpr_lib.train.checkpoints import load_module
        head = load_module(Run(runs.set_index("variant").run_id["netvlad"]).best_checkpoint()).model.aggregator
        norms = head.centroids.detach().norm(dim=1)  # k-means gave unit centroids (random init: norm ~9)
        assert norms.max() < 1.5


def test_a_failing_notebook_does_not_stop_the_others(tmp_path, monkeypatch, capsys):
    from vpr_lib.notebooks import main
    for name, source in (("00_fails", "raise RuntimeError('broken on purpose')"), ("01_works", "x = 1")):
        cells = [nbformat.v4.new_code_cell('profile = "demo"', metadata={"tags": ["parameters"]}),
                 nbformat.v4.new_code_cell(source)]
        nb = nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "language": "python",
                                                                           "display_name": "Python 3"}})
        (tmp_path / "notebooks").mkdir(exist_ok=True)
        nbformat.write(nb, tmp_path / "notebooks" / f"{name}.ipynb")
        (tmp_path / "params").mkdir(exist_ok=True)
        (tmp_path / "params" / f"{name}.yaml").write_text("defaults: {}\n")
    monkeypatch.setenv("VPR_ROOT", str(tmp_path))
    monkeypatch.setenv("VPR_RESULTS", str(tmp_path / "results"))
    assert main(["--profile", "smoke"]) == 1
    captured = capsys.readouterr()
    assert "00_fails FAILED" in captured.out and "failed notebooks: 00_fails" in captured.err
    assert "01_works done" in captured.out
    assert (tmp_path / "results" / "logs" / "failed" / "00_fails.ipynb").is_file()  # kept, with the error marked


def test_12_knn_compares_indexes_on_trained_descriptors(synth_smoke, results_tmp):
    run_notebook(ROOT / "notebooks" / "12_knn.ipynb", "smoke", str(synth_smoke))
    by_set = pd.read_csv(results_tmp / "tables" / "12_knn_test_sets.csv")
    assert set(by_set["index"]) == {"exact", "ivf_flat", "ivf_pq", "hnsw"}
    assert set(by_set["set"]) == {"sf_xs/test", "tokyo_xs/test"} and set(by_set.seed) == {0}  # 07's smoke seed
    # exact search on the cached descriptors gives the run's own evaluation recall
    from vpr_lib.experiments import run_experiment
    source = run_experiment("07_mixvpr", "smoke", str(synth_smoke), save=False)  # 12 trained them: now reused
    runs, results = source.runs, source.results
    expected = results[(results.variant == "gem_layer3_adamw") & (results.seed == 0)
                       & (results.set == "SF-XS test")]["R@1"].item()
    exact = by_set[(by_set["index"] == "exact") & (by_set.seed == 0) & (by_set.set == "sf_xs/test")]["R@1"].item()
    assert exact == pytest.approx(expected)
    scaling = pd.read_csv(results_tmp / "tables" / "12_knn_scaling.csv")
    assert set(scaling.database) == {2000, 5000} and scaling.run_id.iloc[0] in set(runs.run_id)
    assert (results_tmp / "figures" / "12_knn_scaling.png").is_file()


def test_sigterm_stops_the_runner_and_shuts_its_kernel_down(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time
    pidfile = tmp_path / "kernel.pid"
    cells = [nbformat.v4.new_code_cell('profile = "demo"', metadata={"tags": ["parameters"]}),
             nbformat.v4.new_code_cell("import os, time\n"
                                       f"open({str(pidfile)!r}, 'w').write(str(os.getpid()))\ntime.sleep(300)")]
    nb = nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "language": "python",
                                                                       "display_name": "Python 3"}})
    (tmp_path / "notebooks").mkdir()
    nbformat.write(nb, tmp_path / "notebooks" / "00_sleeps.ipynb")
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "00_sleeps.yaml").write_text("defaults: {}\n")
    env = dict(os.environ, VPR_ROOT=str(tmp_path), VPR_RESULTS=str(tmp_path / "results"))
    runner = subprocess.Popen([sys.executable, "-m", "vpr_lib.notebooks", "--profile", "smoke"], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (pidfile.is_file() and pidfile.read_text()) and time.time() < deadline:
        time.sleep(0.1)
    kernel = int(pidfile.read_text())
    runner.send_signal(signal.SIGTERM)
    out, _ = runner.communicate(timeout=60)
    assert runner.returncode == 143 and "00_sleeps stopped" in out  # 143: TERM (130 is INT)
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            os.kill(kernel, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        pytest.fail("the notebook's kernel survived the runner")


def _run_setup_cell(tmp_path, python=None, **env):
    """The notebooks' shared set-up cell in a fresh interpreter where google.colab is imported, as on Colab (a
    fake module whose drive.mount records its call)."""
    import os
    import subprocess
    import sys
    fake = tmp_path / "fake_colab"
    (fake / "google" / "colab").mkdir(parents=True, exist_ok=True)
    (fake / "google" / "colab" / "__init__.py").write_text("")
    (fake / "google" / "colab" / "drive.py").write_text(
        "import os\ndef mount(path):\n    open(os.environ['FAKE_MOUNT_LOG'], 'a').write(path + '\\n')\n")
    source = nbformat.read(ROOT / "notebooks" / "00_datasets.ipynb", as_version=4).cells[1].source
    code = "import google.colab\n" + source + "\nprint('VPR_ROOT=' + os.environ.get('VPR_ROOT', ''))"
    environ = {k: v for k, v in os.environ.items() if k not in ("VPR_REPO_URL", "VPR_ROOT")}
    environ.update(PYTHONPATH=str(fake), FAKE_MOUNT_LOG=str(tmp_path / "mounts.log"), **env)
    return subprocess.run([str(python or sys.executable), "-c", code], env=environ, capture_output=True, text=True,
                          timeout=120)


def test_colab_setup_cell_stops_before_cloning_without_a_repository_url(tmp_path):
    done = _run_setup_cell(tmp_path, VPR_COLAB_DIR=str(tmp_path / "kit"))
    assert done.returncode == 1 and "Set the kit's repository first" in done.stderr
    assert "%env VPR_REPO_URL=" in done.stderr and not (tmp_path / "kit").exists()
    assert not (tmp_path / "mounts.log").exists()


def test_colab_setup_cell_reuses_an_installed_kit_and_mounts_drive(tmp_path):
    """A second run of the cell (the kit already cloned and installed): no clone, VPR_ROOT set, Drive mounted.
    The first run's clone and `pip install` are exercised in tests/test_colab.py."""
    kit = tmp_path / "kit"
    (kit / ".git").mkdir(parents=True)
    (kit / "scripts").mkdir()
    (kit / "scripts" / "colab_setup.py").write_text((ROOT / "scripts" / "colab_setup.py").read_text())
    (kit / ".vpr_installed").touch()  # what a successful first run leaves
    done = _run_setup_cell(tmp_path, VPR_REPO_URL="file:///nowhere.git", VPR_COLAB_DIR=str(kit))
    assert done.returncode == 0, done.stderr
    assert f"VPR_ROOT={kit}" in done.stdout and (tmp_path / "mounts.log").read_text() == "/content/drive\n"
    assert "lost when it recycles; %env VPR_RESULTS=/content/drive/MyDrive/vpr-results keeps them" in done.stdout
    kept = _run_setup_cell(tmp_path, VPR_REPO_URL="file:///nowhere.git", VPR_COLAB_DIR=str(kit),
                           VPR_RESULTS="/content/drive/MyDrive/vpr-results")
    assert "results go to /content/drive/MyDrive/vpr-results\n" in kept.stdout


def test_colab_setup_cell_shows_gits_error_in_the_cell(tmp_path):
    """Issue 31, item 15: git's "Could not resolve host" reached only the kernel's stderr, not the cell."""
    done = _run_setup_cell(tmp_path, VPR_REPO_URL="file:///nowhere.git", VPR_COLAB_DIR=str(tmp_path / "kit"))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    message = done.stderr[done.stderr.index("git clone file:///nowhere.git failed:"):]
    assert "the repository exists" in message and "run this cell again: it retries" in message
    assert not (tmp_path / "kit").exists()


def test_colab_setup_cell_retries_a_failed_install(tmp_path):
    """Issue 31, item 15: the cell skipped installation whenever the folder existed, so a failed `pip install` left
    ModuleNotFoundError until the user deleted the folder. Here pip is missing (a venv without it): both runs try."""
    import subprocess
    import sys
    bare, work = tmp_path / "kit.git", tmp_path / "work"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    subprocess.run(["git", "clone", "-q", str(bare), str(work)], check=True, capture_output=True)
    (work / "README.md").write_text("kit\n")
    (work / "scripts").mkdir()
    (work / "scripts" / "colab_setup.py").write_text((ROOT / "scripts" / "colab_setup.py").read_text())
    git = ["git", "-C", str(work), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "kit"], check=True)
    subprocess.run([*git, "push", "-q", "origin", "HEAD"], check=True, capture_output=True)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "nopip")], check=True)
    python, kit = tmp_path / "nopip" / "bin" / "python", tmp_path / "kit"
    for attempt in range(2):
        done = _run_setup_cell(tmp_path, python, VPR_REPO_URL=f"file://{bare}", VPR_COLAB_DIR=str(kit))
        assert done.returncode == 1 and "pip install of the kit failed:" in done.stderr, done.stderr
        assert "No module named pip" in done.stderr and (kit / "README.md").is_file()
        assert not (kit / ".vpr_installed").exists()
    other = tmp_path / "other"
    other.mkdir()
    (other / "mine.txt").write_text("keep")
    done = _run_setup_cell(tmp_path, python, VPR_REPO_URL=f"file://{bare}", VPR_COLAB_DIR=str(other))
    assert done.returncode == 1 and "holds other files" in done.stderr and (other / "mine.txt").is_file()


def test_a_notebook_outside_the_profile_is_skipped_and_its_earlier_outputs_removed(results_tmp, capsys):
    """05 has no demo variant: the demo skips it (no kernel starts) and removes its tables, figures and executed
    copy of an earlier (study) run, so the report holds only this profile's results; other files and runs stay."""
    from vpr_lib.notebooks import main
    kept = [results_tmp / "tables" / "04_losses_summary.csv", results_tmp / "runs" / "x" / "metrics.json"]
    gone = [results_tmp / "tables" / "05_miners_summary.csv", results_tmp / "figures" / "05_miners_bars.png",
            results_tmp / "tables" / "05_recall_of_an_old_variant.csv", results_tmp / "executed" / "05_miners.ipynb"]
    for path in kept + gone:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    assert main(["--profile", "demo", "--only", "05"]) == 0
    out = capsys.readouterr().out
    assert "05_miners: not in the demo profile" in out and "removed its outputs of an earlier run (4 files" in out
    assert all(p.is_file() for p in kept) and not any(p.exists() for p in gone)


@pytest.mark.parametrize("path", [*NOTEBOOKS, ROOT / "templates" / "NN_name.ipynb"], ids=lambda p: p.stem)
def test_every_name_a_notebook_imports_from_the_kit_exists(path):
    """A renamed or moved function fails here, in a second, not only when the notebook runs."""
    import importlib
    import re
    missing = []
    for cell in nbformat.read(path, as_version=4).cells:
        for module, names in re.findall(r"^\s*from (vpr_lib[\w.]*) import \(?([\w, ]+)\)?", cell.source, re.M):
            imported = importlib.import_module(module)
            for name in (n.split(" as ")[0].strip() for n in names.split(",") if n.strip()):
                if not hasattr(imported, name) and not (hasattr(imported, "__path__")  # a submodule of a package
                                                        and importlib.util.find_spec(f"{module}.{name}")):
                    missing.append(f"{module}.{name}")
    assert not missing, missing
