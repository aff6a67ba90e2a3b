"""A run's recalls before training (epoch 0) on its test sets, the baseline each trained result is read against.

train() evaluates its initial model on the test sets right after the epoch-0 validation and keeps the recalls
with the run.  A run that has none (resumed from a checkpoint, whose initial weights are gone) gets
them from a rebuild of its initial model, as train() builds it: the same seed, then the data module, the module and the
k-means initialisation of NetVLAD-like heads, in the same order, so it draws the same random numbers.  Its
SF-XS val recall must equal the run's recorded epoch 0 (its epochs) before its test recalls are kept; a rebuild that does not match stops instead of writing a wrong baseline."""
from __future__ import annotations

from pathlib import Path

import lightning as L
import torch

from vpr_lib.data.layout import SET_LABELS
from vpr_lib.data.roots import resolve_data_root
from vpr_lib.errors import VPRInputError
from vpr_lib.models.cache import cache_applies
from vpr_lib.runs import Run
from vpr_lib.train.checkpoints import evaluate_module
from vpr_lib.train.data import VPRDataModule, init_clusters_from_data
from vpr_lib.train.module import VPRModule

TOLERANCE = 1e-3  # a run's epochs keep recalls to 3 decimals


def initial_module(config: dict, root: Path) -> VPRModule:
    """The run's model at epoch 0, rebuilt in train()'s order (seed, data, module, optimizers, k-means)."""
    L.seed_everything(config["seed"], workers=True, verbose=False)
    data = VPRDataModule(config, root)
    module = VPRModule(config, data.num_classes)
    module.configure_optimizers()
    if cache_applies(config):
        data.use_prefix_cache(module.model.backbone)
    init_clusters_from_data(module, data.train_set, config["seed"])
    return module.eval()


def test_recalls(module: VPRModule, config: dict, root: Path) -> dict:
    """{test set name: {R@N: recall}} of `module` as it is, on the device it is on; the caller's random state and
    the module's train/eval mode are left as they were (training that follows draws the same numbers)."""
    was_training, device = module.training, next(module.parameters()).device
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        recalls = {SET_LABELS.get(rel, rel): evaluate_module(module, root / rel, device=device)[1]["recalls"]
                   for rel in config["test_sets"]}
    module.train(was_training)
    return recalls


def initial_recalls(config: dict, run: Run) -> dict:
    """{test set name: {R@N: recall}} of a complete run's initial model, as recorded or computed once."""
    recorded = run.epoch0()
    if recorded is not None:
        return recorded
    root = resolve_data_root(config["data_root"], config["profile"])
    with torch.random.fork_rng():  # a caller's random state is left as it was
        recalls = test_recalls(initial_module(config, root), config, root)
    recorded = run.epochs().set_index("epoch").loc[0]
    val = recalls.get(SET_LABELS.get(config["val_set"], config["val_set"]))
    if val is not None and any(abs(val[k] - recorded[k]) > TOLERANCE for k in val if k in recorded):
        raise VPRInputError(f"The rebuilt initial model of {run.id} gives SF-XS val {val} at epoch 0, not "
                            f"the recorded {recorded.to_dict()}: its epoch-0 test recalls are not written.")
    run.write_epoch0(recalls)
    return recalls
