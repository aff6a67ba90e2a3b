"""The training engine on SynthCity smoke: runs, reuse, resume after a kill, DDP, factories."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from vpr_lib.config import PROFILES, load_params, run_configs, trains
from vpr_lib.errors import VPRInputError
from vpr_lib.train.losses import build_loss, build_miner
from vpr_lib.train.optim import build_optimizer, build_scheduler

ROOT = Path(__file__).resolve().parents[1]


def smoke_config(data_root, **changes):
    params = load_params("01_baseline", "smoke", {"data_root": str(data_root), **changes})
    return run_configs(params)[0]


def cli(results, *args, **kw):
    env = dict(os.environ, VPR_RESULTS=str(results), PYTHONWARNINGS="ignore")
    return subprocess.Popen([sys.executable, "-m", "vpr_lib.train", "--params", "params/01_baseline.yaml",
                             "--profile", "smoke", "--no-progress", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


@pytest.mark.parametrize("factory,name", [(build_loss, "contrastiv"), (build_miner, "hardest"),
                                          (lambda n: build_optimizer(n, []), "lamb"),
                                          (lambda n: build_scheduler(n, None), "onecycle")])
def test_factories_reject_unknown_names_and_list_valid_ones(factory, name):
    with pytest.raises(VPRInputError, match=rf"Unknown \w+ '{name}'; expected one of \["):
        factory(name)


def test_unknown_name_in_params_stops_before_training(synth_smoke, results_tmp):
    from vpr_lib.train.run import train
    with pytest.raises(VPRInputError, match=r"Unknown loss 'tripletmargin'.*'triplet'"):
        train(smoke_config(synth_smoke, loss="tripletmargin"))
    assert not (results_tmp / "runs").exists()


def test_every_factory_name_of_the_params_files_resolves():
    """Every variant of every params file, in every profile, builds its model, loss, miner, optimizer and
    scheduler with its kwargs."""
    import torch

    from vpr_lib.models import VPRModel
    from vpr_lib.train.checks import validate
    built = set()
    for path in sorted((ROOT / "params").glob("[0-9][0-9]_*.yaml")):
        for profile in PROFILES:
            params = load_params(path, profile)
            if not trains(params):
                continue
            for c in run_configs(params):
                validate(c)
                key = json.dumps({k: c[k] for k in ("backbone", "image_size", "last_stage", "frozen_stages",
                                                    "aggregator", "aggregator_kwargs",
                                                    "loss", "loss_kwargs", "miner", "miner_kwargs", "optimizer",
                                                    "optimizer_kwargs", "scheduler", "scheduler_kwargs")}, sort_keys=True)
                if key in built:
                    continue
                built.add(key)
                model = VPRModel.from_config(c, pretrained="none")
                build_loss(c["loss"], c["loss_kwargs"], num_classes=10, embedding_size=model.descriptor_dim)
                build_miner(c["miner"], c["miner_kwargs"])
                optimizer = build_optimizer(c["optimizer"], model.parameters(), c["optimizer_kwargs"])
                build_scheduler(c["scheduler"], optimizer, c["scheduler_kwargs"], c["epochs"])
                assert model(torch.zeros(2, 3, *c["image_size"])).shape == (2, model.descriptor_dim)
    assert len(built) > 30


def test_a_run_trains_evaluates_and_is_then_reused(synth_smoke, results_tmp, monkeypatch, capsys):
    from vpr_lib.train import run
    config = smoke_config(synth_smoke)
    run_dir = run.train(config, progress=False)
    assert run_dir.parent == results_tmp / "runs"
    epochs = pd.read_csv(run_dir / "epochs.csv")
    assert epochs.epoch.tolist() == [0, 1, 2] and epochs["R@1"].notna().all()  # epoch 0 = untrained
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert set(metrics["test"]) == {"SF-XS val", "SF-XS test", "Tokyo-XS"}
    for name in ("params.yaml", "env.json", "checkpoints/best.ckpt", "predictions/sf_xs_test.npz"):
        assert (run_dir / name).is_file(), name
    assert not (run_dir / "checkpoints/last.ckpt").exists()  # only needed to resume: removed once complete
    assert json.loads((run_dir / "env.json").read_text())["packages"]["torch"]
    # course step 3: the saved weights evaluated on another set without training
    from vpr_lib.evaluate.__main__ import main as evaluate_main
    assert evaluate_main(["--checkpoint", str(run_dir / "checkpoints/best.ckpt"),
                          "--dataset", str(synth_smoke / "tokyo_xs/test")]) == 0
    printed = capsys.readouterr().out
    assert f"R@1: {metrics['test']['Tokyo-XS']['R@1']:.1f}" in printed
    # a completed run is reused: no trainer is even built
    monkeypatch.setattr(run, "_trainer", lambda *a, **k: pytest.fail("retrained a completed run"))
    assert run.train(config, progress=False) == run_dir


def test_same_seed_same_metrics_on_cpu(synth_smoke, tmp_path, monkeypatch):
    from vpr_lib.train.run import train
    config = smoke_config(synth_smoke)
    tables = []
    for name in ("a", "b"):
        monkeypatch.setenv("VPR_RESULTS", str(tmp_path / name))
        tables.append(pd.read_csv(train(config, progress=False) / "epochs.csv").drop(columns="train_s"))  # seconds
    pd.testing.assert_frame_equal(tables[0], tables[1])


def test_ddp_with_two_cpu_processes(synth_smoke, tmp_path):
    proc = cli(tmp_path, "--set", f"data_root={synth_smoke}", "--set", "devices=2", "--set", "strategy=ddp",
               "--set", "accelerator=cpu", "--set", "epochs=1")
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    run_dir = Path(out.strip().splitlines()[-1])
    assert "devices: 2" in (run_dir / "params.yaml").read_text()
    assert "MEMBER: 2/2" in err  # Lightning's line for the second of two processes joining the process group
    epochs = pd.read_csv(run_dir / "epochs.csv")
    assert epochs.epoch.tolist() == [0, 1] and epochs["R@1"].notna().all()
    assert json.loads((run_dir / "metrics.json").read_text())["test"]["Tokyo-XS"]["R@1"] >= 0


def test_schedulers_by_name():
    import torch
    optimizer = build_optimizer("sgd", [torch.nn.Parameter(torch.zeros(1))], {"lr": 0.1})
    plateau = build_scheduler("plateau", optimizer, {"patience": 1}, epochs=5)
    assert plateau["monitor"] == "val/R@1" and plateau["scheduler"].mode == "max"
    cosine = build_scheduler("cosine", optimizer, {}, epochs=5)["scheduler"]
    assert cosine.T_max == 5
    assert build_scheduler("none", optimizer) is None
    with pytest.raises(VPRInputError, match="Bad scheduler_kwargs for 'multistep'"):
        build_scheduler("multistep", optimizer, {"milestone": [2]})


def test_the_resolved_scheduler_arguments_are_the_ones_it_is_built_with():
    import torch

    from vpr_lib.train.optim import lr_ends_at_zero, scheduler_kwargs
    optimizer = build_optimizer("sgd", [torch.nn.Parameter(torch.zeros(1))], {"lr": 0.1})
    assert scheduler_kwargs("cosine", {}, 4) == {"T_max": 4} and scheduler_kwargs("none", None, 4) == {}
    assert scheduler_kwargs("multistep", {"gamma": 0.5}, 6) == {"milestones": [3], "gamma": 0.5}
    assert build_scheduler("multistep", optimizer, {"gamma": 0.5}, epochs=6)["scheduler"].milestones == {3: 1}
    assert lr_ends_at_zero("cosine", {}, 4) and not lr_ends_at_zero("cosine", {"eta_min": 1e-6}, 4)
    assert not lr_ends_at_zero("cosine", {"T_max": 8}, 4) and not lr_ends_at_zero("plateau", {}, 4)
    with pytest.raises(VPRInputError, match="Unknown scheduler 'onecycle'"):
        scheduler_kwargs("onecycle", {}, 4)


def test_linear_warmup_scales_the_learning_rate(synth_smoke, results_tmp):
    from vpr_lib.train.run import train
    # warm-up over both epochs: at the end of epoch 1 the step is half-way, so the lr is half the target
    run_dir = train(smoke_config(synth_smoke, warmup_epochs=2), progress=False)
    lr = pd.read_csv(run_dir / "epochs.csv").set_index("epoch")["lr"]
    assert lr[1] == pytest.approx(0.0005, rel=0.05)
    assert lr[2] == pytest.approx(0.001)


def test_a_checkpoint_from_before_the_backbone_key_still_loads(tmp_path):
    """Checkpoints written before `backbone` and `prefix_cache` existed load with those keys' defaults
    (ResNet-18, as those runs used), e.g. for `python -m vpr_lib.evaluate --checkpoint`."""
    import torch

    from vpr_lib.train.module import VPRModule
    from vpr_lib.train.checkpoints import load_module
    config = run_configs(load_params("01_baseline", "smoke"))[0]
    module = VPRModule(config, num_classes=5)
    old = {k: v for k, v in config.items() if k not in ("backbone", "prefix_cache")}
    torch.save({"hyper_parameters": {"config": old, "num_classes": 5}, "state_dict": module.state_dict()},
               tmp_path / "old.ckpt")
    loaded = load_module(tmp_path / "old.ckpt")
    assert loaded.model.backbone.name == "resnet18"
    x = torch.zeros(2, 3, *config["image_size"])
    assert torch.equal(loaded(x), module.eval()(x))


def test_epoch0_test_recalls_come_from_the_rebuilt_initial_model_checked_against_the_recorded_epoch0(
        synth_smoke, results_tmp):
    """The initial model is rebuilt as train() builds it: its SF-XS val R@1 equals the run's epoch 0 in epochs.csv,
    so its test recalls are kept; a rebuild that does not match the record stops without writing."""
    import pandas as pd

    from vpr_lib.runs import Run
    from vpr_lib.train.initial import initial_recalls
    from vpr_lib.train.run import train
    for aggregator in ("avg", "netvlad"):  # NetVLAD: k-means from the data before epoch 0
        config = smoke_config(synth_smoke, aggregator=aggregator, aggregator_kwargs={"clusters": 4} if
                              aggregator == "netvlad" else {"out_dim": 512})
        run_dir = train(config, progress=False)
        recalls = initial_recalls(config, Run.at(run_dir))
        recorded = pd.read_csv(run_dir / "epochs.csv").set_index("epoch").loc[0]
        assert set(recalls) == {"SF-XS val", "SF-XS test", "Tokyo-XS"}
        assert recalls["SF-XS val"]["R@1"] == pytest.approx(recorded["R@1"], abs=1e-3)
        assert (run_dir / "epoch0.json").is_file()
    (run_dir / "epoch0.json").unlink()
    epochs = pd.read_csv(run_dir / "epochs.csv")
    epochs.loc[epochs.epoch == 0, "R@1"] += 5
    epochs.to_csv(run_dir / "epochs.csv", index=False)
    with pytest.raises(VPRInputError, match="rebuilt initial model .* not the recorded"):
        initial_recalls(config, Run.at(run_dir))
    assert not (run_dir / "epoch0.json").exists()


def test_a_run_writes_tensorboard_events_of_its_epochs(synth_smoke, results_tmp):
    """Issue 33, item 3: losses, val recall per epoch and the learning rate, in <run>/tensorboard/."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from vpr_lib.train.run import train
    config = run_configs(load_params("01_baseline", "smoke", {"data_root": str(synth_smoke)}))[0]
    run_dir = train(config, progress=False)
    events = EventAccumulator(str(run_dir / "tensorboard"))
    events.Reload()
    scalars = events.Tags()["scalars"]
    assert {"train/loss", "val/R@1"} <= set(scalars) and any(tag.startswith("lr-") for tag in scalars)
    epochs = pd.read_csv(run_dir / "epochs.csv")
    losses = [event.value for event in events.Scalars("train/loss")]
    assert losses == pytest.approx(epochs[epochs.epoch > 0].train_loss.tolist(), abs=1e-4)
    assert len(events.Scalars("val/R@1")) == len(epochs)  # epoch 0 (before training) and every epoch


def test_vicreg_pairs_the_views_of_each_label_and_refuses_a_miner(synth_smoke, results_tmp):
    """Issue 33, item 2: VICReg on 13's views, without labels; it pairs views, so it takes no miner."""
    import torch

    from vpr_lib.train.losses import build_loss
    from vpr_lib.train.run import train
    loss = build_loss("vicreg", {})
    torch.manual_seed(0)
    views = torch.randn(6, 1, 16).repeat(1, 4, 1).flatten(0, 1)  # 6 images x 4 identical views
    labels = torch.arange(6).repeat_interleave(4)
    shuffled = torch.randperm(len(labels))
    assert loss(views[shuffled], labels[shuffled]) == pytest.approx(loss(views, labels).item())  # grouped by label
    noisy = views + torch.randn_like(views)
    assert loss(noisy, labels) > loss(views, labels)  # the invariance term sees views that differ
    with pytest.raises(VPRInputError, match="needs the same K >= 2 per label"):
        loss(views[:5], labels[:5])
    configs = run_configs(load_params("13_self_supervised", "smoke", {"data_root": str(synth_smoke)}))
    config = dict(configs[1], loss="vicreg", loss_kwargs={}, variant="self_supervised_vicreg")
    with pytest.raises(VPRInputError, match="loss 'vicreg' .*takes miner none"):
        train(dict(config, miner="multisimilarity"), progress=False)
    assert (train(config, progress=False) / "metrics.json").is_file()
