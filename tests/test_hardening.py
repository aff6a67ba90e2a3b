"""Hardening (issue 8): resume after kills gives the uninterrupted numbers, concurrent processes share a run,
and bad input stops with one clear message before anything is written to results/."""
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from vpr_lib.config import load_params, run_configs
from vpr_lib.errors import VPRInputError

ROOT = Path(__file__).resolve().parents[1]


def cli(results, *args):
    env = dict(os.environ, VPR_RESULTS=str(results), PYTHONWARNINGS="ignore")
    return subprocess.Popen([sys.executable, "-m", "vpr_lib.train", "--params", "params/01_baseline.yaml",
                             "--profile", "smoke", "--no-progress", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finished(proc, timeout=300) -> str:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-2000:]
    return out


def check_no_torn_files(run_dir: Path) -> None:
    """Every visible file of a run folder parses (temporary files are hidden, '.name.xxx.tmp')."""
    for path in run_dir.rglob("*"):
        if path.name.startswith(".") or not path.is_file():
            continue
        if path.suffix == ".csv":
            pd.read_csv(path)
        elif path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix == ".yaml":
            yaml.safe_load(path.read_text())


def test_kills_at_random_points_then_resume_give_the_uninterrupted_metrics(synth_smoke, tmp_path):
    args = ("--set", f"data_root={synth_smoke}", "--set", "epochs=4")
    reference = Path(finished(cli(tmp_path / "uninterrupted", *args)).strip().splitlines()[-1])
    rng = random.Random(0)
    results = tmp_path / "killed"
    def checkpoint_time():
        found = list(results.glob("runs/*/checkpoints/last.ckpt"))
        return found[0].stat().st_mtime_ns if found else None

    for attempt in range(3):  # each attempt killed at a random moment after it wrote a new checkpoint
        before = checkpoint_time()
        proc = cli(results, *args)
        deadline = time.time() + 120
        while checkpoint_time() == before and proc.poll() is None and time.time() < deadline:
            time.sleep(0.02)
        time.sleep(rng.uniform(0, 1.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        for run_dir in results.glob("runs/*"):
            check_no_torn_files(run_dir)
    run_dir = Path(finished(cli(results, *args)).strip().splitlines()[-1])
    assert run_dir.name == reference.name
    expected = json.loads((reference / "metrics.json").read_text())
    got = json.loads((run_dir / "metrics.json").read_text())
    assert got["test"] == expected["test"] and got["best_epoch"] == expected["best_epoch"]
    columns = ["epoch", "train_loss", "R@1", "R@5"]
    pd.testing.assert_frame_equal(pd.read_csv(run_dir / "epochs.csv")[columns],
                                  pd.read_csv(reference / "epochs.csv")[columns])
    check_no_torn_files(run_dir)


def test_two_processes_asking_for_the_same_run_train_it_once(synth_smoke, tmp_path):
    args = ("--set", f"data_root={synth_smoke}")
    first, second = cli(tmp_path, *args), cli(tmp_path, *args)
    outputs = [finished(first), finished(second)]
    run_dirs = {out.strip().splitlines()[-1] for out in outputs}
    assert len(run_dirs) == 1 and len(list((tmp_path / "runs").iterdir())) == 1
    run_dir = Path(run_dirs.pop())
    epochs = pd.read_csv(run_dir / "epochs.csv")
    assert epochs.epoch.tolist() == [0, 1, 2]  # one training, not two interleaved
    check_no_torn_files(run_dir)


def smoke_config(data_root, **changes):
    return run_configs(load_params("01_baseline", "smoke", {"data_root": str(data_root), **changes}))[0]


@pytest.mark.parametrize("changes,message", [
    ({"epochs": "three"}, r"Parameter epochs .*must be int or float, got 'three' \(str\)"),
    ({"image_size": 32}, r"Parameter image_size .*must be list, got 32"),
    ({"normalize": "yes"}, r"Parameter normalize .*must be bool"),
    ({"places_per_batch": 10_000}, r"places_per_batch=10000 but the training set .* has only \d+ places"),
    ({"aggregator": "netvald"}, r"Unknown aggregator 'netvald'.*'netvlad'"),
    ({"sampler": "random"}, r"Unknown sampler 'random'.*'pk'"),
    ({"image_size": [32]}, r"image_size .*must be \[height, width\] \(two positive ints\), got \[32\]"),
    ({"seeds": 5}, r"seeds must be a non-empty list of ints"),
    ({"optimizer_kwargs": {"lr": [0.1, 0.2]}}, r"Bad optimizer_kwargs for 'sgd'"),  # found by building it
    ({"aggregator_kwargs": {"out_dim": [8, 8]}}, r"Bad parameters for aggregator 'avg'"),
    # issue 31, item 8: Lightning reads -1 as "no limit"; 0 failed later with a misleading "Checkpoint not found"
    ({"epochs": -1}, r"Parameter epochs .*must be an integer >= 1, got -1"),
    ({"epochs": 0}, r"Parameter epochs .*must be an integer >= 1, got 0"),
    ({"places_per_batch": 0}, r"Parameter places_per_batch .*must be an integer >= 2, got 0"),
    ({"places_per_batch": -3}, r"Parameter places_per_batch .*must be an integer >= 2, got -3"),
    ({"img_per_place": 0}, r"Parameter img_per_place .*must be an integer >= 1, got 0"),
    ({"img_per_place": 1}, r"img_per_place .*must be >= 2 with the pair loss 'contrastive'"),
    ({"warmup_epochs": -1}, r"Parameter warmup_epochs .*must be an integer >= 0, got -1"),
    ({"limit_train_batches": 1.5}, r"limit_train_batches .*must be a fraction in \(0, 1\] or a whole number"),
])
def test_bad_parameters_stop_with_a_message_and_write_nothing(synth_smoke, results_tmp, changes, message):
    from vpr_lib.train.run import train
    with pytest.raises(VPRInputError, match=message):
        train(smoke_config(synth_smoke, **changes), progress=False)
    assert not (results_tmp / "runs").exists() or not any((results_tmp / "runs").iterdir())


def test_a_corrupt_test_image_stops_the_run_before_it_trains(synth_smoke, tmp_path, results_tmp):
    """Every image a run will read (train, val and test sets) is decoded before the run folder is made."""
    import shutil
    from vpr_lib.train.run import train
    root = tmp_path / "data"
    shutil.copytree(synth_smoke, root)
    (root / "manifest.json").unlink()  # now any data root, identified by its files
    victim = sorted((root / "tokyo_xs/test/database").iterdir())[3]
    victim.write_bytes(victim.read_bytes()[:200])  # truncated JPEG
    with pytest.raises(VPRInputError, match=rf"Cannot read image .*{victim.name}: corrupt or truncated"):
        train(smoke_config(root), progress=False)
    assert not (results_tmp / "runs").exists() or not any((results_tmp / "runs").iterdir())


def test_a_resumed_run_counts_the_seconds_of_every_process(synth_smoke, results_tmp):
    """train_seconds sums the processes that trained a run: the Stopwatch's time is kept in the checkpoints."""
    import torch
    from vpr_lib.train.run import Stopwatch, train
    run_dir = train(smoke_config(synth_smoke), progress=False)
    saved = torch.load(run_dir / "checkpoints/best.ckpt", weights_only=False)["callbacks"]["Stopwatch"]
    assert saved["seconds"] > 0
    resumed = Stopwatch()
    resumed.load_state_dict({"seconds": 100.0})
    assert resumed.seconds >= 100.0


def test_missing_data_root_names_the_folder(tmp_path, results_tmp):
    from vpr_lib.train.run import train
    with pytest.raises(VPRInputError, match=r"data_root .*nowhere does not exist: expected a folder holding gsv_xs/"):
        train(smoke_config(tmp_path / "nowhere"), progress=False)
    assert not (results_tmp / "runs").exists()


def test_unwritable_results_folder_is_named(synth_smoke, tmp_path, monkeypatch):
    from vpr_lib.train.run import train
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("VPR_RESULTS", str(blocker / "results"))
    with pytest.raises(VPRInputError, match=r"Cannot write in the results folder .*a_file/results/runs"):
        train(smoke_config(synth_smoke), progress=False)


def test_checkpoint_of_another_architecture_is_refused(synth_smoke, results_tmp):
    from vpr_lib.train.run import train
    run_dir = train(smoke_config(synth_smoke), progress=False)  # cut after layer3
    with pytest.raises(VPRInputError, match=r"has no weights for \['layer4'\].*cut after layer4"):
        train(smoke_config(synth_smoke, last_stage="layer4", pretrained=str(run_dir / "checkpoints/best.ckpt")),
              progress=False)


def test_a_failed_write_leaves_the_previous_table_whole(results_tmp, monkeypatch):
    """A full disk may fail a write, but never leaves a half-written table (temporary file, then rename)."""
    import errno

    from vpr_lib import results
    table = pd.DataFrame({"variant": ["a", "b"], "R@1": [1.0, 2.0]})
    path = results.save_table(table, "demo_table")
    before = path.read_bytes()

    def disk_full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(results.os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        results.save_table(pd.concat([table] * 1000), "demo_table")
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == ["demo_table.csv"]  # no temporary file left behind


def test_changing_one_parameter_changes_only_the_run_ids_it_affects(synth_smoke):
    """A re-run trains exactly the runs whose id changed: one variant's setting changes that variant's runs,
    a shared setting all of them, a speed-only setting (num_workers, prefix_cache) none."""
    from vpr_lib.train.run import run_id

    def ids(shared=None, **variant_changes):
        params = load_params("04_losses", "study", {"data_root": str(synth_smoke), **(shared or {})})
        for variant, changes in variant_changes.items():
            params["variants"][variant] = {**params["variants"][variant], **changes}
        return {(c["variant"], c["seed"]): run_id(c) for c in run_configs(params)}

    before = ids()
    one_variant = ids(triplet={"loss_kwargs": {"margin": 0.2}})
    changed = {key for key in before if before[key] != one_variant[key]}
    assert changed == {("triplet", seed) for seed in load_params("04_losses", "study")["seeds"]}
    assert ids({"num_workers": 3}) == before and ids({"prefix_cache": False}) == before
    shared = ids({"epochs": 7})
    assert all(shared[key] != before[key] for key in before)


def test_resuming_does_not_warn_that_the_checkpoint_folder_exists():
    """Resuming is the design: Lightning's "Checkpoint directory … exists and is not empty" is silenced."""
    import warnings
    from vpr_lib.train.run import _quiet
    for progress in (True, False):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with _quiet(progress):
                warnings.warn("Checkpoint directory /x/checkpoints exists and is not empty.", UserWarning)
                warnings.warn("another warning", UserWarning)
        assert [str(w.message) for w in caught] == ["another warning"]


def test_a_typo_in_a_params_files_defaults_stops_before_work(tmp_path, synth_smoke, results_tmp):
    """Issue 31, item 4: `defaults: {epoch: 1}` ran with epochs 2 and saved both keys; now it names the key."""
    spec = yaml.safe_load((ROOT / "params/01_baseline.yaml").read_text())
    spec["defaults"] = {**(spec["defaults"] or {}), "epoch": 1}
    path = tmp_path / "01_baseline.yaml"
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(VPRInputError, match=r"Unknown parameter\(s\) \['epoch'\] in .*01_baseline.yaml \(defaults"):
        load_params(path, "smoke")
    env = dict(os.environ, VPR_RESULTS=str(results_tmp), PYTHONWARNINGS="ignore")
    done = subprocess.run([sys.executable, "-m", "vpr_lib.train", "--params", str(path), "--profile", "smoke",
                           "--no-progress", "--set", f"data_root={synth_smoke}"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "Unknown parameter(s) ['epoch']" in done.stderr, done.stderr[-1000:]
    assert not (results_tmp / "runs").exists()


def test_an_unknown_key_in_a_run_config_is_refused(synth_smoke, results_tmp):
    from vpr_lib.train.run import train
    config = dict(smoke_config(synth_smoke), epoch=1)  # a config built by hand, not from a params file
    with pytest.raises(VPRInputError, match=r"Unknown parameter\(s\) \['epoch'\]"):
        train(config, progress=False)
