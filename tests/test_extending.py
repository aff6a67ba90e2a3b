"""The recipes of docs/extending.md, followed as a newcomer would: each extension is one class, entry or file
(plus a params variant), and then works in training, costs, the registries' tests and the report."""
import json
import os
import shutil
from pathlib import Path

import nbformat
import torch
import torchvision
from pytorch_metric_learning import losses

from conftest import model_config
from test_registries import check_aggregator
from vpr_lib.config import load_params, run_configs
from vpr_lib.models import VPRModel
from vpr_lib.models.aggregators import AGGREGATORS
from vpr_lib.models.backbones import BACKBONES, BackboneSpec
from vpr_lib.models.backbones import register as register_backbone
from vpr_lib.models.costs import variant_costs
from vpr_lib.results import save_figure
from vpr_lib.train.samplers import SAMPLERS, Sampling
from vpr_lib.train.losses import LOSSES
from vpr_lib.train.optim import SCHEDULERS
from vpr_lib.train.run import train
from vpr_lib.viz.curves import plot_epoch_curves

ROOT = Path(__file__).resolve().parents[1]


TOY_AGGREGATOR = '''"""Max pooling + Linear: a toy aggregator, the whole of it in this one file."""
from torch import nn

from vpr_lib.models.aggregators import Aggregator, register


@register("toy_max")
class ToyMax(Aggregator):
    def __init__(self, in_shape, out_dim: int = 16):
        super().__init__(in_shape)
        self.fc, self.out_dim = nn.Linear(in_shape[0], out_dim), out_dim

    def forward(self, x):
        return self.fc(x.amax(dim=(2, 3)))
'''


def test_a_new_aggregator_loss_sampler_and_scheduler_are_one_class_or_entry_each(synth_smoke, results_tmp,
                                                                                 monkeypatch):
    """The recipes for an aggregator (one registered class), a loss, a sampler and a scheduler (one entry each),
    then a params variant that uses them all; one run trains with it."""
    exec(TOY_AGGREGATOR, {})  # the aggregator's one file, as the template test writes it: registers toy_max

    monkeypatch.setitem(LOSSES, "toy_margin", losses.MarginLoss)
    used = []
    class ToyPlaces(Sampling):
        """P random places x K images, as pk, saying that it was used."""
        def loader(self, dm):
            used.append("sampler")
            return super().loader(dm)

    monkeypatch.setitem(SAMPLERS, "toy_places", ToyPlaces())
    monkeypatch.setitem(SCHEDULERS, "toy_constant", (lambda optimizer, kwargs: used.append("scheduler") or {
        "scheduler": torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0), "interval": "epoch"}, lambda epochs: {}))
    try:
        check_aggregator("toy_max")  # what the registries' tests check for every aggregator
        variant = {"aggregator": "toy_max", "aggregator_kwargs": {"out_dim": 16}, "loss": "toy_margin",
                   "loss_kwargs": {}, "sampler": "toy_places", "scheduler": "toy_constant"}
        config = run_configs(load_params("01_baseline", "smoke", {"data_root": str(synth_smoke), **variant}))[0]
        metrics = json.loads((train(config, progress=False) / "metrics.json").read_text())
        assert set(metrics["test"]) == {"SF-XS val", "SF-XS test", "Tokyo-XS"} and set(used) == {"sampler", "scheduler"}
        assert variant_costs([config]).loc["starter", "descriptor dim"] == 16
    finally:
        AGGREGATORS.pop("toy_max")


def test_a_new_backbone_is_one_registered_spec(monkeypatch):
    """The backbone recipe: build, weights enum and named stages; channels and map sizes are computed."""
    def stages(m):
        return {"conv1": [m.conv1, m.bn1, m.relu, m.maxpool], "layer1": [m.layer1], "layer2": [m.layer2],
                "layer3": [m.layer3]}

    monkeypatch.setitem(BACKBONES, "toy_resnet18", None)  # restored after the test
    register_backbone("toy_resnet18", BackboneSpec(lambda: torchvision.models.resnet18(weights=None),
                                                   torchvision.models.ResNet18_Weights.IMAGENET1K_V1, stages))
    model = VPRModel.from_config(model_config(backbone="toy_resnet18", image_size=[64, 64], last_stage="layer3",
                                              frozen_stages=2))
    assert model.feature_shape == (256, 4, 4) and model(torch.randn(2, 3, 64, 64)).shape == (2, 512)


def test_a_new_notebook_is_the_notebook_its_params_and_a_section(synth_smoke, results_tmp, tmp_path, monkeypatch):
    """The notebook recipe: notebooks/14_toy.ipynb, params/14_toy.yaml (with its `report:` block) and
    report/sections/14_toy.tex; the runner, the plan and the report find it with no other file edited."""
    root = tmp_path / "kit"
    for folder in ("notebooks", "params", "report", "docs"):
        shutil.copytree(ROOT / folder, root / folder, ignore=shutil.ignore_patterns("generated", "main.*"))
    nb = nbformat.read(ROOT / "notebooks" / "02_gem.ipynb", as_version=4)
    for cell in nb.cells:
        cell.source = cell.source.replace("02_gem", "14_toy")
    nbformat.write(nb, root / "notebooks" / "14_toy.ipynb")
    (root / "params" / "14_toy.yaml").write_text(
        "extends: train\ndefaults: {seeds: [0]}\nprofiles: {smoke: {variants: all}}\n"
        "variants:\n  avg: {}\n  gem: {aggregator: gem, aggregator_kwargs: {out_dim: 512}}\n"
        "report: {title: A toy comparison, compares: average pooling vs GeM}\n")
    (root / "report" / "sections" / "14_toy.tex").write_text("Why this comparison (authored, no numbers).\n")
    monkeypatch.setenv("VPR_ROOT", str(root))
    from vpr_lib.config import notebook_runs
    from vpr_lib.experiments import run_experiment
    from vpr_lib.report.build import generate, report_steps
    assert report_steps()[-1][0] == "14_toy" and len(notebook_runs("14_toy", "smoke")) == 2
    exp = run_experiment("14_toy", "smoke", str(synth_smoke), progress=False)
    save_figure(plot_epoch_curves(exp.epochs), "14_toy_val_curves")  # as the notebook does
    text = (generate(report=root / "report") / "experiments.tex").read_text()
    # a notebook no step of the brief names (vpr_lib.brief.STEPS) comes after the steps
    assert text.index(r"\subsection{Beyond the brief's steps}") < text.index(r"\subsubsection{A toy comparison}")
    assert r"\input{sections/14_toy}" in text
    assert r"\input{generated/tables/14_toy}" in text


def test_the_template_notebook_with_a_toy_aggregator_passes_the_notebook_and_registry_tests(tmp_path):
    """Issue 32: copy templates/ under a new name, add an aggregator as one file and a params variant that uses it;
    the kit's own notebook, prose and registry tests pass on the copy with no other file edited."""
    import subprocess
    import sys

    kit = tmp_path / "kit"
    skip = shutil.ignore_patterns("__pycache__", "generated", "main.pdf", ".build", "executed", "runs", "*.ipynb_checkpoints")
    for folder in ("vpr_lib", "tests", "notebooks", "params", "report", "scripts", "templates", "docs"):
        shutil.copytree(ROOT / folder, kit / folder, ignore=skip)
    shutil.copy(ROOT / "pyproject.toml", kit)
    name = "15_toy"
    (kit / "notebooks" / f"{name}.ipynb").write_text((ROOT / "templates" / "NN_name.ipynb").read_text().replace("NN_name", name))
    params = (ROOT / "templates" / "NN_name.yaml").read_text().replace("NN_name", name)
    (kit / "params" / f"{name}.yaml").write_text(params.replace(
        "variants:\n", "variants:\n  toy_max: {aggregator: toy_max, aggregator_kwargs: {out_dim: 16}}\n", 1))
    (kit / "vpr_lib" / "models" / "aggregators" / "toy_max.py").write_text(TOY_AGGREGATOR)
    env = {k: v for k, v in os.environ.items() if not k.startswith("VPR_")}
    env["PYTHONPATH"] = str(kit)  # the copy's vpr_lib, not the installed one
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", "tests/test_notebooks.py",
         "tests/test_registries.py", "tests/test_authored_prose.py", "-k",
         f"{name} or toy_max or authored_prose_states"], cwd=kit, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    passed = {line.split(" ", 1)[1] for line in done.stdout.splitlines() if line.startswith("PASSED ")}
    expected = {f"tests/test_notebooks.py::{test}[{name}]" for test in (
        "test_committed_notebooks_are_clean_and_parameterised", "test_study_notebooks_run_on_smoke_data",
        "test_every_notebook_declares_the_same_parameters_and_resolves_them_once",
        "test_study_notebooks_take_variants_and_seeds_from_their_parameters")}
    expected.add("tests/test_authored_prose.py::test_authored_prose_states_no_direction_of_the_results")
    assert expected <= passed, sorted(expected - passed)
    assert any("test_registries.py" in test and "toy_max" in test for test in passed), sorted(passed)
